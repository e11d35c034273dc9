package dashboard

// RateDefinitionsByLang are the written definitions of the audits (docs/GOVERNANCE.md), each
// wholly in one language: "zh" for the Chinese page, "en" for the English one. The keys are
// those of RateDefinitions.
var RateDefinitionsByLang = map[string]map[string]string{
	"zh": {
		"response":     "响应率 = 派单后在响应时限内由承办部门签收的工单 ÷ 派单工单。北京接诉即办以按时联系群众计；工单契约没有联系环节，故以签收作为响应。",
		"resolution":   "解决率 = 已办结且其后未重启的工单 ÷ 派单工单。北京以回访时群众认定“已解决”为准；此处回访只含满意度，故以重启撤销办结。",
		"satisfaction": "满意率 = 回访“满意”或“基本满意”结案的工单 ÷ 有回访结果的结案工单；未回访的不计入分母。",
		"on_time":      "按期率 = 在末次派单时限内办结的工单 ÷ 有时限的已办结工单。派单无时限的工单计入其他各项，仅不计入按期率（各单位“无时限”件数）。",
		"close_time":   "办结时长：首次上报至最后一次结案，仅计已结案工单，取最近秩 p50 与 p90。",
		"counting":     "工单计入其首次上报所在的统计期；按区域统计时计入上报所在区域（该层级无区域的计入“未定位”行，不排名），按部门统计时计入末次派单的部门（无论是否定位）。",
		"repeats":      "重复投诉：与此前重复时段内的工单地点相同（规范化地址相同，或上报点在重复距离内）且类别相同的工单；跨本期与上期关联。",
		"fake_closure": "虚假办结迹象：结案后又重启的工单；回访不满意仍结案的工单。",
		"close_reason": "结案原因：“未解决”计为结案、从不计为解决（在解决率分母中，不计入按期率）；“重复件”“已撤销”与转办后未再派单的“已转办”不参与考核：不计入解决率、满意率、按期率、结案数与办结时长，在响应时限内未签收即结案的也不计入响应率；重启撤销这些结案；转办后再派单的计入新部门；上报前的结案没有办结时长。",
		"reconcile":    "核对：收到（本期首报的工单）= 计入（各排名单位）+ 按原因未计入（按部门：从未派单；按区域：“未定位”行；吹哨考核：未吹哨）；未定位、无承办部门、无时限描述收到的工单；入口拒收的事件另计，为本服务进程启动以来的计数。",
		"previous":     "上期：本期之前同样长度的时段。默认按同龄比较：上期工单只计到“现在减去时段长度”为止的事件，与本期工单此刻经历的时间相同，避免本期在办工单尚未结案而显得解决率偏低；也可选最终口径（上期全部事件）。",
	},
	"en": {
		"response":     "Response rate = cases whose handling department signed within the response window after dispatch ÷ cases dispatched. Beijing's scoring counts contacting the citizen in time; the case contract has no contact step, so signing is the response signal.",
		"resolution":   "Resolution rate = cases resolved and not reopened afterwards ÷ cases dispatched. Beijing uses the citizen's judgment at the callback; the callback here carries satisfaction only, so a reopening undoes a resolution.",
		"satisfaction": "Satisfaction rate = cases closed with a satisfied or basically satisfied callback ÷ cases closed with a callback result; unrated cases are left out.",
		"on_time":      "On-time rate = cases resolved by the deadline of their last dispatch ÷ resolved cases with a deadline. Cases dispatched without a deadline count in every other figure and are left out of this one only (each unit's count without deadline).",
		"close_time":   "Time to close: first report to last closing, closed cases only, nearest-rank p50 and p90.",
		"counting":     "A case counts in the period of its first report; by region for the region of its report (cases with no region at the level counted form the unlocated row, never ranked), by department for the department of its last dispatch (located or not).",
		"repeats":      "Repeat complaints: cases about the same place (the same normalized address, or report points within the repeat distance) and of the same category as an earlier case reported within the repeat window; linked over this and the previous period.",
		"fake_closure": "Fake-closure signs: cases closed and later reopened; cases closed with an unsatisfied callback.",
		"close_reason": "Close reasons: not fixed is a closing, never a resolution (in the resolution denominator, out of the on-time rate); duplicates, cancelled cases and cases transferred away with no dispatch after the transfer are not assessed: out of the resolution, satisfaction and on-time rates, the closed counts and close times, and out of the response rate when closed unsigned within the response window; a reopening undoes such a closing; a dispatch after a transfer counts for its department; a closing timed before the report has no time to close.",
		"reconcile":    "Reconcile: received (cases first reported in the period) = counted (in the ranked units) + excluded by reason (by department: never dispatched; by region: the unlocated row; whistle audit: no whistle blown); unlocated, without department and without deadline describe the received cases; events refused at ingest are counted apart, since the server process started.",
		"previous":     "Previous: the period of the same length just before. Compared at the same age by default: the previous period's cases count their events up to now minus the period's length, the time this period's cases have had so far, so that cases still open now do not make this period look worse; the final basis (every event of the previous period) can be chosen instead.",
	},
}
