package importer

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Presets are the known layouts. Each column may have other header spellings (Mapping.Alt);
// headers are matched exactly, else ignoring case, spaces, "_", "-" and brackets, so NYC's
// Title-Case export ("Unique Key") reads with the snake_case names ("unique_key").
var Presets = map[string]Mapping{
	"zhili": {ID: "case_id", Created: "reported_at", Closed: "closed_at", Resolved: "resolved_at", Dept: "dept",
		Category: "category", Region: "region", Lon: "lon", Lat: "lat", Address: "address", Summary: "summary",
		Due: "deadline", Source: "source", Status: "status", Satisfaction: "satisfaction",
		TZ: mustLoad("Asia/Shanghai"), StatusOf: ZhiliStatus,
		Optional: []string{"status", "satisfaction"}},
	"nyc311": {ID: "unique_key", Created: "created_date", Closed: "closed_date", Dept: "agency",
		Category: "complaint_type", Region: "community_board", Lon: "longitude", Lat: "latitude",
		Address: "incident_address", Due: "due_date", Status: "status", Resolution: "resolution_description",
		Updated: "resolution_action_updated_date",
		TZ:      mustLoad("America/New_York"), RegionOf: NYCCommunityBoard, CategoryOf: NYCCategory, StatusOf: NYCStatus,
		Optional: []string{"closed", "dept", "category", "region", "lon", "lat", "address", "due", "status", "resolution", "updated"}},
	"hotline12345": {ID: "工单编号", Created: "受理时间", Dispatched: "派单时间", Resolved: "办结时间", Closed: "结案时间",
		Dept: "承办单位", Category: "诉求类型", Region: "所属街道", District: "所属区县", Lon: "经度", Lat: "纬度",
		Address: "诉求地址", Summary: "诉求内容", Due: "办理时限", Status: "工单状态", Resolution: "解决情况",
		Satisfaction: "回访满意度", TZ: mustLoad("Asia/Shanghai"), CRS: "gcj02", SourceValue: "hotline12345",
		StatusOf: HotlineStatus, RegionNames: true,
		Alt: map[string][]string{
			"id":           {"工单号", "工单ID", "受理编号", "诉求编号", "案件编号", "编号", "流水号"},
			"created":      {"来电时间", "登记时间", "创建时间", "诉求时间", "来件时间", "接件时间", "受理日期"},
			"dispatched":   {"转办时间", "交办时间", "分派时间"},
			"resolved":     {"办结日期", "处理完成时间", "答复时间", "完成时间"},
			"closed":       {"回访时间", "归档时间", "结案日期", "关闭时间"},
			"dept":         {"承办部门", "承办单位名称", "责任单位", "处置单位", "办理单位", "主办单位"},
			"category":     {"问题分类", "事项分类", "诉求分类", "问题类型", "诉求类别", "业务分类", "类别"},
			"region":       {"街道", "所属乡镇", "乡镇街道", "街道乡镇", "乡镇", "所属街镇"},
			"district":     {"所属区域", "区县", "所属区", "区域"},
			"lon":          {"经度（GCJ-02）", "X坐标", "lng", "lon", "longitude"},
			"lat":          {"纬度（GCJ-02）", "Y坐标", "lat", "latitude"},
			"address":      {"事发地址", "事发地点", "发生地址", "问题地址", "地址"},
			"summary":      {"工单内容", "问题描述", "来电内容", "诉求描述", "诉求详情"},
			"due":          {"办理期限", "处理时限", "办结时限", "截止时间", "承办时限", "要求办结时间"},
			"status":       {"办理状态", "处理状态", "状态"},
			"resolution":   {"是否解决", "解决结果"},
			"satisfaction": {"满意度", "回访结果", "评价结果", "市民评价"},
		},
		Optional: []string{"dispatched", "resolved", "closed", "dept", "category", "region", "district", "lon", "lat",
			"address", "summary", "due", "status", "resolution", "satisfaction"}},
	"open311": {ID: "service_request_id", Created: "requested_datetime", Updated: "updated_datetime",
		Due: "expected_datetime", Dept: "agency_responsible", Category: "service_name", Address: "address",
		Lon: "long", Lat: "lat", Status: "status", Resolution: "status_notes", Summary: "description",
		TZ: time.UTC, StatusOf: Open311Status,
		Alt:      map[string][]string{"category": {"service_code"}},
		Optional: []string{"updated", "due", "dept", "category", "address", "lon", "lat", "status", "resolution", "summary"}},
}

func mustLoad(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

var boroughs = map[string]string{"MANHATTAN": "1", "BRONX": "2", "BROOKLYN": "3", "QUEENS": "4", "STATEN ISLAND": "5"}

// NYCCommunityBoard turns NYC 311's community_board ("12 MANHATTAN") into the borough-prefixed
// community district code ("112"); "Unspecified …" or anything unknown gives "".
func NYCCommunityBoard(s string) string {
	num, boro, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok {
		return ""
	}
	b := boroughs[strings.ToUpper(strings.TrimSpace(boro))]
	n, err := strconv.Atoi(num)
	if b == "" || err != nil || n < 1 || n > 99 {
		return ""
	}
	return fmt.Sprintf("%s%02d", b, n)
}

// NYCCategory maps an NYC 311 complaint type onto the contract's category codes (noise, pests
// and pollution → environment; streets, vehicles, graffiti, sanitation → cityorder; disputes
// between neighbours → dispute; safety hazards → safety; crime → security; housing
// conditions, utilities and consumer services → livelihood). Any other type gives "" (sent as
// unmapped, its wording in category_text).
func NYCCategory(s string) string {
	c := strings.ToLower(s)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(c, w) {
				return true
			}
		}
		return false
	}
	switch {
	case has("noise", "rodent", "air quality", "water quality", "asbestos", "lead", "mold", "smoking", "odor", "pest", "dead animal", "sewer", "industrial waste", "hazardous materials"):
		return "environment"
	case has("drug", "criminal", "assault", "illegal fireworks", "panhandling", "encampment", "police matter"):
		return "security"
	case has("building", "elevator", "gas", "fire", "scaffold", "construction", "hazard", "unsafe", "safety"):
		return "safety"
	case has("neighbor", "dispute", "harass"):
		return "dispute"
	case has("vehicle", "parking", "driveway", "street", "sidewalk", "traffic", "graffiti", "sanitation",
		"dirty", "litter", "snow", "tree", "sign", "highway", "curb", "vendor", "taxi", "bike", "bus stop",
		"dumping", "collection", "disposal", "illegal posting", "obstruction", "outdoor dining"):
		return "cityorder"
	case has("heat", "hot water", "plumbing", "paint", "plaster", "door", "window", "electric", "appliance",
		"flooring", "stairs", "general", "water leak", "unsanitary", "water system", "consumer", "food",
		"school", "maintenance", "housing", "lost property"):
		return "livelihood"
	}
	return ""
}

// NormalizeCategory lowercases s and replaces every run of characters outside [a-z0-9._-]
// with "-".
func NormalizeCategory(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.Trim(b.String(), "-")
}

// Outcome is where a row's status puts its case in the case state machine.
type Outcome string

// Outcomes. Open sends no resolution; Resolved sends case.resolved (办结, awaiting the
// callback); Fixed sends case.resolved and case.closed; NotFixed the same with close_reason
// not_fixed; Duplicate, Transferred and Cancelled send case.closed with that close_reason and
// no case.resolved (the department did not resolve it).
const (
	Open        Outcome = "open"
	Resolved    Outcome = "resolved"
	Fixed       Outcome = "fixed"
	NotFixed    Outcome = "not_fixed"
	Duplicate   Outcome = "duplicate"
	Transferred Outcome = "transferred"
	Cancelled   Outcome = "cancelled"
)

// Outcomes lists every outcome, as accepted in a status map file.
var Outcomes = []Outcome{Open, Resolved, Fixed, NotFixed, Duplicate, Transferred, Cancelled}

// ends reports whether o closes the case.
func (o Outcome) ends() bool { return o != Open && o != Resolved && o != "" }

// closeReason is the close_reason of the case.closed o sends ("" = fixed).
func (o Outcome) closeReason() string {
	switch o {
	case NotFixed, Duplicate, Transferred, Cancelled:
		return string(o)
	}
	return ""
}

// containsAny reports whether s holds any of words (s lowercased by the caller).
func containsAny(s string, words ...string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// closedHow reads a closing's free-text note (NYC's resolution description, Open311's
// status_notes) into the outcome of a closed case.
func closedHow(note string) Outcome {
	n := strings.ToLower(note)
	switch {
	case containsAny(n, "duplicate"):
		return Duplicate
	case containsAny(n, "does not fall under", "jurisdiction", "referred to", "forwarded to", "transferred to",
		"another agency", "other agency", "different agency"):
		return Transferred
	case containsAny(n, "can not be processed", "cannot be processed", "insufficient contact information",
		"cancel", "withdrawn", "withdrew", "invalid request", "test request"):
		return Cancelled
	case containsAny(n, "no evidence of the violation", "no violation", "not necessary", "were gone", "was gone",
		"unable to", "could not", "couldn't", "was not found", "were not found", "no encampment", "not found",
		"unfounded", "not able to"):
		return NotFixed
	}
	return Fixed
}

// NYCStatus maps NYC 311's status and resolution description: Closed is an end read from the
// resolution description (duplicate, not our jurisdiction → transferred, cannot be processed
// → cancelled, no violation / not necessary / gone / unable → not_fixed, else fixed); Open,
// In Progress, Assigned, Pending, Started and Unspecified are open.
func NYCStatus(status, resolution string) (Outcome, bool) {
	switch strings.ToLower(strings.TrimSpace(status)) {
	case "closed":
		return closedHow(resolution), true
	case "open", "in progress", "assigned", "pending", "started", "unspecified", "draft":
		return Open, true
	}
	return "", false
}

// Open311Status maps GeoReport v2's status (open, closed; some servers add acknowledged,
// in_progress, duplicate, cancelled…): closed is an end read from status_notes as for NYC.
func Open311Status(status, notes string) (Outcome, bool) {
	switch strings.ToLower(strings.ReplaceAll(strings.TrimSpace(status), " ", "_")) {
	case "closed", "resolved", "completed", "done", "archived":
		return closedHow(notes), true
	case "open", "acknowledged", "in_progress", "assigned", "new", "submitted", "pending", "reopened":
		return Open, true
	case "duplicate":
		return Duplicate, true
	case "cancelled", "canceled", "rejected", "invalid":
		return Cancelled, true
	case "transferred", "referred", "forwarded":
		return Transferred, true
	}
	return "", false
}

// hotlineStatuses maps 12345 工单状态 values. 已转办/转办/已交办 is the hotline forwarding the
// case to its handling unit (派单), so the case is open; a case sent out of the platform
// (转出, 移交, 转110…) is transferred.
var hotlineStatuses = map[string]Outcome{
	"待受理": Open, "已受理": Open, "受理": Open, "待派单": Open, "已派单": Open, "派单": Open, "已转办": Open,
	"转办": Open, "已交办": Open, "交办": Open, "办理中": Open, "处理中": Open, "待办理": Open, "待处理": Open,
	"已签收": Open, "签收": Open, "退回": Open, "已退回": Open, "退单": Open, "延期": Open, "延期中": Open,
	"挂起": Open, "待审核": Open, "审核中": Open, "催办": Open, "督办": Open, "新建": Open, "草稿": Open,
	"重办": Open, "已重启": Open, "重新办理": Open,
	"待回访": Resolved, "已答复": Resolved, "待评价": Resolved, "已办结待回访": Resolved, "办结待回访": Resolved,
	"已办结": Fixed, "办结": Fixed, "已结案": Fixed, "结案": Fixed, "已完成": Fixed, "完成": Fixed, "已归档": Fixed,
	"归档": Fixed, "已回访": Fixed, "回访完成": Fixed, "已关闭": Fixed, "关闭": Fixed, "已解决": Fixed, "直办办结": Fixed,
	"已评价": Fixed,
	"未解决": NotFixed, "办结未解决": NotFixed, "无法解决": NotFixed, "不能解决": NotFixed, "暂不能解决": NotFixed,
	"重复件": Duplicate, "重复": Duplicate, "重复工单": Duplicate, "重复诉求": Duplicate, "重复来电": Duplicate,
	"已合并": Duplicate, "合并": Duplicate, "并案": Duplicate,
	"已撤销": Cancelled, "撤销": Cancelled, "已撤单": Cancelled, "撤单": Cancelled, "已作废": Cancelled, "作废": Cancelled,
	"无效": Cancelled, "无效工单": Cancelled, "已取消": Cancelled, "取消": Cancelled, "市民撤诉": Cancelled,
	"不予受理": Cancelled,
	"已转出":  Transferred, "转出": Transferred, "已移交": Transferred, "移交": Transferred, "转110": Transferred,
	"转外部门": Transferred, "转其他平台": Transferred, "非本辖区": Transferred, "转外地": Transferred,
}

// HotlineStatus maps a 12345 工单状态 (hotlineStatuses; spaces and a trailing "状态" ignored). A
// resolution (解决情况/是否解决) of 未解决 or 否 turns a normal closing into not_fixed.
func HotlineStatus(status, resolution string) (Outcome, bool) {
	s := strings.TrimSuffix(strings.ReplaceAll(strings.TrimSpace(status), " ", ""), "状态")
	o, ok := hotlineStatuses[s]
	if !ok {
		return "", false
	}
	if o == Fixed {
		switch strings.TrimSpace(resolution) {
		case "未解决", "否", "未办结", "不满意未解决":
			return NotFixed, true
		}
	}
	return o, true
}

// ZhiliStatus reads the zhili layout's status column: the outcome names themselves (open,
// resolved, fixed or closed, not_fixed, duplicate, transferred, cancelled), or a 12345 value.
func ZhiliStatus(status, resolution string) (Outcome, bool) {
	s := strings.ToLower(strings.TrimSpace(status))
	if s == "closed" {
		return Fixed, true
	}
	for _, o := range Outcomes {
		if s == string(o) {
			return o, true
		}
	}
	return HotlineStatus(status, resolution)
}

// satisfactionOf maps a callback result onto the contract's satisfaction; "" when there was
// none (未回访, 无法联系…), ok false for a value it does not know.
func satisfactionOf(s string) (string, bool) {
	v := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	switch v {
	case "satisfied", "满意", "非常满意", "很满意", "十分满意":
		return "satisfied", true
	case "basically", "基本满意", "比较满意", "一般", "较满意":
		return "basically", true
	case "unsatisfied", "不满意", "非常不满意", "很不满意":
		return "unsatisfied", true
	case "", "未回访", "无法联系", "联系不上", "未评价", "拒绝评价", "无", "不需回访", "无需回访", "-", "/":
		return "", true
	}
	return "", false
}
