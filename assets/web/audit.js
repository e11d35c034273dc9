/* Zhili evaluators' audit page (考核审计), served at /audit. A normal desktop page, not a wall
 * screen: the three rates (GET /api/v1/audit/rates), the whistle audit
 * (GET /api/v1/audit/whistles), repeat complaints, and a case's timeline (GET /api/v1/cases/{id}).
 *
 * Page parameters (read at start, and written back to the address bar on every query):
 *   ?token=        viewer token (sent to the REST API, and in the export links)
 *   ?lang=en       start in English (the 中/EN switch also remembers the choice)
 *   ?theme=        light or dark (default: the system's; the switch remembers the choice)
 *   ?from= ?to=    YYYY-MM-DD, cases first reported in [from, to); default the last 30 days
 *   ?by=           dept (default) or region;  ?level= regions' depth for by=region
 *   ?region= ?category= ?min_sample=
 *   ?case=         open this case's timeline
 *   ?stale=        seconds without a message before the socket counts as stale (default 30)
 *
 * Live: one WebSocket (live.js). While the queried period includes the present (its end is after
 * now, by the deployment's clock) the page subscribes to cases:<region> (every event of the
 * region's cases) and re-runs its queries when events arrive: at most once a second, and once more
 * after the history store's write interval so the refreshed tables include the new events. Rows
 * are patched in place; sort order, scroll positions, the chart's rate and the open case stay.
 * A past period subscribes to nothing and says so. The offline banner shows when the socket is
 * down or stale, or a query fails; failed queries are retried, and re-run when the socket is back.
 *
 * For tests the page exposes window.__zhili and sets document.body.dataset.ready = "1" after the
 * first query is rendered (successfully or with its error shown).
 */
(function () {
  'use strict';
  const { clampNum, storageGet, storageSet, $, esc, fmt } = window.Zhili;
  const time = window.Zhili.time;

  const params = new URLSearchParams(location.search);
  const TOKEN = params.get('token') || '';
  // Repeat links shown (the newest; the count says how many in all): the page stays small
  // however many a period has.
  const REPEATS_SHOWN = 200;
  const STALE_MS = clampNum(params.get('stale'), 30, 3, 3600) * 1000;
  const PING_MS = Math.min(20000, STALE_MS / 2);
  const DOWN_GRACE_MS = 2000;
  const BACKOFF_MIN = 1000;
  const BACKOFF_MAX = 30000;
  const REFRESH_MIN_MS = 1000; // at most one refresh a second
  // The history store is written about once a second after the live feed has an event: a
  // refresh this long after the last change sees it.
  const STORE_LAG_MS = 1100;
  // A busy server stores later: a trailing refresh that still shows the figures from before the
  // change is tried again this many times, STORE_LAG_MS apart.
  const STORE_LAG_RETRIES = 5;
  const RETRY_MIN_MS = 2000; // failed queries: retried with backoff up to BACKOFF_MAX

  // ---------------------------------------------------------------- texts
  const TEXT = {
    zh: {
      title: '考核审计 · 三率与吹哨报到', doc_title: '考核审计', theme: '明/暗',
      from: '起', to: '止（不含）', q_today: '今天', q_week: '本周', q_month: '本月', q_lastmonth: '上月', q_30d: '近30天',
      by: '统计单位', by_dept: '部门', by_region: '区域', level: '层级', region: '区域代码', category: '类别',
      min_sample: '最小样本', query: '查询', loading: '加载中…',
      rates_title: '三率考核', chart_title: '各单位比率 · 本期与上期', defs_title: '口径定义',
      whistles_title: '吹哨报到考核', repeats_title: '重复投诉', case_title: '工单时间线',
      sample_note: '排名仅在分母达到最小样本的单位间进行；未达者显示“样本不足”，不参与排名。箭头为与上期（同长度的前一时段）相比的变化（百分点）。点击表头排序，点击单位行查看其工单。',
      no_units: '该时段无工单', no_whistles: '该时段无吹哨', no_repeats: '无重复投诉',
      case: '工单', repeat_of: '重复于', reported: '上报时间', dept: '部门', region_col: '区域',
      case_ph: '输入工单编号', open: '打开',
      case_hint: '点击单位工单或重复投诉中的工单编号，或输入工单编号，查看时间线。',
      period: '统计期 {from} — {to}（上期自 {prev}）', summary_rates: '工单 {n} 件 · 最小样本 {m} · 响应时限 {w}',
      summary_whistles: '吹哨 {n} 次 · 最小样本 {m}', n_repeats: '{n} 件', n_repeats_of: '最近 {n} 件 · 共 {total} 件',
      unit: '单位', cases: '工单', dispatched: '派单', closed: '结案',
      response: '响应率', resolution: '解决率', satisfaction: '满意率', on_time: '按期率',
      close_p50: '办结p50(时)', close_p90: '办结p90(时)', whistle_rate: '吹哨率', repeats: '重复投诉',
      reopened: '结案后重启', unsatisfied: '不满意结案',
      insufficient: '样本不足', prev: '上期', rank: '第{n}名', none: '—',
      band: { low: '偏低', ok: '正常', high: '偏高' },
      w_dept: '部门', w_region: '区域', summoned: '被召唤', stage: { signed: '签收', contacted: '联系', arrived: '到场', resolved: '解决' },
      p50: 'p50', p90: 'p90', ontime_pct: '按时', evaluations: '评哨数', mean_score: '平均分',
      overall_ontime: '总按时率', hours: '小时',
      status: '状态', flags: '标记', steps: '流转步骤', clocks: '派单时限', whistles: '吹哨', evals: '评哨', events: '事件',
      at: '时间', type: '类型', from_to: '状态变化', legal: '合规', illegal: '违规', reason: '原因',
      dispatched_at: '派单', deadline: '时限', ended: '结束', ended_by: '结束方式', late: '超时', overdue: '超时时长', on_time_ok: '按时',
      kind: '哨型', blown: '吹哨', resolved_at: '解决', reached: '到达', light: '灯', left: '剩余',
      score: '分数', by_source: '来源', supersedes: '更正', id: '编号', fields: '内容',
      pii_masked: '个人信息已脱敏', pii_shown: '个人信息可见', returns: '退单 {n} 次', reopens: '重启 {n} 次',
      no_rows: '无', err_prefix: '请求失败',
      live_on: '实时 · 有新事件自动刷新', live_past: '历史时段 · 不自动刷新', live_pending: '连接中…',
      stale: '连接中断 · 数据可能不是最新 · 正在重新连接…', stale_for: '已 {n} 秒无数据', refused: '服务器拒绝了实时订阅',
      rest_fail: '查询失败，数据可能不是最新：', retrying: '稍后自动重试',
      statuses: { reported: '上报', accepted: '受理', dispatched: '派单', signed: '签收', returned: '退单', resolved: '办结', closed: '结案', reopened: '重启', duplicate: '重复件' },
      flag_names: { illegal_transition: '违规流转', returned: '退单', reopened: '重启', closed_unsatisfied: '不满意结案', closed_then_reopened: '结案后重启', overdue: '超时', closed_before_reported: '上报前结案' },
      close_reasons: { not_fixed: '未解决', duplicate: '重复件', transferred: '已转办', cancelled: '已撤销' },
      close_reason: '结案原因', category_text: '原始分类',
      ended_names: { resolved: '办结', returned: '退单', redispatched: '改派', closed: '结案' },
      def_names: { response: '响应率', resolution: '解决率', satisfaction: '满意率', on_time: '按期率', close_time: '办结时长', counting: '计数口径', previous: '上期口径', repeats: '重复投诉', fake_closure: '虚假办结迹象', close_reason: '结案原因', reconcile: '核对' },
      defs_extra: '最小样本 {m} · 响应时限 {w}',
      prev_same_age: '上期按同龄比较：上期工单只计到 {asof} 为止的事件，与本期工单至今经历的时间相同。',
      prev_final: '上期按最终口径：上期工单的全部事件。',
      open_now: '各单位本期尚有 {n} 件工单未结案（在办），各率仍会变化。', open_n: '在办 {n}',
      prev_same_short: '上期（同龄）', prev_final_short: '上期（最终）',
      open_tip: '在办：尚未结案的工单（其比率仍会变化）',
      this_period: '本期', prev_period: '上期',
      row_tip: '点击查看该单位本期的工单',
      cases_title: '单位工单', cases_hint: '点击三率考核或吹哨报到考核中的单位行，查看其本期工单；点击工单查看时间线。',
      cases_of: '{name} · {kind}', kind_rates: '三率', kind_whistles: '吹哨报到',
      cases_page: '第 {from}–{to} 件 · 共 {total} 件', cases_none: '无工单', prev_page: '上一页', next_page: '下一页',
      sort_by: '排序', sort_reported: '最新上报', sort_sign: '签收最慢', sort_close: '办结最慢', sort_arrive: '到场最慢', late_only: '只看超时',
      c_reported: '上报', c_region: '区域', c_category: '类别', c_sign: '签收用时', c_arrive: '到场（报到）', c_close: '办结时长', c_ontime: '按期', c_status: '状态',
      resp_ok: '按时', resp_late: '超时', waiting: '未签收 · 已等 {d}', not_dispatched_yet: '未派单',
      arrive_wait: '未到场 · 已等 {d}', no_whistle: '未吹哨', open_for: '未结案 · 已 {d}', not_assessed: '不考核',
      ontime_yes: '按期', ontime_no: '超期', overdue_open: '超时未办结',
      unlocated_row: '未定位', not_dispatched: '未派单', without_deadline: '无时限', no_deadline: '无时限', not_ranked: '不排名',
      recon_rates: '收到 {received} · 计入 {counted} · 未定位 {unlocated} · 无承办部门 {without_dept} · 无时限 {without_deadline}',
      recon_whistles: '收到 {received} · 计入 {counted} · 未吹哨 {no_whistle} · 未定位 {unlocated}',
      recon_rejected: ' · 入口拒收 {n}', recon_unequal: '核对不平',
      recon_tip_dept: '收到：本期首报的工单（所查区域与类别）。收到 = 计入（各部门）+ 无承办部门（从未派单）。未定位工单计入其承办部门；无时限工单计入各率，仅不计入按期率。',
      recon_tip_region: '收到：本期首报的工单（所查区域与类别）。收到 = 计入（各区域）+ 未定位（“未定位”行，不排名；含仅定位到上级区域的工单）。无承办部门：从未派单，计入其区域，不在响应率、解决率的分母中。无时限工单仅不计入按期率。',
      recon_tip_whistles: '收到：本期首报的工单。收到 = 计入（有吹哨计入某单位的工单）+ 未吹哨（+ 按区域统计时的未定位）。',
      recon_tip_rejected: '入口拒收：被拒收的事件未成为工单，不计入收到；为本服务进程自 {since} 启动以来的计数，不分时段、区域与类别。',
    },
    en: {
      title: 'Audit · three rates and whistles', doc_title: 'Audit · Zhili', theme: 'Light/Dark',
      from: 'From', to: 'To (excl.)', q_today: 'Today', q_week: 'This week', q_month: 'This month', q_lastmonth: 'Last month', q_30d: 'Last 30 days',
      by: 'By', by_dept: 'Department', by_region: 'Region', level: 'Level', region: 'Region code', category: 'Category',
      min_sample: 'Min. sample', query: 'Query', loading: 'Loading…',
      rates_title: 'Three rates', chart_title: 'Rate per unit · this vs previous period', defs_title: 'Definitions',
      whistles_title: 'Whistle audit', repeats_title: 'Repeat complaints', case_title: 'Case timeline',
      sample_note: 'Units are ranked only when the rate\'s denominator reaches the minimum sample; the others show "insufficient sample" and no rank. Arrows: change against the previous period of the same length (percentage points). Click a header to sort, a unit\'s row for its cases.',
      no_units: 'No case in this period', no_whistles: 'No whistle in this period', no_repeats: 'No repeat complaint',
      case: 'Case', repeat_of: 'Repeat of', reported: 'Reported', dept: 'Dept', region_col: 'Region',
      case_ph: 'case id', open: 'Open',
      case_hint: 'Click a case id in a unit\'s cases or among the repeat complaints, or type a case id, to see its timeline.',
      period: 'Period {from} — {to} (previous from {prev})', summary_rates: '{n} cases · min. sample {m} · response window {w}',
      summary_whistles: '{n} whistles · min. sample {m}', n_repeats: '{n}', n_repeats_of: 'newest {n} of {total}',
      unit: 'Unit', cases: 'Cases', dispatched: 'Disp.', closed: 'Closed',
      response: 'Response', resolution: 'Resolution', satisfaction: 'Satisfaction', on_time: 'On time',
      close_p50: 'Close p50 (h)', close_p90: 'Close p90 (h)', whistle_rate: 'Whistle rate', repeats: 'Repeats',
      reopened: 'Closed→reopened', unsatisfied: 'Closed unsatisfied',
      insufficient: 'insufficient sample', prev: 'prev.', rank: '#{n}', none: '—',
      band: { low: 'low', ok: 'ok', high: 'high' },
      w_dept: 'Dept', w_region: 'Region', summoned: 'Summoned', stage: { signed: 'Signed', contacted: 'Contacted', arrived: 'Arrived', resolved: 'Resolved' },
      p50: 'p50', p90: 'p90', ontime_pct: 'on time', evaluations: 'Evals', mean_score: 'Mean score',
      overall_ontime: 'On time', hours: 'h',
      status: 'Status', flags: 'Flags', steps: 'Steps', clocks: 'Dispatch clocks', whistles: 'Whistles', evals: 'Evaluations', events: 'Events',
      at: 'At', type: 'Type', from_to: 'From → to', legal: 'legal', illegal: 'illegal', reason: 'Reason',
      dispatched_at: 'Dispatched', deadline: 'Deadline', ended: 'Ended', ended_by: 'Ended by', late: 'late', overdue: 'Overdue', on_time_ok: 'on time',
      kind: 'Kind', blown: 'Blown', resolved_at: 'Resolved', reached: 'Reached', light: 'Light', left: 'Left',
      score: 'Score', by_source: 'Source', supersedes: 'Supersedes', id: 'ID', fields: 'Fields',
      pii_masked: 'personal fields masked', pii_shown: 'personal fields shown', returns: '{n} returns', reopens: '{n} reopenings',
      no_rows: 'none', err_prefix: 'Request failed',
      live_on: 'Live · refreshed on new events', live_past: 'Past period · not refreshed', live_pending: 'Connecting…',
      stale: 'Offline — data may be out of date · reconnecting…', stale_for: 'no data for {n} s', refused: 'The server refused the live subscription',
      rest_fail: 'Query failed, data may be out of date: ', retrying: 'retrying shortly',
      statuses: { reported: 'reported', accepted: 'accepted', dispatched: 'dispatched', signed: 'signed', returned: 'returned', resolved: 'resolved', closed: 'closed', reopened: 'reopened', duplicate: 'duplicate' },
      flag_names: { illegal_transition: 'illegal transition', returned: 'returned', reopened: 'reopened', closed_unsatisfied: 'closed unsatisfied', closed_then_reopened: 'closed then reopened', overdue: 'overdue', closed_before_reported: 'closed before reported' },
      close_reasons: { not_fixed: 'not fixed', duplicate: 'duplicate', transferred: 'transferred', cancelled: 'cancelled' },
      close_reason: 'Close reason', category_text: 'Source category',
      ended_names: { resolved: 'resolved', returned: 'returned', redispatched: 're-dispatched', closed: 'closed' },
      def_names: { response: 'Response rate', resolution: 'Resolution rate', satisfaction: 'Satisfaction rate', on_time: 'On-time rate', close_time: 'Time to close', counting: 'Counting', previous: 'Previous period', repeats: 'Repeats', fake_closure: 'Fake-closure signs', close_reason: 'Close reasons', reconcile: 'Reconcile' },
      defs_extra: 'min. sample {m} · response window {w}',
      prev_same_age: 'Previous period compared at the same age: its cases count their events up to {asof}, the time this period\'s cases have had so far.',
      prev_final: 'Previous period on its final basis: every event of its cases.',
      open_now: 'Cases of this period still open in the units: {n}; the rates will change.', open_n: '{n} open',
      prev_same_short: 'Previous (same age)', prev_final_short: 'Previous (final)',
      open_tip: 'Open: cases not closed yet (their rates will change)',
      this_period: 'This period', prev_period: 'Previous',
      row_tip: 'Click to list this unit\'s cases of the period',
      cases_title: 'Cases of a unit', cases_hint: 'Click a unit\'s row in the three rates or the whistle audit to list its cases of the period; click a case for its timeline.',
      cases_of: '{name} · {kind}', kind_rates: 'three rates', kind_whistles: 'whistle audit',
      cases_page: '{from}–{to} of {total}', cases_none: 'No case', prev_page: 'Previous', next_page: 'Next',
      sort_by: 'Sort', sort_reported: 'newest reported', sort_sign: 'slowest to sign', sort_close: 'slowest to close', sort_arrive: 'slowest to arrive', late_only: 'late only',
      c_reported: 'Reported', c_region: 'Region', c_category: 'Category', c_sign: 'To sign', c_arrive: 'To arrive (report in)', c_close: 'To close', c_ontime: 'On time', c_status: 'Status',
      resp_ok: 'in time', resp_late: 'late', waiting: 'not signed · waited {d}', not_dispatched_yet: 'not dispatched',
      arrive_wait: 'not arrived · waited {d}', no_whistle: 'no whistle', open_for: 'open · {d} so far', not_assessed: 'not assessed',
      ontime_yes: 'on time', ontime_no: 'late', overdue_open: 'overdue, open',
      unlocated_row: 'Unlocated', not_dispatched: 'not dispatched', without_deadline: 'no deadline', no_deadline: 'no deadline', not_ranked: 'not ranked',
      recon_rates: 'Received {received} · counted {counted} · unlocated {unlocated} · without dept. {without_dept} · without deadline {without_deadline}',
      recon_whistles: 'Received {received} · counted {counted} · no whistle {no_whistle} · unlocated {unlocated}',
      recon_rejected: ' · refused at ingest {n}', recon_unequal: 'does not add up',
      recon_tip_dept: 'Received: cases first reported in the period (region and category asked). Received = counted (in the departments) + without department (never dispatched). Unlocated cases count for their department; cases without a deadline count in every rate but the on-time rate.',
      recon_tip_region: 'Received: cases first reported in the period (region and category asked). Received = counted (in the regions) + unlocated (the Unlocated row, not ranked; also cases placed only at a coarser level). Without department: never dispatched, counted for their region, outside the response and resolution denominators. Cases without a deadline are left out of the on-time rate only.',
      recon_tip_whistles: 'Received: cases first reported in the period. Received = counted (cases with a whistle counted for a unit) + no whistle (+ unlocated, by region).',
      recon_tip_rejected: 'Refused at ingest: refused events never became cases and are not part of received; counted by this server process since it started at {since}, over every period, region and category.',
    },
  };
  const L = window.Zhili.texts.i18n(TEXT);
  const t = L.t;

  // ---------------------------------------------------------------- theme
  let theme = params.get('theme') || storageGet('zhili.audit.theme') || '';
  if (theme !== 'light' && theme !== 'dark') {
    theme = window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  }

  // ---------------------------------------------------------------- state exposed for tests
  const Z = {
    ready: false,
    loading: 0, // requests in flight
    rates: null, // the last rates reply
    whistles: null, // the last whistle audit reply
    timeline: null, // the last case reply
    errors: [], // {where, status, code, message}, and the socket's {topic, code, message}
    sort: { key: '', dir: 0 },
    // live
    live: null, // true: the period includes the present and the page refreshes; false: past
    topic: '', // the subscribed topic ('' when none)
    refreshes: 0, // background refreshes completed
    lastRefreshAt: 0, // performance.now() of the last completed refresh
    updatedAt: '', // "hh:mm:ss" shown as 数据更新于
    restError: '', // the last failed query's message ('' once a query succeeds)
    offline: false, // the offline banner is shown
    stale: true,
    connected: false,
    reconnects: 0,
    frames: 0,
    lastFrameAt: 0,
    seq: {},
    trace: [], // the last 40 refresh steps [what, Date.now()] (bounded), for tests and the console
    settled() { return Z.ready && Z.loading === 0; },
  };
  window.__zhili = Z;

  const RATES = ['response', 'resolution', 'satisfaction', 'on_time'];
  let tzOffsetMin = null; // the deployment's UTC offset, read from the replies' timestamps
  let chart = null;
  let sortKey = '';
  let sortDir = 0; // 1 ascending, -1 descending, 0 the API's order

  // ---------------------------------------------------------------- helpers
  function auditURL(path, q) {
    const u = new URL(path, location.origin);
    // An empty unit is a row of its own (未定位, never dispatched): sent as unit=.
    for (const [k, v] of Object.entries(q || {})) if (v != null && (v !== '' || k === 'unit')) u.searchParams.set(k, v);
    if (TOKEN) u.searchParams.set('token', TOKEN);
    return u.pathname + u.search;
  }

  class APIError extends Error {
    constructor(status, code, message, reason) {
      super(message);
      this.status = status;
      this.code = code;
      this.reason = reason;
    }
  }

  async function callAPI(path, q) {
    Z.loading++;
    try {
      const r = await window.Zhili.fetchRetryBusy(auditURL(path, q), { cache: 'no-cache', credentials: 'same-origin' });
      noteServerDate(r.headers.get('Date'));
      const text = await r.text();
      let body = null;
      try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
      if (!r.ok) {
        const e = (body && body.error) || {};
        throw new APIError(r.status, e.code || '', e.message || text.slice(0, 200) || ('HTTP ' + r.status), e.reason || '');
      }
      return body;
    } finally {
      Z.loading--;
    }
  }

  // The server's clock from a reply's Date header (whole seconds), used until the socket brings
  // message times; differences under 2 s are taken as none.
  let restSkewMs = 0;
  function noteServerDate(h) {
    const ms = Date.parse(h || '');
    if (!Number.isFinite(ms)) return;
    const skew = ms + 500 - Date.now();
    restSkewMs = Math.abs(skew) < 2000 ? 0 : skew;
  }

  function showError(where, err) {
    const e = { where, status: err.status || 0, code: err.code || '', message: err.message || String(err) };
    Z.errors.push(e);
    if (Z.errors.length > 20) Z.errors.shift();
    const box = $('au-error');
    const line = document.createElement('div');
    line.className = 'au-error-line';
    line.innerHTML = '<b>' + esc(t('err_prefix')) + '</b> <span class="au-mono">' + esc(where) + '</span> ' +
      (e.status ? '<span class="au-mono">HTTP ' + e.status + (e.code ? ' ' + esc(e.code) : '') + '</span> ' : '') +
      '<span class="au-error-msg">' + esc(e.message) + '</span>';
    box.appendChild(line);
    box.hidden = false;
  }
  function clearErrors() {
    $('au-error').innerHTML = '';
    $('au-error').hidden = true;
  }

  // Quick periods: day strings of the browser's calendar, [from, to) with to exclusive.
  const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

  // Days are the deployment's (its zone once a message or reply told it, else the browser's).
  function quick(kind) {
    const d = time.dayOf(serverNow(), tzMin());
    switch (kind) {
      case 'today': return [d, time.addDays(d, 1)];
      case 'week': return [time.addDays(d, -((time.weekdayOf(d) + 6) % 7)), time.addDays(d, 1)];
      case 'month': return [time.monthStart(d, 0), time.addDays(d, 1)];
      case 'lastmonth': return [time.monthStart(d, -1), time.monthStart(d, 0)];
      default: return [time.addDays(d, -29), time.addDays(d, 1)];
    }
  }

  // syncQuick marks the quick button whose period the date boxes hold (none for another period).
  function syncQuick() {
    for (const b of document.querySelectorAll('[data-quick]')) {
      const [f, to] = quick(b.dataset.quick);
      const on = f === form.from.value && to === form.to.value;
      if (b.getAttribute('aria-pressed') !== String(on)) b.setAttribute('aria-pressed', String(on));
    }
  }

  // when formats an RFC 3339 time in the deployment's zone: "YYYY-MM-DD hh:mm" (or without the year).
  const when = (s, short) => time.dateTime(s, tzMin(), short);
  function dayOf(s) {
    const w = when(s);
    return w ? w.slice(0, 10) : '';
  }
  const pct = (v) => window.Zhili.percent(v, 1);
  const hrs = (s) => (typeof s === 'number' && s >= 0 ? (s / 3600).toFixed(2) : '');
  const dash = () => '<span class="au-muted">' + esc(t('none')) + '</span>';

  // ---------------------------------------------------------------- DOM updates in place
  // setHTML replaces el's content only when the markup differs from what it last set.
  function setHTML(el, h) {
    if (el._h === h) return false;
    el.innerHTML = h;
    el._h = h;
    return true;
  }
  // patchRows makes tbody's rows match rows ({key, attrs, cls, cells: [{cls, col, html}]}): rows
  // are kept by key and moved, cells rewritten only when their markup changed, so a refresh
  // neither flickers nor loses what the reader is looking at.
  function patchRows(tbody, rows) {
    const old = new Map();
    for (const tr of Array.from(tbody.rows)) {
      if (tr.dataset.key !== undefined && !old.has(tr.dataset.key)) old.set(tr.dataset.key, tr);
      else tr.remove();
    }
    let ref = tbody.firstElementChild;
    for (const r of rows) {
      let tr = old.get(r.key);
      if (tr) old.delete(r.key);
      else {
        tr = document.createElement('tr');
        tr.dataset.key = r.key;
      }
      for (const [k, v] of Object.entries(r.attrs || {})) if (tr.getAttribute(k) !== v) tr.setAttribute(k, v);
      if (tr.className !== (r.cls || '')) tr.className = r.cls || '';
      while (tr.cells.length > r.cells.length) tr.lastElementChild.remove();
      r.cells.forEach((c, i) => {
        const td = tr.cells[i] || tr.appendChild(document.createElement('td'));
        if (td.className !== (c.cls || '')) td.className = c.cls || '';
        if (c.col && td.dataset.col !== c.col) td.dataset.col = c.col;
        setHTML(td, c.html);
      });
      if (tr === ref) ref = ref.nextElementSibling;
      else tbody.insertBefore(tr, ref);
    }
    for (const tr of old.values()) tr.remove();
  }

  // ---------------------------------------------------------------- controls
  const form = {
    from: $('f-from'), to: $('f-to'), by: $('f-by'), level: $('f-level'), region: $('f-region'),
    category: $('f-category'), min: $('f-min'),
  };
  function initControls() {
    const [df, dt] = quick('30d');
    form.from.value = DATE_RE.test(params.get('from') || '') ? params.get('from') : df;
    form.to.value = DATE_RE.test(params.get('to') || '') ? params.get('to') : dt;
    form.by.value = params.get('by') === 'region' ? 'region' : 'dept';
    form.level.value = /^\d+$/.test(params.get('level') || '') ? params.get('level') : '';
    form.region.value = params.get('region') || '';
    form.category.value = params.get('category') || '';
    form.min.value = /^\d+$/.test(params.get('min_sample') || '') ? params.get('min_sample') : '';
    syncLevel();
  }
  // fillCategoryList offers the catalogue's categories, by name, in the category field.
  function fillCategoryList() {
    setHTML($('f-category-list'), window.Zhili.texts.categories().map((c) => '<option value="' + esc(c) + '">' + esc(L.cat(c)) + '</option>').join(''));
  }
  function syncLevel() {
    document.querySelector('.au-level').classList.toggle('au-disabled', form.by.value !== 'region');
    form.level.disabled = form.by.value !== 'region';
  }
  function queryParams() {
    const q = { from: form.from.value, to: form.to.value };
    if (form.by.value === 'region') {
      q.by = 'region';
      if (form.level.value !== '') q.level = form.level.value;
    }
    if (form.region.value.trim()) q.region = form.region.value.trim();
    if (form.category.value.trim()) q.category = form.category.value.trim();
    if (form.min.value !== '') q.min_sample = form.min.value;
    return q;
  }
  function writeURL(q, caseID) {
    const u = new URLSearchParams();
    if (TOKEN) u.set('token', TOKEN);
    if (params.get('lang') || L.lang !== 'zh') u.set('lang', L.lang);
    for (const [k, v] of Object.entries(q)) u.set(k, v);
    if (list.open) {
      u.set('list', list.audit);
      u.set('unit', list.unit);
      if (list.sort !== 'reported') u.set('lsort', list.sort);
      if (list.late) u.set('late', '1');
    }
    if (caseID) u.set('case', caseID);
    history.replaceState(null, '', location.pathname + '?' + u.toString());
  }
  let openCase = params.get('case') || '';

  // ---------------------------------------------------------------- query
  // A user query (form, quick buttons) starts a new generation; background refreshes re-run the
  // current generation's parameters (never the form's unsubmitted values) and are dropped when a
  // newer generation has started.
  let generation = 0;
  let current = null; // parameters of the current generation
  let inFlight = 0; // queries running (refreshes wait for them)
  let outageErrors = false; // #au-error holds a user query's network or server failure
  const replyText = { rates: '', whistles: '', timeline: '', cases: '' }; // last replies, to skip unchanged renders
  // figuresKey is the replies' figures without the audit's own time (as_of, previous_as_of: new on
  // every reply), to tell whether the store has a change yet.
  const figuresKey = () => [replyText.rates, replyText.whistles]
    .map((s) => s.replace(/"(previous_)?as_of":("[^"]*"|null),?/g, '')).join('\n');

  async function runQuery() {
    const gen = ++generation;
    clearErrors();
    outageErrors = false;
    if (!TOKEN) showError('?token=', new Error(t('no_token')));
    const q = queryParams();
    // A unit's cases stay open across periods; another kind of unit closes them.
    if (list.open && (q.by || 'dept') !== list.by) closeList();
    current = q;
    writeURL(q, openCase);
    setExports(q);
    syncQuick();
    if (list.open) list.offset = 0;
    $('au-loading').hidden = false;
    periodEnd = periodEndOf(q.to);
    setLive(periodEnd > serverNow());
    refreshWanted = false;
    lastRefreshStart = performance.now();
    inFlight++;
    let failure = null;
    const jobs = [
      callAPI('/api/v1/audit/rates', Object.assign({ repeats_limit: REPEATS_SHOWN }, q)).then((r) => { if (gen === generation) setRates(r, true); })
        .catch((e) => {
          failure = failure || e;
          if (gen === generation) { Z.rates = null; replyText.rates = ''; renderRates(); showError('/api/v1/audit/rates', e); }
        }),
      callAPI('/api/v1/audit/whistles', q).then((r) => { if (gen === generation) setWhistles(r, true); })
        .catch((e) => {
          failure = failure || e;
          if (gen === generation) { Z.whistles = null; replyText.whistles = ''; renderWhistles(); showError('/api/v1/audit/whistles', e); }
        }),
    ];
    await Promise.all(jobs);
    inFlight--;
    // A unit's cases after the audits: a principal runs at most three history queries at once.
    if (gen === generation && list.open) loadCases(false);
    if (gen === generation) {
      $('au-loading').hidden = true;
      if (failure) {
        // A refused query (4xx) is the user's to fix; an unreachable or failing server is retried.
        if (!(failure.status >= 400 && failure.status < 500)) {
          outageErrors = true;
          noteFailure(failure);
        }
      } else {
        noteSuccess();
      }
      if (!Z.ready) {
        Z.ready = true;
        document.body.dataset.ready = '1';
      }
    }
    pump();
  }

  // refresh re-runs the current queries (and the open case) in the background: the tables keep
  // showing the last data until the replies are in, then change in place.
  async function refresh() {
    if (!current) return;
    const gen = generation;
    const q = current;
    refreshWanted = false;
    lastRefreshStart = performance.now();
    const trailing = trailingDue && lastRefreshStart >= trailingDue;
    if (trailing) {
      // This refresh sees the changes up to STORE_LAG_MS ago; a later one needs another.
      trailingDue = lastChangeAt + STORE_LAG_MS > lastRefreshStart ? lastChangeAt + STORE_LAG_MS : 0;
    }
    const caseID = Z.timeline && Z.timeline.case_id === openCase ? openCase : '';
    trace('start');
    inFlight++;
    const res = await Promise.allSettled([
      callAPI('/api/v1/audit/rates', Object.assign({ repeats_limit: REPEATS_SHOWN }, q)),
      callAPI('/api/v1/audit/whistles', q),
      caseID ? callAPI('/api/v1/cases/' + encodeURIComponent(caseID)) : Promise.resolve(null),
    ]);
    inFlight--;
    if (gen === generation) {
      trace('done');
      if (res[0].status === 'fulfilled') setRates(res[0].value, false);
      if (res[1].status === 'fulfilled') setWhistles(res[1].value, false);
      if (res[2].status === 'fulfilled' && res[2].value && openCase === caseID) setTimeline(res[2].value);
      const failed = res.find((x) => x.status === 'rejected');
      if (failed) {
        noteFailure(failed.reason);
      } else {
        if (outageErrors) { clearErrors(); outageErrors = false; }
        noteSuccess();
      }
      if (trailing && !failed && atChange !== null) {
        if (figuresKey() !== atChange) {
          atChange = null; // the store has the change
        } else if (lagRetries < STORE_LAG_RETRIES && !trailingDue) {
          lagRetries++;
          trailingDue = performance.now() + STORE_LAG_MS;
        } else if (!trailingDue) {
          atChange = null; // the change did not move these figures
        }
      }
      if (list.open) loadCases(true);
      Z.refreshes++;
      Z.lastRefreshAt = performance.now();
    }
    pump();
  }

  function setRates(r, force) {
    const s = JSON.stringify(r);
    if (Z.rates && s === replyText.rates && !force) return;
    replyText.rates = s;
    Z.rates = r;
    if (r.by !== 'region') {
      replyDeptNames = {};
      for (const u of r.units || []) if (u.unit && u.name) replyDeptNames[u.unit] = u.name;
    }
    const o = time.offsetOf(r.from);
    if (o !== null) tzOffsetMin = o;
    const end = Date.parse(r.to);
    if (Number.isFinite(end) && end !== periodEnd) {
      periodEnd = end;
      setLive(periodEnd > serverNow());
    }
    renderRates();
  }
  function setWhistles(r, force) {
    const s = JSON.stringify(r);
    if (Z.whistles && s === replyText.whistles && !force) return;
    replyText.whistles = s;
    Z.whistles = r;
    renderWhistles();
  }
  function setTimeline(r) {
    const s = JSON.stringify(r);
    if (s === replyText.timeline) return;
    replyText.timeline = s;
    Z.timeline = r;
    renderCase();
  }

  // ---------------------------------------------------------------- refresh scheduling
  let refreshWanted = false; // a change arrived: refresh as soon as the throttle allows
  let trailingDue = 0; // performance.now() at or after which one more refresh must start (0: none)
  let lastChangeAt = 0;
  let lastRefreshStart = -1e9;
  let refreshTimer = 0;
  let retryTimer = 0;
  let retryDelay = RETRY_MIN_MS;
  let atChange = null; // the replies when the first change not yet seen arrived (null: none)
  let lagRetries = 0; // trailing refreshes that came back as atChange

  // pump starts the next refresh when one is wanted and allowed, or sets the one timer for it.
  // A wanted refresh goes as soon as the throttle allows (the store may already have the
  // events), unless it would hold the one due at trailingDue (which surely has them) past its time.
  function pump() {
    clearTimeout(refreshTimer);
    refreshTimer = 0;
    if (inFlight > 0 || !current) return;
    const allowed = lastRefreshStart + REFRESH_MIN_MS;
    let due = Infinity;
    if (refreshWanted) due = allowed;
    if (trailingDue) {
      const sure = Math.max(trailingDue, allowed);
      due = due + REFRESH_MIN_MS > sure ? sure : due;
    }
    if (due === Infinity) return;
    const wait = due - performance.now();
    if (wait <= 0) refresh();
    else refreshTimer = setTimeout(pump, wait);
  }
  function trace(what) {
    Z.trace.push([what, Date.now()]);
    if (Z.trace.length > 40) Z.trace.shift();
  }
  function requestRefresh() {
    refreshWanted = true;
    pump();
  }
  // noteChange: new events for the period's cases (live periods only).
  function noteChange() {
    if (!Z.live) return;
    trace('change');
    refreshWanted = true;
    lastChangeAt = performance.now();
    // The earliest change not yet covered sets the deadline; later ones are picked up after it.
    if (!trailingDue) trailingDue = lastChangeAt + STORE_LAG_MS;
    if (atChange === null) atChange = figuresKey();
    lagRetries = 0;
    pump();
  }

  function noteFailure(e) {
    Z.restError = (e && e.status ? 'HTTP ' + e.status + ' ' : '') + ((e && e.message) || String(e));
    syncBanner();
    if (!retryTimer) {
      retryTimer = setTimeout(() => { retryTimer = 0; requestRefresh(); }, retryDelay);
      retryDelay = Math.min(BACKOFF_MAX, retryDelay * 2);
    }
  }
  function noteSuccess() {
    Z.restError = '';
    retryDelay = RETRY_MIN_MS;
    clearTimeout(retryTimer);
    retryTimer = 0;
    Z.updatedAt = time.hms(serverNow(), tzMin());
    $('updated-at').textContent = Z.updatedAt;
    syncBanner();
  }

  // ---------------------------------------------------------------- period and clock
  let periodEnd = 0; // ms: the end of the current query's period

  function tzMin() {
    if (state.tzMin !== null) return state.tzMin;
    if (tzOffsetMin !== null) return tzOffsetMin;
    return -new Date().getTimezoneOffset();
  }
  const serverNow = () => Date.now() + (state.lastDataAt ? state.skewMs : restSkewMs);
  // periodEndOf is midnight starting the date "YYYY-MM-DD" in the deployment's zone.
  function periodEndOf(day) {
    return time.dayStart(day, tzMin());
  }

  function setExports(q) {
    for (const [name, path] of [['rates', '/api/v1/audit/rates'], ['whistles', '/api/v1/audit/whistles']]) {
      for (const f of ['csv', 'xlsx']) {
        $(name + '-' + f).href = auditURL(path, Object.assign({}, q, { format: f }));
      }
    }
  }

  // ---------------------------------------------------------------- rates table
  const isUnlocated = (u) => !!u.unlocated || (u.unit === '' && !!Z.rates && Z.rates.by === 'region');
  // deptName is a department's name from the catalogue (the kit, in the page's language), else
  // the one the audit replies gave; '' when neither has one.
  function deptName(code) {
    if (!code) return '';
    const n = L.dept(code);
    if (n && n !== code) return n;
    const r = (Z.whistles && Z.whistles.names && Z.whistles.names[code]) || replyDeptNames[code] || '';
    return r && r !== code ? r : '';
  }
  // replyDeptNames are the departments' names of the last rates reply by department.
  let replyDeptNames = {};
  // unitName is a unit's name: the reply's (regions), else the catalogue's (departments).
  function unitName(u) {
    if (Z.rates && Z.rates.by === 'region') return u.name || '';
    return deptName(u.unit);
  }
  // named is a code's cell: its name with the code beside it, or the code alone.
  function named(code, name) {
    if (!code) return '';
    return name ? esc(name) + ' <span class="au-mono au-muted">' + esc(code) + '</span>' : '<span class="au-mono">' + esc(code) + '</span>';
  }
  const deptCell = (code) => named(code, deptName(code));
  function unitLabel(u) {
    if (isUnlocated(u)) return '<span class="au-unlocated">' + esc(t('unlocated_row')) + '</span> <span class="au-muted">(' + esc(t('not_ranked')) + ')</span>';
    if (u.unit === '') return '<span class="au-muted">(' + esc(t('not_dispatched')) + ')</span>';
    return named(u.unit, unitName(u));
  }
  const insufficient = (f) => f && f.sample === 'insufficient';

  function rateCell(u, key) {
    const c = u.current[key];
    const p = u.previous ? u.previous[key] : null;
    let h = '<div class="au-rate"><span class="au-val" data-val>' + (pct(c.value) || dash()) + '</span>';
    // The unlocated row is never ranked (its label says so): no sample flag, no rank.
    if (!isUnlocated(u)) {
      if (insufficient(c)) h += ' <span class="au-badge au-badge-warn" data-insufficient>' + esc(t('insufficient')) + '</span>';
      else if (c.rank != null) h += ' <span class="au-rank' + (c.rank === 1 ? ' au-rank-1' : '') + '">' + esc(fmt(t('rank'), { n: c.rank })) + '</span>';
    }
    h += '</div><div class="au-sub"><span class="au-frac">' + c.num + '/' + c.den + '</span>';
    if (p && typeof p.value === 'number') {
      h += ' · ' + esc(t('prev')) + ' ' + pct(p.value);
      if (typeof c.value === 'number') {
        const d = (c.value - p.value) * 100;
        const cls = Math.abs(d) < 0.05 ? 'au-flat' : d > 0 ? 'au-up' : 'au-down';
        const arrow = Math.abs(d) < 0.05 ? '→' : d > 0 ? '↑' : '↓';
        h += ' <span class="' + cls + '">' + arrow + (d > 0 ? '+' : '') + d.toFixed(1) + '</span>';
      }
    } else {
      h += ' · ' + esc(t('prev')) + ' ' + esc(t('none'));
    }
    const nd = u.current.without_deadline;
    if (key === 'on_time' && nd > 0) h += ' · <span data-without-deadline>' + esc(t('without_deadline')) + ' ' + nd + '</span>';
    return h + '</div>';
  }
  // casesCell is a unit's cases (the previous period's beneath) and how many are still open.
  function casesCell(u) {
    let h = numCell(u.current.cases, u.previous ? u.previous.cases : null);
    const o = u.current.open;
    if (o > 0) h += '<div class="au-sub au-open" data-open="' + o + '" title="' + esc(t('open_tip')) + '">' + esc(fmt(t('open_n'), { n: o })) + '</div>';
    return h;
  }
  function numCell(cur, prev) {
    let h = '<div>' + cur + '</div>';
    if (prev != null) h += '<div class="au-sub">' + esc(t('prev')) + ' ' + prev + '</div>';
    return h;
  }

  // Columns: key, label, kind (text or num), sort value (null = no value: last), cell HTML.
  function rateColumns() {
    const cols = [
      { key: 'unit', label: t('unit'), text: true, sort: (u) => (unitName(u) || u.unit), cell: unitLabel },
      { key: 'cases', label: t('cases'), sort: (u) => u.current.cases, cell: casesCell },
      { key: 'dispatched', label: t('dispatched'), sort: (u) => u.current.dispatched, cell: (u) => numCell(u.current.dispatched, u.previous ? u.previous.dispatched : null) },
    ];
    for (const r of RATES) {
      cols.push({ key: r, label: t(r), rate: true,
        sort: (u) => (insufficient(u.current[r]) || typeof u.current[r].value !== 'number' ? null : u.current[r].value),
        cell: (u) => rateCell(u, r) });
    }
    cols.push(
      { key: 'close_p50', label: t('close_p50'), sort: (u) => u.current.close_p50_s, cell: (u) => hrs(u.current.close_p50_s) || dash() },
      { key: 'close_p90', label: t('close_p90'), sort: (u) => u.current.close_p90_s, cell: (u) => hrs(u.current.close_p90_s) || dash() });
    if (Z.rates && Z.rates.by === 'region') {
      cols.push({ key: 'whistle_rate', label: t('whistle_rate'), sort: (u) => u.whistle_rate,
        cell: (u) => (typeof u.whistle_rate === 'number'
          ? pct(u.whistle_rate) + ' <span class="au-band au-band-' + esc(u.whistle_band) + '">' + esc((t('band')[u.whistle_band]) || u.whistle_band) + '</span>'
          : dash()) });
    }
    cols.push(
      { key: 'repeats', label: t('repeats'), sort: (u) => u.current.repeats, cell: (u) => flagNum(u.current.repeats) },
      { key: 'reopened', label: t('reopened'), sort: (u) => u.current.closed_then_reopened, cell: (u) => flagNum(u.current.closed_then_reopened) },
      { key: 'unsatisfied', label: t('unsatisfied'), sort: (u) => u.current.closed_unsatisfied, cell: (u) => flagNum(u.current.closed_unsatisfied) });
    return cols;
  }
  const flagNum = (n) => (n > 0 ? '<span class="au-warnnum">' + n + '</span>' : '<span class="au-muted">0</span>');

  // The unlocated row (by region) is never ranked: it stays last whatever the sort.
  function sortedUnits(all, cols) {
    const units = all.filter((u) => !isUnlocated(u));
    const tail = all.filter(isUnlocated);
    return sortUnits(units, cols).concat(tail);
  }
  function sortUnits(units, cols) {
    return sortRows(units, cols.find((c) => c.key === sortKey), sortDir);
  }
  // sortRows sorts rows by a column ({sort, text}) in dir (1 up, -1 down, 0 as given); rows with
  // no value (or an insufficient sample) last in both directions, ties in the given order.
  function sortRows(units, col, dir) {
    if (!col || !dir) return units.slice();
    const withIdx = units.map((u, i) => ({ u, i, v: col.sort(u) }));
    withIdx.sort((a, b) => {
      const an = a.v === null || a.v === undefined || (typeof a.v === 'number' && !Number.isFinite(a.v));
      const bn = b.v === null || b.v === undefined || (typeof b.v === 'number' && !Number.isFinite(b.v));
      if (an !== bn) return an ? 1 : -1; // no value or insufficient sample: always last
      if (an && bn) return a.i - b.i;
      let c = col.text ? String(a.v).localeCompare(String(b.v), L.lang === 'zh' ? 'zh-CN' : 'en') : a.v - b.v;
      if (c === 0) return a.i - b.i;
      return c * dir;
    });
    return withIdx.map((x) => x.u);
  }

  function renderRates() {
    const rep = Z.rates;
    const cols = rateColumns();
    const head = $('rates-head');
    setHTML(head, cols.map((c) => {
      const on = c.key === sortKey && sortDir;
      const aria = on ? (sortDir > 0 ? 'ascending' : 'descending') : 'none';
      return '<th data-key="' + c.key + '" class="au-sortable' + (c.text ? ' au-left' : '') + (on ? ' au-sorted' : '') + '" aria-sort="' + aria + '" tabindex="0">' +
        esc(c.label) + '<span class="au-sort-ind">' + (on ? (sortDir > 0 ? '▲' : '▼') : '↕') + '</span></th>';
    }).join(''));
    const units = rep ? rep.units || [] : [];
    const sel = list.open && list.audit === 'rates' ? list.unit : null;
    patchRows($('rates-body'), sortedUnits(units, cols).map((u) => ({
      key: u.unit,
      attrs: { 'data-unit': u.unit, title: t('row_tip') },
      cls: 'au-clickable' + (u.unit === sel ? ' au-selected' : ''),
      cells: cols.map((c) => ({ cls: ((c.text ? 'au-left' : '') + (c.rate ? ' au-ratecell' : '')).trim(), col: c.key, html: c.cell(u) })),
    })));
    $('rates-empty').hidden = !rep || units.length > 0;
    if (rep) {
      const o = time.offsetOf(rep.from);
      if (o !== null) tzOffsetMin = o;
      $('au-period-label').textContent = fmt(t('period'), { from: when(rep.from), to: when(rep.to), prev: when(rep.previous_from) });
      $('rates-summary').textContent = fmt(t('summary_rates'), { n: rep.cases, m: rep.min_sample, w: rep.respond_window });
    } else {
      $('au-period-label').textContent = '';
      $('rates-summary').textContent = '';
    }
    renderReconcile($('rates-reconcile'), rep && rep.reconcile, 'rates', rep && rep.by);
    renderHistoryNote(rep);
    renderPrevNote(rep);
    renderDefs();
    renderRepeats();
    renderChart();
  }

  // renderHistoryNote says, above the figures, when the period (or the previous one) begins before
  // the stored history: those days hold no case, which is not the same as none reported.
  function renderHistoryNote(rep) {
    const el = $('au-history');
    const note = rep && rep.history && rep.history.note;
    const txt = note ? note[L.lang] || note.zh : '';
    if (el.textContent !== txt) el.textContent = txt;
    el.hidden = !txt;
  }

  // renderPrevNote says what the previous period beside each figure is, and how many of the
  // period's cases are still open.
  function renderPrevNote(rep) {
    const el = $('prev-note');
    if (!rep) {
      el.hidden = true;
      return;
    }
    let txt = rep.previous_basis === 'same_age' && rep.previous_as_of ? fmt(t('prev_same_age'), { asof: when(rep.previous_as_of) }) : t('prev_final');
    const open = (rep.units || []).reduce((a, u) => a + (u.current.open || 0), 0);
    if (open > 0) txt += ' ' + fmt(t('open_now'), { n: open });
    if (el.textContent !== txt) el.textContent = txt;
    el.dataset.basis = rep.previous_basis || '';
    el.hidden = false;
  }
  const prevLabel = () => t(Z.rates && Z.rates.previous_basis === 'same_age' ? 'prev_same_short' : 'prev_final_short');

  // renderReconcile writes the compact reconcile line under a table, its explanation as a tooltip.
  function renderReconcile(el, rc, kind, by) {
    if (!rc) { el.hidden = true; setHTML(el, ''); el.title = ''; return; }
    const ex = rc.excluded || {};
    let sum = rc.counted;
    for (const k of Object.keys(ex)) sum += ex[k];
    const b = (n) => '<b>' + esc(String(n == null ? 0 : n)) + '</b>';
    const v = { received: b(rc.received), counted: b(rc.counted), unlocated: b(rc.unlocated), without_dept: b(rc.without_dept),
      without_deadline: b(rc.without_deadline), no_whistle: b(ex.no_whistle) };
    let h = fmt(t(kind === 'rates' ? 'recon_rates' : 'recon_whistles'), v);
    const rj = rc.rejected;
    if (rj && typeof rj.total === 'number') h += fmt(t('recon_rejected'), { n: b(rj.total) });
    if (sum !== rc.received) h += ' <span class="au-bad">' + esc(t('recon_unequal')) + '</span>';
    let tip = t(kind === 'whistles' ? 'recon_tip_whistles' : by === 'region' ? 'recon_tip_region' : 'recon_tip_dept');
    tip += '\n' + (rc.identity || '') + ': ' + rc.received + (sum === rc.received ? ' = ' : ' ≠ ') + rc.counted +
      Object.keys(ex).sort().map((k) => ' + ' + ex[k] + ' (' + k + ')').join('');
    if (rj) {
      tip += '\n' + fmt(t('recon_tip_rejected'), { since: when(rj.since) });
      const codes = Object.keys(rj.by_code || {}).sort();
      if (codes.length) tip += '\n' + codes.map((c) => c + ' ' + rj.by_code[c]).join(', ');
      else if (typeof rj.total !== 'number' && rj.note) tip += '\n' + rj.note;
    }
    setHTML(el, h);
    el.title = tip;
    el.dataset.received = String(rc.received);
    el.hidden = false;
  }

  function onHeadClick(ev) {
    const th = ev.target.closest('th[data-key]');
    if (!th) return;
    const key = th.dataset.key;
    const col = rateColumns().find((c) => c.key === key);
    if (sortKey !== key) {
      sortKey = key;
      sortDir = col && col.text ? 1 : -1; // text A→Z first, numbers highest first
    } else {
      sortDir = -sortDir;
    }
    Z.sort = { key: sortKey, dir: sortDir };
    renderRates();
  }

  // ---------------------------------------------------------------- definitions
  function renderDefs() {
    const rep = Z.rates;
    const dl = $('defs');
    if (!rep || !rep.definitions) { setHTML(dl, ''); $('defs-extra').textContent = ''; return; }
    // The definitions in the page's language (the reply's bilingual ones if it has none).
    const defs = (rep.definitions_i18n && rep.definitions_i18n[L.lang]) || rep.definitions;
    const order = ['response', 'resolution', 'satisfaction', 'on_time', 'close_time', 'counting', 'previous', 'repeats', 'fake_closure', 'close_reason'];
    const keys = order.filter((k) => defs[k]).concat(Object.keys(defs).filter((k) => !order.includes(k)).sort());
    setHTML(dl, keys.map((k) => '<dt data-def="' + esc(k) + '">' + esc((t('def_names')[k]) || k) + '</dt><dd>' + esc(defs[k]) + '</dd>').join(''));
    $('defs-extra').textContent = fmt(t('defs_extra'), { m: rep.min_sample, w: rep.respond_window });
  }

  // ---------------------------------------------------------------- chart
  // The one chart instance is reused for the page's life: options are set again only when what
  // they show changed, merged when only the data did (the legend's choices stay).
  let chartSig = '';
  let chartLook = '';
  function renderChart() {
    const el = $('rates-chart');
    if (!window.echarts) return;
    if (!chart) {
      chart = window.echarts.init(el, null, { renderer: 'canvas' });
      Z.chartId = chart.id;
      // The chart's card grows with the definitions beside it: the chart follows.
      if (window.ResizeObserver) new ResizeObserver(() => chart.resize()).observe(el);
    }
    const key = $('chart-rate').value;
    const units = (Z.rates && Z.rates.units) || [];
    const dark = theme === 'dark';
    const fg = dark ? '#c9d4e3' : '#334155';
    const grid = dark ? '#2a3647' : '#e2e8f0';
    const names = units.map((u) => (isUnlocated(u) ? t('unlocated_row') : (unitName(u) || u.unit || '—')) + (insufficient(u.current[key]) ? '\n(' + t('insufficient') + ')' : ''));
    const val = (f) => (f && typeof f.value === 'number' ? Math.round(f.value * 1000) / 10 : null);
    const look = [key, theme, L.lang, prevLabel(), units.map((u) => (insufficient(u.current[key]) ? 1 : 0)).join('')].join('|');
    const sig = look + '|' + JSON.stringify([names, units.map((u) => [val(u.current[key]), insufficient(u.current[key]), val(u.previous && u.previous[key])])]);
    if (sig === chartSig) return;
    const notMerge = look !== chartLook || units.length !== (chart._auUnits || 0);
    chartSig = sig;
    chartLook = look;
    chart._auUnits = units.length;
    chart.setOption({
      animation: false,
      backgroundColor: 'transparent',
      textStyle: { color: fg, fontFamily: 'inherit' },
      legend: { top: 0, textStyle: { color: fg }, data: [t('this_period'), prevLabel()] },
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: (v) => (v == null ? '—' : v + '%') },
      grid: { left: 48, right: 16, top: 32, bottom: 40, containLabel: false },
      xAxis: { type: 'category', data: names, axisLabel: { color: fg, interval: 0, hideOverlap: true }, axisLine: { lineStyle: { color: grid } } },
      yAxis: { type: 'value', min: 0, max: 100, axisLabel: { color: fg, formatter: '{value}%' }, splitLine: { lineStyle: { color: grid } } },
      series: [
        { name: t('this_period'), type: 'bar', barMaxWidth: 36, itemStyle: { color: dark ? '#4f9cf9' : '#2563eb' },
          label: { show: true, position: 'top', color: fg, formatter: (p) => (p.value == null ? '' : p.value + '%') },
          data: units.map((u) => ({ value: val(u.current[key]), itemStyle: insufficient(u.current[key]) ? { color: dark ? '#64748b' : '#94a3b8', decal: { symbol: 'rect', dashArrayX: [1, 0], dashArrayY: [3, 3], rotation: -Math.PI / 4 } } : undefined })) },
        { name: prevLabel(), type: 'bar', barMaxWidth: 36, itemStyle: { color: dark ? '#7c8aa0' : '#cbd5e1' },
          data: units.map((u) => val(u.previous && u.previous[key])) },
      ],
    }, notMerge);
  }

  // ---------------------------------------------------------------- whistles
  const STAGES = ['signed', 'contacted', 'arrived'];
  let wSortKey = '';
  let wSortDir = 0; // as the rates table's
  const stageOf = (d, s) => (d.stages || []).find((x) => x.stage === s);
  const secsOrNull = (v) => (typeof v === 'number' && v >= 0 ? v : null);
  // whistleColumns: the sortable columns of the whistle audit (key, sort value; null sorts last).
  function whistleColumns(byRegion) {
    const cols = [
      { key: 'dept', text: true, sort: (d) => (byRegion ? (whistleName(d.dept) || d.dept) : (deptName(d.dept) || d.dept)) },
      { key: 'summoned', sort: (d) => d.summoned },
    ];
    for (const s of STAGES) {
      cols.push({ key: s + '_p50', sort: (d) => secsOrNull((stageOf(d, s) || {}).p50_s) },
        { key: s + '_p90', sort: (d) => secsOrNull((stageOf(d, s) || {}).p90_s) },
        { key: s + '_on_time', sort: (d) => { const o = (stageOf(d, s) || {}).on_time; return o && typeof o.value === 'number' ? o.value : null; } });
    }
    cols.push({ key: 'resolved_p50', sort: (d) => secsOrNull(d.resolved && d.resolved.p50_s) },
      { key: 'scores', sort: (d) => d.scores },
      { key: 'mean_score', sort: (d) => (typeof d.mean_score === 'number' ? d.mean_score : null) },
      { key: 'on_time', sort: (d) => (d.on_time && d.on_time.enough && typeof d.on_time.value === 'number' ? d.on_time.value : null) });
    return cols;
  }
  // whistleName is a region's name (by region) from the whistle audit's reply.
  const whistleName = (code) => (Z.whistles && Z.whistles.names && Z.whistles.names[code]) || '';
  function sortHead(key, label, extra, sortK, sortD) {
    const on = key === sortK && sortD;
    const aria = on ? (sortD > 0 ? 'ascending' : 'descending') : 'none';
    return '<th data-key="' + key + '" class="au-sortable' + (extra ? ' ' + extra : '') + (on ? ' au-sorted' : '') + '" aria-sort="' + aria + '" tabindex="0">' +
      esc(label) + '<span class="au-sort-ind">' + (on ? (sortD > 0 ? '▲' : '▼') : '↕') + '</span></th>';
  }
  function renderWhistles() {
    const rep = Z.whistles;
    const head = $('whistles-head');
    const byRegion = current ? current.by === 'region' : form.by.value === 'region';
    const st = t('stage');
    const th = (key, label, extra) => sortHead(key, label, extra, wSortKey, wSortDir);
    setHTML(head, '<tr>' + th('dept', byRegion ? t('w_region') : t('w_dept'), 'au-left').replace('<th ', '<th rowspan="2" ') +
      th('summoned', t('summoned')).replace('<th ', '<th rowspan="2" ') +
      STAGES.map((s) => '<th colspan="3" class="au-group-h">' + esc(st[s]) + '</th>').join('') +
      [['resolved_p50', st.resolved + ' p50'], ['scores', t('evaluations')], ['mean_score', t('mean_score')], ['on_time', t('overall_ontime')]]
        .map(([k, l]) => th(k, l).replace('<th ', '<th rowspan="2" ')).join('') +
      '</tr><tr>' + STAGES.map((s) => th(s + '_p50', 'p50') + th(s + '_p90', 'p90') + th(s + '_on_time', t('ontime_pct'))).join('') + '</tr>');
    const all = rep ? rep.depts || [] : [];
    // The 未定位 row (by region) is never ranked: it stays last whatever the sort.
    const isTail = (d) => d.dept === '' && byRegion;
    const cols = whistleColumns(byRegion);
    const depts = sortRows(all.filter((d) => !isTail(d)), cols.find((c) => c.key === wSortKey), wSortDir).concat(all.filter(isTail));
    const sel = list.open && list.audit === 'whistles' ? list.unit : null;
    patchRows($('whistles-body'), depts.map((d) => {
      const unit = isTail(d) ? '<span class="au-unlocated">' + esc(t('unlocated_row')) + '</span> <span class="au-muted">(' + esc(t('not_ranked')) + ')</span>'
        : byRegion ? named(d.dept, whistleName(d.dept)) : deptCell(d.dept);
      const cells = [{ cls: 'au-left', col: 'dept', html: unit }, { col: 'summoned', html: String(d.summoned) }];
      for (const s of STAGES) {
        const x = stageOf(d, s);
        if (!x) { cells.push({ html: '' }, { html: '' }, { html: '' }); continue; }
        cells.push({ col: s + '_p50', html: hrs(x.p50_s) || dash() }, { col: s + '_p90', html: hrs(x.p90_s) || dash() },
          { col: s + '_on_time', html: (pct(x.on_time.value) || dash()) + '<div class="au-sub au-frac">' + x.on_time.num + '/' + x.on_time.den + '</div>' });
      }
      cells.push({ col: 'resolved_p50', html: (d.resolved && hrs(d.resolved.p50_s)) || dash() }, { col: 'scores', html: String(d.scores) },
        { col: 'mean_score', html: typeof d.mean_score === 'number' ? d.mean_score.toFixed(2) : dash() });
      const o = d.on_time || {};
      const p = rep.previous && rep.previous[d.dept];
      let h = '<div class="au-rate"><span class="au-val">' + (pct(o.value) || dash()) + '</span> ';
      // The 未定位 row is never ranked (its label says so): no sample flag, no rank.
      if (isTail(d)) h += '';
      else if (!o.enough) h += '<span class="au-badge au-badge-warn" data-insufficient>' + esc(t('insufficient')) + '</span>';
      else if (o.rank) h += '<span class="au-rank' + (o.rank === 1 ? ' au-rank-1' : '') + '">' + esc(fmt(t('rank'), { n: o.rank })) + '</span>';
      h += '</div><div class="au-sub"><span class="au-frac">' + (o.num || 0) + '/' + (o.den || 0) + '</span> · ' + esc(t('prev')) + ' ';
      if (p && p.on_time && typeof p.on_time.value === 'number') {
        h += pct(p.on_time.value);
        if (typeof o.value === 'number') {
          const dd = (o.value - p.on_time.value) * 100;
          h += ' <span class="' + (Math.abs(dd) < 0.05 ? 'au-flat' : dd > 0 ? 'au-up' : 'au-down') + '">' + (Math.abs(dd) < 0.05 ? '→' : dd > 0 ? '↑+' : '↓') + dd.toFixed(1) + '</span>';
        }
      } else h += esc(t('none'));
      cells.push({ cls: 'au-ratecell', col: 'on_time', html: h + '</div>' });
      return { key: d.dept, attrs: { 'data-dept': d.dept, title: t('row_tip') }, cls: 'au-clickable' + (d.dept === sel ? ' au-selected' : ''), cells };
    }));
    $('whistles-empty').hidden = !rep || all.length > 0;
    $('whistles-summary').textContent = rep ? fmt(t('summary_whistles'), { n: rep.whistles, m: rep.min_sample }) : '';
    renderReconcile($('whistles-reconcile'), rep && rep.reconcile, 'whistles', byRegion ? 'region' : 'dept');
  }
  function onWhistleHeadClick(ev) {
    const el = ev.target.closest('th[data-key]');
    if (!el) return;
    const key = el.dataset.key;
    if (wSortKey !== key) {
      wSortKey = key;
      wSortDir = key === 'dept' ? 1 : -1; // names A→Z first, figures highest (slowest) first
    } else {
      wSortDir = -wSortDir;
    }
    Z.whistleSort = { key: wSortKey, dir: wSortDir };
    renderWhistles();
  }

  // ---------------------------------------------------------------- repeats
  function caseLink(id) {
    return '<a href="#case-' + encodeURIComponent(id) + '" class="au-case-link au-mono" data-case="' + esc(id) + '">' + esc(id) + '</a>';
  }
  function renderRepeats() {
    const reps = (Z.rates && Z.rates.repeats) || [];
    patchRows($('repeats-body'), reps.map((r) => ({
      key: r.case_id + '>' + r.repeat_of,
      cells: [{ cls: 'au-left', html: caseLink(r.case_id) }, { cls: 'au-left', html: caseLink(r.repeat_of) }, { cls: 'au-left', html: esc(when(r.reported)) },
        { cls: 'au-left', html: deptCell(r.dept) }, { cls: 'au-left', html: named(r.region, r.region_name || '') }],
    })));
    $('repeats-empty').hidden = !Z.rates || reps.length > 0;
    const total = Z.rates && Number.isFinite(Z.rates.repeats_total) ? Z.rates.repeats_total : reps.length;
    $('repeats-count').textContent = !Z.rates ? ''
      : total > reps.length ? fmt(t('n_repeats_of'), { n: reps.length, total }) : fmt(t('n_repeats'), { n: reps.length });
  }

  // ---------------------------------------------------------------- a unit's cases
  // A unit's row (three rates or whistle audit) opens its cases of the period, a page at a time
  // (GET /api/v1/audit/cases); a case opens its timeline.
  const CASES_PAGE = 50;
  const list = { open: false, audit: 'rates', unit: '', by: 'dept', sort: 'reported', late: false, offset: 0, gen: 0, error: '' };
  {
    const l = params.get('list');
    if ((l === 'rates' || l === 'whistles') && params.has('unit')) {
      Object.assign(list, { open: true, audit: l, unit: params.get('unit'), by: params.get('by') === 'region' ? 'region' : 'dept',
        sort: ['reported', 'sign', 'close', 'arrive'].includes(params.get('lsort')) ? params.get('lsort') : (l === 'whistles' ? 'arrive' : 'reported'),
        late: params.get('late') === '1' });
    }
  }
  // sortForColumn is the sort a rates column's click opens a unit's cases with.
  const sortForColumn = (col) => ({ response: 'sign', resolution: 'close', satisfaction: 'close', on_time: 'close', close_p50: 'close', close_p90: 'close' })[col] || 'reported';

  function openUnit(audit, unit, sort) {
    Object.assign(list, { open: true, audit, unit, by: current ? current.by || 'dept' : 'dept', sort, offset: 0 });
    list.late = $('cases-late').checked;
    writeURL(queryParams(), openCase);
    renderRates();
    renderWhistles();
    loadCases(false);
    $('sec-cases').scrollIntoView({ block: 'start' });
  }
  function closeList() {
    list.open = false;
    list.gen++;
    Z.cases = null;
    renderCases();
  }

  async function loadCases(quiet) {
    if (!list.open || !current) return;
    const gen = ++list.gen;
    const q = Object.assign({}, current, { audit: list.audit, unit: list.unit, sort: list.sort, limit: CASES_PAGE, offset: list.offset });
    if (list.late) q.late = '1';
    if (!quiet) {
      Z.cases = null;
      list.error = '';
      renderCases(true);
    }
    try {
      const r = await callAPI('/api/v1/audit/cases', q);
      if (gen !== list.gen) return;
      list.error = '';
      if (JSON.stringify(r) === replyText.cases) return;
      replyText.cases = JSON.stringify(r);
      Z.cases = r;
      renderCases();
    } catch (e) {
      if (gen !== list.gen) return;
      if (quiet) return; // a background refresh keeps what is shown; the banner says the rest
      Z.cases = null;
      replyText.cases = '';
      list.error = e.message;
      renderCases();
      showError('/api/v1/audit/cases', e);
    }
  }

  const dur = (secs) => time.duration(secs, L.lang);
  const badge = (cls, txt, attr) => ' <span class="au-badge ' + cls + '"' + (attr || '') + '>' + esc(txt) + '</span>';
  const muted = (txt) => '<span class="au-muted">' + esc(txt) + '</span>';
  // listUnitName names the list's unit in the page's language.
  function listUnitName() {
    if (list.unit === '') return t(list.by === 'region' ? 'unlocated_row' : 'not_dispatched');
    if (list.by !== 'region') return deptName(list.unit) || list.unit;
    const u = Z.rates && (Z.rates.units || []).find((x) => x.unit === list.unit);
    return (u && u.name) || whistleName(list.unit) || (Z.cases && Z.cases.name) || list.unit;
  }

  function signCell(r, asOf) {
    if (!r.dispatched) return muted(t('not_dispatched_yet'));
    let h;
    if (typeof r.sign_s === 'number') h = esc(dur(r.sign_s));
    else if (!r.closed) h = '<span class="au-wait">' + esc(fmt(t('waiting'), { d: dur((asOf - Date.parse(r.dispatched)) / 1000) })) + '</span>';
    else h = dash();
    if (r.responded === true) h += badge('au-badge-ok', t('resp_ok'), ' data-responded="1"');
    else if (r.responded === false) h += badge('au-badge-bad', t('resp_late'), ' data-responded="0"');
    return h;
  }
  function arriveCell(r, asOf) {
    const ws = r.whistles || [];
    if (!ws.length) return '<span class="au-muted" title="' + esc(t('no_whistle')) + '">' + esc(t('none')) + '</span>';
    const who = list.audit !== 'whistles' || list.by === 'region';
    const shown = ws.slice(0, 2).map((w) => {
      const arrived = (w.stages || []).find((x) => x.stage === 'arrived') || {};
      let h = who ? esc(deptName(w.dept) || w.dept) + ' ' : '';
      if (typeof w.arrive_s === 'number') {
        h += '<span data-arrive="' + w.arrive_s + '">' + esc(dur(w.arrive_s)) + '</span>';
      } else {
        let end = asOf;
        if (w.resolved && Date.parse(w.resolved) < end) end = Date.parse(w.resolved); // the clocks stop at the whistle's resolution
        h += '<span class="au-wait">' + esc(fmt(t('arrive_wait'), { d: dur((end - Date.parse(w.blown)) / 1000) })) + '</span>';
      }
      return h + (arrived.late ? badge('au-badge-bad', t('resp_late')) : typeof w.arrive_s === 'number' ? badge('au-badge-ok', t('resp_ok')) : '');
    });
    return shown.join('<br>') + (ws.length > 2 ? ' <span class="au-muted">+' + (ws.length - 2) + '</span>' : '');
  }
  function closeCell(r, asOf) {
    if (typeof r.close_s === 'number') return esc(dur(r.close_s));
    if (r.not_assessed) return muted(t('not_assessed') + ' · ' + reasonName(r.close_reason));
    if (!r.closed) return '<span class="au-wait">' + esc(fmt(t('open_for'), { d: dur((asOf - Date.parse(r.reported)) / 1000) })) + '</span>';
    return dash();
  }
  function onTimeCell(r) {
    if (r.on_time === true) return badge('au-badge-ok', t('ontime_yes'), ' data-on-time="1"');
    if (r.on_time === false) return badge('au-badge-bad', t('ontime_no'), ' data-on-time="0"');
    if (r.overdue) return badge('au-badge-bad', t('overdue_open'), ' data-on-time="overdue"');
    return dash();
  }

  function renderCases(loading) {
    const r = Z.cases;
    const tbl = $('cases-table');
    const empty = $('cases-empty');
    $('cases-sort').value = list.sort;
    $('cases-late').checked = list.late;
    $('sec-cases').dataset.open = list.open ? '1' : '';
    if (!list.open) {
      setHTML($('cases-title'), '');
      tbl.hidden = true;
      empty.hidden = false;
      empty.textContent = t('cases_hint');
      $('cases-pager').hidden = true;
      setHTML($('cases-defs'), '');
      return;
    }
    setHTML($('cases-title'), esc(fmt(t('cases_of'), { name: listUnitName(), kind: t('kind_' + list.audit) })) +
      (list.unit ? ' <span class="au-mono au-muted">' + esc(list.unit) + '</span>' : ''));
    const heads = ['case', 'c_reported', 'c_region', 'c_category', 'c_sign', 'c_arrive', 'c_close', 'c_ontime', 'c_status'];
    setHTML($('cases-head'), heads.map((k) => '<th class="au-left">' + esc(t(k)) + '</th>').join(''));
    if (!r) {
      tbl.hidden = true;
      empty.hidden = false;
      empty.textContent = loading ? t('loading') : list.error || '';
      $('cases-pager').hidden = true;
      return;
    }
    const asOf = Date.parse(r.as_of) || serverNow();
    const rows = r.rows || [];
    patchRows($('cases-body'), rows.map((c) => ({
      key: c.case_id,
      attrs: { 'data-case': c.case_id },
      cls: 'au-clickable' + (c.case_id === openCase ? ' au-selected' : ''),
      cells: [
        { cls: 'au-left', col: 'case', html: caseLink(c.case_id) },
        { cls: 'au-left', col: 'reported', html: esc(when(c.reported, true).slice(0, 11)) },
        { cls: 'au-left au-ellipsis', col: 'region', html: c.region ? '<span title="' + esc(c.region) + '">' + esc(c.region_name || c.region) + '</span>' : muted(t('unlocated_row')) },
        { cls: 'au-left', col: 'category', html: esc(L.cat(c.category)) },
        { cls: 'au-left', col: 'sign', html: signCell(c, asOf) },
        { cls: 'au-left', col: 'arrive', html: arriveCell(c, asOf) },
        { cls: 'au-left', col: 'close', html: closeCell(c, asOf) },
        { cls: 'au-left', col: 'on_time', html: onTimeCell(c) },
        { cls: 'au-left', col: 'status', html: esc(stName(c.status)) + (c.close_reason ? badge('au-badge-warn', reasonName(c.close_reason)) : '') },
      ],
    })));
    tbl.hidden = rows.length === 0;
    empty.hidden = rows.length > 0;
    if (!rows.length) empty.textContent = t('cases_none');
    $('cases-pager').hidden = r.total <= rows.length && r.offset === 0;
    $('cases-page').textContent = rows.length ? fmt(t('cases_page'), { from: r.offset + 1, to: r.offset + rows.length, total: r.total }) : '';
    $('cases-prev').disabled = r.offset <= 0;
    $('cases-next').disabled = r.offset + rows.length >= r.total;
    const defs = (r.definitions_i18n && r.definitions_i18n[L.lang]) || {};
    const label = { rows: t('cases_title'), sign: t('c_sign'), arrive: t('c_arrive'), close: t('c_close'), status: t('c_status'), waiting: t('sort_by') };
    setHTML($('cases-defs'), Object.keys(label).filter((k) => defs[k]).map((k) => '<dt>' + esc(label[k]) + '</dt><dd>' + esc(defs[k]) + '</dd>').join(''));
  }

  // ---------------------------------------------------------------- case timeline
  async function loadCase(id) {
    id = String(id || '').trim();
    if (!id) return;
    openCase = id;
    $('case-id').value = id;
    writeURL(current || queryParams(), id);
    if (Z.cases) renderCases();
    const panel = $('case-panel');
    setHTML(panel, '<div class="au-empty">' + esc(t('loading')) + '</div>');
    try {
      const r = await callAPI('/api/v1/cases/' + encodeURIComponent(id));
      if (openCase !== id) return;
      Z.timeline = r;
      replyText.timeline = JSON.stringify(r);
      if (tzOffsetMin === null && r.events && r.events[0]) tzOffsetMin = time.offsetOf(r.events[0].at);
      renderCase();
    } catch (e) {
      if (openCase !== id) return;
      Z.timeline = null;
      replyText.timeline = '';
      setHTML(panel, '<div class="au-empty au-error-inline">' + esc(e.message) + '</div>');
      showError('/api/v1/cases/' + id, e);
    }
  }

  function table(cls, headers, rows) {
    if (!rows.length) return '<div class="au-empty au-empty-sm">' + esc(t('no_rows')) + '</div>';
    return '<table class="au-table au-table-sm ' + cls + '"><thead><tr>' + headers.map((h) => '<th class="au-left">' + esc(h) + '</th>').join('') +
      '</tr></thead><tbody>' + rows.join('') + '</tbody></table>';
  }
  const stName = (s) => (s ? (t('statuses')[s] || s) : '∅');
  const reasonName = (r) => t('close_reasons')[r] || r;

  function renderCase() {
    const r = Z.timeline;
    const panel = $('case-panel');
    if (!r) return;
    const tl = r.timeline || {};
    let h = '<div class="au-case-head"><span class="au-mono au-case-id">' + esc(r.case_id) + '</span> <span class="au-status au-status-' + esc(tl.status) + '">' +
      esc(stName(tl.status)) + '</span>' + (tl.close_reason ? ' <span class="au-badge au-badge-warn au-close-reason" title="' + esc(t('close_reason')) + '">' + esc(reasonName(tl.close_reason)) + '</span>' : '') +
      ' <span class="au-badge ' + (r.pii === 'shown' ? 'au-badge-warn' : 'au-badge-info') + '">' + esc(r.pii === 'shown' ? t('pii_shown') : t('pii_masked')) + '</span>';
    if (tl.returns) h += ' <span class="au-muted">' + esc(fmt(t('returns'), { n: tl.returns })) + '</span>';
    if (tl.reopens) h += ' <span class="au-muted">' + esc(fmt(t('reopens'), { n: tl.reopens })) + '</span>';
    h += '</div>';
    h += '<div class="au-flags">' + (tl.flags || []).map((f) => '<span class="au-flag au-flag-' + esc(f) + '">' + esc(t('flag_names')[f] || f) + '</span>').join('') + '</div>';
    if (tl.category_text) h += '<div class="au-category-text"><span class="au-k">' + esc(t('category_text')) + '</span> ' + esc(tl.category_text) + '</div>';

    h += '<h3>' + esc(t('steps')) + '</h3>' + table('au-steps', ['#', t('at'), t('type'), t('dept'), t('from_to'), t('reason')],
      (tl.steps || []).map((s, i) => '<tr class="' + (s.legal ? '' : 'au-illegal') + '" data-step="' + esc(s.type) + '"><td>' + (i + 1) + '</td><td>' + esc(when(s.at)) +
        '</td><td class="au-mono">' + esc(s.type) + (s.close_reason ? ' <span class="au-close-reason">' + esc(reasonName(s.close_reason)) + '</span>' : '') + '</td><td>' + deptCell(s.dept) + '</td><td>' + esc(stName(s.from)) + ' → <b>' + esc(stName(s.to)) +
        '</b></td><td>' + (s.legal ? '<span class="au-muted">' + esc(t('legal')) + '</span>' + (s.reason ? ' ' + esc(s.reason) : '') : '<span class="au-badge au-badge-bad">' + esc(t('illegal')) + '</span> ' + esc(s.reason || '')) + '</td></tr>'));

    // Dispatches without a deadline start no clock: listed with their department, never late.
    const timed = new Set((tl.clocks || []).map((c) => (c.dept || '') + '|' + Date.parse(c.dispatched)));
    const clockRows = (tl.clocks || []).map((c) => ({ at: Date.parse(c.dispatched), html: '<tr class="' + (c.late ? 'au-late' : '') + '"><td>' + deptCell(c.dept) + '</td><td>' + esc(when(c.dispatched)) + '</td><td>' +
        esc(when(c.deadline)) + '</td><td>' + esc(when(c.ended)) + '</td><td>' + esc(t('ended_names')[c.ended_by] || c.ended_by || '') + '</td><td>' +
        (c.late ? '<span class="au-badge au-badge-bad">' + esc(t('late')) + (c.overdue_s ? ' ' + time.hoursMinutes(c.overdue_s) : '') + '</span>' : '<span class="au-ok">' + esc(t('on_time_ok')) + '</span>') + '</td></tr>' }));
    for (const s of tl.steps || []) {
      if (s.type !== 'case.dispatched' || timed.has((s.dept || '') + '|' + Date.parse(s.at))) continue;
      clockRows.push({ at: Date.parse(s.at), html: '<tr data-no-deadline><td>' + deptCell(s.dept) + '</td><td>' + esc(when(s.at)) + '</td><td><span class="au-muted">' +
        esc(t('no_deadline')) + '</span></td><td></td><td></td><td>' + dash() + '</td></tr>' });
    }
    clockRows.sort((a, b) => a.at - b.at);
    h += '<h3>' + esc(t('clocks')) + '</h3>' + table('au-clocks', [t('dept'), t('dispatched_at'), t('deadline'), t('ended'), t('ended_by'), t('late')], clockRows.map((r) => r.html));

    h += '<h3>' + esc(t('whistles')) + '</h3>';
    if (!(tl.whistles || []).length) h += '<div class="au-empty au-empty-sm">' + esc(t('no_rows')) + '</div>';
    for (const w of tl.whistles || []) {
      h += '<div class="au-whistle"><div><span class="au-mono">' + esc(w.id) + '</span> · ' + esc(t('kind')) + ' <b>' + esc(w.kind) + '</b> · ' + esc(t('blown')) + ' ' + esc(when(w.blown)) +
        (w.resolved ? ' · ' + esc(t('resolved_at')) + ' ' + esc(when(w.resolved)) : '') + (w.error ? ' <span class="au-badge au-badge-bad">' + esc(w.error) + '</span>' : '') + '</div>';
      const rows = [];
      for (const dept of Object.keys(w.depts || {}).sort()) {
        for (const s of w.depts[dept]) {
          rows.push('<tr class="' + (s.late ? 'au-late' : '') + '"><td>' + deptCell(dept) + '</td><td>' + esc(t('stage')[s.stage] || s.stage) + '</td><td>' + esc(when(s.deadline)) +
            '</td><td>' + esc(when(s.reached)) + '</td><td>' + (s.reached ? '' : esc(time.hoursMinutes(s.left_s))) + '</td><td><span class="au-light au-light-' + esc(s.light) + '"></span>' + esc(s.light) + '</td></tr>');
        }
      }
      h += table('au-wclocks', [t('dept'), t('stage').signed + '/' + t('stage').contacted + '/' + t('stage').arrived, t('deadline'), t('reached'), t('left'), t('light')], rows) + '</div>';
    }

    const evs = tl.evaluations || [];
    h += '<h3>' + esc(t('evals')) + '</h3>' + table('au-evals', [t('id'), t('whistles'), t('dept'), t('score'), t('at'), t('by_source'), t('supersedes')],
      evs.map((e) => '<tr class="' + (evs.some((x) => x.supersedes === e.id) ? 'au-superseded' : '') + '"><td class="au-mono">' + esc(e.id) + '</td><td class="au-mono">' + esc(e.whistle_id) +
        '</td><td>' + deptCell(e.dept) + '</td><td>' + e.score + '</td><td>' + esc(when(e.at)) + '</td><td class="au-mono">' + esc(e.by || '') + '</td><td class="au-mono">' + esc(e.supersedes || '') + '</td></tr>'));

    const skip = new Set(['id', 'type', 'case_id', 'at', 'dept', 'received', 'region_path']);
    h += '<h3>' + esc(t('events')) + '</h3>' + table('au-events', [t('at'), t('type'), t('id'), t('dept'), t('fields')],
      (r.events || []).map((e) => {
        const fields = Object.keys(e).filter((k) => !skip.has(k) && e[k] !== '' && e[k] != null).map((k) => {
          let v = e[k];
          if (k === 'deadline') v = when(v);
          else if (k === 'category') v = L.cat(v) !== v ? L.cat(v) + ' (' + v + ')' : v;
          else if (k === 'depts' && Array.isArray(v)) v = v.map((d) => (deptName(d) ? deptName(d) + ' (' + d + ')' : d)).join(', ');
          else if (typeof v === 'object') v = JSON.stringify(v);
          return '<span class="au-kv"><span class="au-k">' + esc(k) + '</span> ' + esc(v) + '</span>';
        });
        if (e.region_path && e.region_path.length) fields.push('<span class="au-kv"><span class="au-k">region_path</span> ' + esc(e.region_path.join(' › ')) + '</span>');
        return '<tr><td>' + esc(when(e.at)) + '</td><td class="au-mono">' + esc(e.type) + '</td><td class="au-mono">' + esc(e.id) + '</td><td>' + deptCell(e.dept) + '</td><td class="au-fields">' + fields.join(' ') + '</td></tr>';
      }));
    const top = panel.scrollTop;
    if (setHTML(panel, h)) panel.scrollTop = top;
  }

  // ---------------------------------------------------------------- live (live.js)
  const state = {
    topics: new Map(), // the subscribed topic, only while the period includes the present
    skewMs: 0,
    tzMin: null,
    lastDataAt: '',
    lastMsgAt: 0,
    downSince: performance.now(),
    topicError: '',
  };
  let hadSnapshot = false; // a snapshot of the topic arrived: the next one is a resync
  let changed = false; // a message of this frame concerns the current query

  const live = window.ZhiliLive({
    state, Z, t, token: TOKEN, wsPath: '/ws', staleMs: STALE_MS, graceMs: DOWN_GRACE_MS, pingMs: PING_MS,
    backoffMin: BACKOFF_MIN, backoffMax: BACKOFF_MAX,
    apply(m) {
      if (m.topic !== Z.topic) return;
      if (m.op === 'snapshot') {
        // The first snapshot is what the first query saw; a later one follows a reconnect or a
        // resync, when events may have been missed.
        if (hadSnapshot) changed = true;
        hadSnapshot = true;
        return;
      }
      const evs = (m.data && Array.isArray(m.data.events)) ? m.data.events : [];
      const cat = current && current.category;
      if (!cat || evs.some((e) => e && e.category === cat)) changed = true;
    },
    onChange() {
      if (!changed) return;
      changed = false;
      noteChange();
    },
    onTime() { /* the clock (skew, zone) is kept in state */ },
  });

  let tokenRegion = ''; // the region a region-limited token sees, learnt when root is refused
  let regionLookup = false;
  function topicRegion() {
    const r = current && current.region;
    if (r && /^[A-Za-z0-9._-]{1,64}$/.test(r)) return r;
    return tokenRegion || 'root';
  }

  // setLive switches between a live period (subscribed, refreshed) and a past one (neither).
  function setLive(on) {
    if (on !== Z.live) {
      Z.live = on;
      renderLiveBadge();
    }
    const topic = on ? 'cases:' + topicRegion() : '';
    if (topic === Z.topic) return;
    if (Z.topic) {
      state.topics.delete(Z.topic);
      live.send({ op: 'unsub', topic: Z.topic });
    }
    Z.topic = topic;
    state.topicError = '';
    hadSnapshot = false;
    changed = false;
    if (topic) {
      state.topics.set(topic, { seq: null, resyncAt: 0 });
      live.send({ op: 'sub', topic });
    }
  }

  function renderLiveBadge() {
    const el = $('au-live');
    const mode = Z.live === null ? 'pending' : Z.live ? 'live' : 'past';
    if (el.dataset.mode !== mode) el.dataset.mode = mode;
    $('au-live-text').textContent = t(mode === 'live' ? 'live_on' : mode === 'past' ? 'live_past' : 'live_pending');
  }

  // syncBanner shows the offline banner when the socket's part (#stale-banner, live.js) or a
  // failed query's part is on.
  function syncBanner() {
    const rest = Z.restError !== '';
    const restEl = $('au-rest-fail');
    if (rest) {
      const txt = t('rest_fail') + Z.restError + ' · ' + t('retrying');
      if (restEl.textContent !== txt) restEl.textContent = txt;
    }
    if (restEl.hidden === rest) restEl.hidden = !rest;
    const show = rest || !$('stale-banner').hidden;
    if (Z.offline !== show) {
      Z.offline = show;
      $('au-offline').hidden = !show;
      document.body.classList.toggle('au-is-offline', show);
    }
  }
  new MutationObserver(syncBanner).observe($('stale-banner'), { attributes: true, attributeFilter: ['hidden'] });

  // The root topic is refused to a region-limited token: learn its region once and subscribe to it.
  function checkRefused() {
    if (regionLookup || Z.topic !== 'cases:root' || !/^forbidden/.test(state.topicError)) return;
    regionLookup = true;
    callAPI('/api/v1/regions', { root: 'root', depth: 0 }).then((fc) => {
      const f = fc && fc.features && fc.features[0];
      const code = f && f.properties && f.properties.code;
      if (!code) return;
      tokenRegion = String(code);
      if (Z.live) {
        setLive(false);
        setLive(true);
        renderLiveBadge();
      }
    }).catch((e) => console.warn('regions:', e));
  }

  let wasConnected = false;
  let beenUp = false;
  function tick() {
    live.checkStale();
    syncBanner();
    if (Z.live && periodEnd && serverNow() >= periodEnd) setLive(false); // the period has ended
    if (Z.connected !== wasConnected) {
      wasConnected = Z.connected;
      // Back after an outage: re-run the queries when the data may have moved on or the last
      // query failed.
      if (Z.connected && beenUp && (Z.live || Z.restError)) requestRefresh();
      if (Z.connected) beenUp = true;
    }
    checkRefused();
  }

  // ---------------------------------------------------------------- language and theme
  const bar = window.Zhili.chrome.frame({
    L,
    title: () => t('doc_title'),
    onSwitch() {
      writeURL(queryParams(), openCase);
      rerender();
    },
    onNames: rerender,
  });
  function applyTheme() {
    document.documentElement.dataset.theme = theme;
  }
  function rerender() {
    bar.applyLang();
    fillCategoryList();
    renderRates();
    renderWhistles();
    renderCases();
    if (Z.timeline) renderCase();
    renderLiveBadge();
    live.checkStale();
    syncBanner();
  }

  // ---------------------------------------------------------------- wiring
  applyTheme();
  bar.applyLang();
  initControls();
  fillCategoryList();
  $('au-form').addEventListener('submit', (ev) => { ev.preventDefault(); runQuery(); });
  for (const b of document.querySelectorAll('[data-quick]')) {
    b.addEventListener('click', () => {
      const [f, to] = quick(b.dataset.quick);
      form.from.value = f;
      form.to.value = to;
      runQuery();
    });
  }
  form.by.addEventListener('change', syncLevel);
  form.from.addEventListener('input', syncQuick);
  form.to.addEventListener('input', syncQuick);
  $('rates-head').addEventListener('click', onHeadClick);
  $('rates-head').addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); onHeadClick(ev); } });
  $('chart-rate').addEventListener('change', renderChart);
  $('whistles-head').addEventListener('click', onWhistleHeadClick);
  $('whistles-head').addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); onWhistleHeadClick(ev); } });
  document.addEventListener('click', (ev) => {
    const a = ev.target.closest('[data-case]');
    if (!a) return;
    ev.preventDefault();
    loadCase(a.dataset.case);
    $('sec-case').scrollIntoView({ block: 'nearest' });
  });
  // A unit's row opens its cases: from the three rates sorted by the column clicked, from the
  // whistle audit by the slowest arrival.
  $('rates-body').addEventListener('click', (ev) => {
    const tr = ev.target.closest('tr[data-unit]');
    if (!tr || ev.target.closest('a')) return;
    const td = ev.target.closest('td[data-col]');
    openUnit('rates', tr.dataset.unit, sortForColumn(td && td.dataset.col));
  });
  $('whistles-body').addEventListener('click', (ev) => {
    const tr = ev.target.closest('tr[data-dept]');
    if (!tr || ev.target.closest('a')) return;
    openUnit('whistles', tr.dataset.dept, 'arrive');
  });
  $('cases-sort').addEventListener('change', () => {
    list.sort = $('cases-sort').value;
    list.offset = 0;
    writeURL(current || queryParams(), openCase);
    loadCases(false);
  });
  $('cases-late').addEventListener('change', () => {
    list.late = $('cases-late').checked;
    list.offset = 0;
    writeURL(current || queryParams(), openCase);
    loadCases(false);
  });
  for (const [id, step] of [['cases-prev', -1], ['cases-next', 1]]) {
    $(id).addEventListener('click', () => {
      list.offset = Math.max(0, list.offset + step * CASES_PAGE);
      loadCases(false);
    });
  }
  $('case-form').addEventListener('submit', (ev) => { ev.preventDefault(); loadCase($('case-id').value); });
  $('theme-switch').addEventListener('click', () => {
    theme = theme === 'dark' ? 'light' : 'dark';
    storageSet('zhili.audit.theme', theme);
    applyTheme();
    renderChart();
  });
  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => chart && chart.resize(), 100);
  });

  renderLiveBadge();
  live.connect();
  runQuery();
  if (openCase) loadCase(openCase);
  setInterval(tick, 1000);
  Z.dayOf = dayOf; // for tests and the console
})();
