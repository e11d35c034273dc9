/* Zhili 研判 briefing page, served at /briefing: one kept briefing (GET /api/v1/briefings/<period>)
 * for leaders, every section in Chinese first (English by the 中/EN switch), printable.
 *
 * Page parameters:
 *   ?token=       the token (sent to the API)
 *   ?period=      day:YYYY-MM-DD or week:YYYY-Www (default yesterday's daily briefing)
 *   ?region=      region code (default the token's home region)
 *   ?lang=en      start in English
 *   ?print=1      the print layout (A4, no controls); the PDF renderer opens the page so
 *
 * When everything is drawn (the briefing, the map and the chart) the page sets
 * <body data-ready="1">; when the briefing cannot be shown, data-ready="error" and
 * data-error="<message>". window.__zhili holds the briefing for tests.
 */
(function () {
  'use strict';
  const { $, esc, fmt, percent } = window.Zhili;
  const T = window.Zhili.time;
  const M = window.Zhili.map;

  const params = new URLSearchParams(location.search);
  const TOKEN = params.get('token') || '';
  const PRINT = params.get('print') === '1';
  const REGION = params.get('region') || '';
  const Z = (window.__zhili = { ready: false, errors: [] });

  const TEXT = {
    zh: {
      title: '研判简报', doc_title: '研判简报', loading: '加载中…', kind_day: '日报', kind_week: '周报',
      prev: '‹ 上一期', next: '下一期 ›', pdf: '下载 PDF',
      s_changes: '本期变化', s_categories: '类别变化（新增工单）', s_defs: '口径', s_hotspots: '热点区域', s_forecast: '下期预测',
      s_departments: '办理较慢的部门', s_whistles: '吹哨报到超时', s_repeats: '重复投诉', s_alerts: '预警处置',
      category: '类别', this_period: '本期', prev_period: '上期', change: '变化', place: '网格', parent: '所属', cases: '工单',
      confidence: '置信度', pattern: '新兴类别', dept: '部门', dispatched: '派单', response: '响应率', prev_response: '上期响应率',
      resolution: '解决率', satisfaction: '满意率', on_time: '按期率', close_p50: '办结中位', open: '在办', summoned: '被召集',
      late: '超时环节', st_signed: '签收', st_contacted: '联系', st_arrived: '到场', on_time_rate: '按时率', first: '首次上报',
      case_ids: '工单', raised: '触发', severity: '级别', alert: '预警', region: '区域', state: '状态', to_ack: '确认用时', to_close: '关闭用时',
      kept: '已存档', provisional: '临时', generated: '生成于 {at}（{tz}）', period_line: '统计期 {from} — {to} · 上期 {pfrom} — {pto} · 上期按同龄比较（计至 {asof}）',
      prev_val: '上期 {v}', insufficient: '样本不足', no_change: '不比较', n_cases: '{n} 件', pts: '{v} 个百分点',
      hot_summary: '新增工单 {n} 件 · 显著热点网格 {k} 个{steps}', hot_steps: ' · 新兴热点按 {step} 切分', hot_none: '本期无显著热点网格',
      hot_insufficient: '样本不足：{reasons}，不判定热点', children_hot: '显著热点{level}：{list}', children_none: '下级区域无显著热点',
      level_child: '下级区域', legend_cases: '工单数', legend_hot: '热点', bin: { 3: '99%', 2: '95%', 1: '90%' },
      nb_tag: '邻', nb_mean: '（相邻均 {m}）', nb_note: '标“邻”的网格本身案件不突出，且少于相邻网格的平均（括号内），热度来自相邻网格（Gi* 计入邻域）。',
      patterns: { new_hot: '新增热点', consecutive_hot: '连续热点', intensifying_hot: '加剧热点', persistent_hot: '持续热点', diminishing_hot: '减弱热点',
        sporadic_hot: '零星热点', oscillating_hot: '振荡热点', historical_hot: '历史热点' },
      reasons: { too_few_events: '事件太少', too_few_steps: '有工单的时段太少', no_denominator: '无分母' },
      fc_summary: '{period}：预计新增 {total} 件（各小时均值之和）', fc_mean: '预测均值', fc_band: '预测区间', fc_actual: '',
      fc_status: { insufficient: '样本不足', unavailable: '无预测', passed: '' },
      dept_none: '本期无可排名的部门', dept_insufficient: '样本不足、不排名的部门（派单少于 {m} 件）：{list}', dept_insufficient_none: '所有有工单的部门均达到最小样本 {m} 件',
      wh_summary: '本期工单上的吹哨 {n} 次，被召集部门 {u} 个', wh_none: '无超时的吹哨报到',
      rp_summary: '本期重复投诉 {n} 件；同一地点本期 {m} 件及以上的 {k} 处', rp_none: '无同一地点 {m} 件及以上的重复投诉',
      al_raised: '触发', al_acked: '已确认', al_closed: '已关闭', al_open: '未关闭', al_ack_median: '确认用时中位', al_close_median: '关闭用时中位',
      al_none: '本期无预警', al_off: '本服务未启用预警', al_more: '另有 {n} 条未列出',
      al_cov_never: '本服务尚无预警运行记录：本期的预警无从统计（不是 0 条）',
      al_cov_none: '本期无预警运行记录（记录始于 {since}）：本期的预警无从统计（不是 0 条）',
      al_cov_part: '本期有 {dur} 无预警运行记录（{gaps}）：这些时段的预警未计入',
      states: { open: '未确认', acknowledged: '已确认', closed: '已关闭' }, sev: { severe: '严重', warning: '警告', info: '提示' },
      foot: '简报 {period} · 区域 {region} · 格式 {format}。每个数字的口径见各节说明；样本不足的数字只列出、不排名、不比较。',
      err: '无法显示简报：', err_regions: '区域边界加载失败：', none: '—', n: 'n={n}',
    },
    en: {
      title: 'Briefing', doc_title: 'Briefing', loading: 'Loading…', kind_day: 'Daily', kind_week: 'Weekly',
      prev: '‹ Previous', next: 'Next ›', pdf: 'Download PDF',
      s_changes: 'What changed', s_categories: 'Categories (new cases)', s_defs: 'Definitions', s_hotspots: 'Hot spots', s_forecast: 'Forecast',
      s_departments: 'Slowest departments', s_whistles: 'Late whistle answers', s_repeats: 'Repeat complaints', s_alerts: 'Alerts',
      category: 'Category', this_period: 'This', prev_period: 'Previous', change: 'Change', place: 'Grid', parent: 'In', cases: 'Cases',
      confidence: 'Confidence', pattern: 'Emerging class', dept: 'Department', dispatched: 'Dispatched', response: 'Response', prev_response: 'Prev. response',
      resolution: 'Resolution', satisfaction: 'Satisfaction', on_time: 'On time', close_p50: 'Close p50', open: 'Open', summoned: 'Summoned',
      late: 'Late stages', st_signed: 'Signed', st_contacted: 'Contacted', st_arrived: 'Arrived', on_time_rate: 'On-time rate', first: 'First report',
      case_ids: 'Cases', raised: 'Raised', severity: 'Severity', alert: 'Alert', region: 'Region', state: 'State', to_ack: 'To ack', to_close: 'To close',
      kept: 'Kept', provisional: 'Provisional', generated: 'Generated {at} ({tz})', period_line: 'Period {from} to {to} · previous {pfrom} to {pto} · compared at the same age (up to {asof})',
      prev_val: 'previous {v}', insufficient: 'insufficient sample', no_change: 'not compared', n_cases: '{n} cases', pts: '{v} points',
      hot_summary: '{n} new cases · {k} significant hot grids{steps}', hot_steps: ' · emerging classes by {step} steps', hot_none: 'No significant hot grid in the period',
      hot_insufficient: 'Insufficient sample: {reasons}; no hot spot is called', children_hot: 'Significant hot {level}: {list}', children_none: 'No child region is a significant hot spot',
      level_child: 'child regions', legend_cases: 'cases', legend_hot: 'hot spot', bin: { 3: '99%', 2: '95%', 1: '90%' },
      nb_tag: 'nbr', nb_mean: ' (nbrs avg {m})', nb_note: 'A grid marked nbr is unremarkable by itself and has fewer cases than its neighbours on average (in brackets); it is hot through them (Gi* counts the neighbourhood). ',
      patterns: { new_hot: 'new', consecutive_hot: 'consecutive', intensifying_hot: 'intensifying', persistent_hot: 'persistent', diminishing_hot: 'diminishing',
        sporadic_hot: 'sporadic', oscillating_hot: 'oscillating', historical_hot: 'historical' },
      reasons: { too_few_events: 'too few events', too_few_steps: 'too few time steps with cases', no_denominator: 'no denominator' },
      fc_summary: '{period}: {total} new cases expected (sum of hourly means)', fc_mean: 'mean', fc_band: 'interval',
      fc_status: { insufficient: 'insufficient sample', unavailable: 'no forecast', passed: '' },
      dept_none: 'No department could be ranked', dept_insufficient: 'Not ranked, insufficient sample (fewer than {m} dispatched): {list}', dept_insufficient_none: 'Every department with cases reached the minimum sample of {m}',
      wh_summary: '{n} whistles on the period\'s cases, {u} departments summoned', wh_none: 'No late whistle answer',
      rp_summary: '{n} repeat complaints in the period; {k} places with {m} or more', rp_none: 'No place with {m} or more repeat complaints',
      al_raised: 'Raised', al_acked: 'Acknowledged', al_closed: 'Closed', al_open: 'Not closed', al_ack_median: 'Median to ack', al_close_median: 'Median to close',
      al_none: 'No alert in the period', al_off: 'Alerts are not enabled on this server', al_more: '{n} more not listed',
      al_cov_never: 'No record of the alert engine running on this server: the period\'s alerts cannot be counted (not zero)',
      al_cov_none: 'No record of the alert engine running in the period (records begin {since}): its alerts cannot be counted (not zero)',
      al_cov_part: '{dur} of the period without a record of the alert engine running ({gaps}): alerts of those times are not counted',
      states: { open: 'open', acknowledged: 'acknowledged', closed: 'closed' }, sev: { severe: 'severe', warning: 'warning', info: 'info' },
      foot: 'Briefing {period} · region {region} · format {format}. Each section says what its figures count; figures on too small a sample are shown, never ranked or compared.',
      err: 'Cannot show the briefing: ', err_regions: 'Region outlines failed: ', none: '—', n: 'n={n}',
    },
  };
  const L = window.Zhili.texts.i18n(TEXT);
  const t = (k) => L.t(k);
  const tx = (o) => (o ? (L.lang === 'en' ? o.en || o.zh : o.zh || o.en) || '' : '');

  // ---------------------------------------------------------------- periods (civil dates)
  let tzMin = 480; // the deployment's offset until a briefing says it
  const DAY_RE = /^day:(\d{4}-\d{2}-\d{2})$/;
  const WEEK_RE = /^week:(\d{4})-W(\d{2})$/;
  function bfUTC(day) {
    const [y, m, d] = day.split('-').map(Number);
    return Date.UTC(y, m - 1, d);
  }
  function bfDayStr(ms) { return new Date(ms).toISOString().slice(0, 10); }
  // bfWeekOf is the ISO week id of a day string.
  function bfWeekOf(day) {
    const ms = bfUTC(day);
    const wd = (new Date(ms).getUTCDay() + 6) % 7; // Monday 0
    const thu = ms + (3 - wd) * 86400000;
    const y = new Date(thu).getUTCFullYear();
    const week = 1 + Math.floor((thu - Date.UTC(y, 0, 1)) / (7 * 86400000));
    return 'week:' + y + '-W' + String(week).padStart(2, '0');
  }
  // bfWeekMonday is the Monday (day string) of an ISO week id.
  function bfWeekMonday(id) {
    const m = WEEK_RE.exec(id);
    const jan4 = Date.UTC(Number(m[1]), 0, 4);
    const mon = jan4 - ((new Date(jan4).getUTCDay() + 6) % 7) * 86400000;
    return bfDayStr(mon + (Number(m[2]) - 1) * 7 * 86400000);
  }
  function bfDayOfPeriod(id) {
    const d = DAY_RE.exec(id);
    if (d) return d[1];
    return WEEK_RE.test(id) ? bfWeekMonday(id) : '';
  }
  function bfShift(id, n) {
    const d = DAY_RE.exec(id);
    if (d) return 'day:' + bfDayStr(bfUTC(d[1]) + n * 86400000);
    return bfWeekOf(bfDayStr(bfUTC(bfWeekMonday(id)) + n * 7 * 86400000));
  }
  function bfToday() { return T.dayOf(Date.now(), tzMin); }
  let period = params.get('period') || 'day:' + T.addDays(bfToday(), -1);
  if (!DAY_RE.test(period) && !WEEK_RE.test(period)) period = 'day:' + T.addDays(bfToday(), -1);

  // ---------------------------------------------------------------- state
  let br = null; // the briefing shown
  let regionsFC = null; // outlines of the map
  let regionsKey = '';
  let chart = null;
  let loadSeq = 0;

  function bfSetReady(v, msg) {
    document.body.dataset.ready = v;
    if (msg) document.body.dataset.error = msg;
    else delete document.body.dataset.error;
    Z.ready = v === '1';
  }

  function bfURL(path) { return window.Zhili.apiURL(path, TOKEN); }

  function bfPush() {
    const q = new URLSearchParams(location.search);
    q.set('period', period);
    if (REGION) q.set('region', REGION);
    history.replaceState(null, '', location.pathname + '?' + q.toString());
  }

  function bfLoad() {
    const seq = ++loadSeq;
    bfSetReady('0');
    $('bf-loading').hidden = false;
    $('bf-error').hidden = true;
    bfPush();
    bfPicker();
    const q = REGION ? '?region=' + encodeURIComponent(REGION) : '';
    window.Zhili.getJSON(bfURL('/api/v1/briefings/' + period + q)).then((doc) => {
      if (seq !== loadSeq) return;
      br = doc;
      Z.briefing = doc;
      const off = T.offsetOf(doc.from);
      if (off !== null) tzMin = off;
      const key = doc.hotspots.map.root + '/' + doc.hotspots.map.depth;
      if (key === regionsKey && regionsFC) return null;
      return window.Zhili.getJSON(bfURL('/api/v1/regions?root=' + encodeURIComponent(doc.hotspots.map.root) + '&depth=' + doc.hotspots.map.depth))
        .then((fc) => { regionsFC = fc; regionsKey = key; })
        .catch((err) => { regionsFC = null; Z.errors.push(t('err_regions') + err.message); });
    }).then(() => {
      if (seq !== loadSeq) return;
      $('bf-loading').hidden = true;
      bfRender();
    }).catch((err) => {
      if (seq !== loadSeq) return;
      $('bf-loading').hidden = true;
      $('bf-main').hidden = true;
      const el = $('bf-error');
      el.hidden = false;
      el.textContent = t('err') + err.message;
      Z.errors.push(err.message);
      bfSetReady('error', err.message);
    });
  }

  // ---------------------------------------------------------------- rendering helpers
  function bfTime(at, withDate) {
    if (!at) return t('none');
    const ms = Date.parse(at);
    if (!Number.isFinite(ms)) return t('none');
    const p = T.parts(ms, tzMin);
    const hm = String(p[4]).padStart(2, '0') + ':' + String(p[5]).padStart(2, '0');
    return withDate ? T.dayOf(ms, tzMin).slice(5) + ' ' + hm : hm;
  }
  function bfDay(at) { return at ? T.dayOf(Date.parse(at), tzMin) : ''; }
  function bfLastDay(at) { return at ? T.dayOf(Date.parse(at) - 1, tzMin) : ''; }
  function bfRate(r) {
    if (!r || r.value === null || r.value === undefined) return t('none');
    const s = percent(r.value, 1);
    return r.sample === 'insufficient' ? s + ' <span class="bf-insuf" data-insufficient>' + esc(t('insufficient')) + '</span>' : esc(s);
  }
  function bfSigned(v, unit) {
    if (v === null || v === undefined) return '';
    const s = (v > 0 ? '+' : v < 0 ? '−' : '±') + Math.abs(v).toLocaleString(L.htmlLang(), { maximumFractionDigits: 1 });
    return s + (unit || '');
  }
  function bfChg(v, unit, goodUp) {
    if (v === null || v === undefined) return '<span class="bf-chg">' + esc(t('no_change')) + '</span>';
    const cls = 'bf-chg' + (v > 0 ? ' up' : v < 0 ? ' down' : '') + (goodUp ? ' good' : '');
    return '<span class="' + cls + '">' + esc(bfSigned(v, unit)) + '</span>';
  }
  // bfNote is what a figure counts and what it leaves out, in the page's language.
  function bfNote(counts, leaves, short) {
    const c = tx(counts).replace(/[。.；;]\s*$/, '');
    if (L.lang === 'zh') return c + (short ? '；不含：' : '。不含：') + tx(leaves);
    return c + (short ? '; leaves out: ' : '. Leaves out: ') + tx(leaves);
  }
  function bfRows(id, rows) { $(id).innerHTML = rows.join(''); }
  function bfEmpty(id, show, text) {
    const el = $(id);
    el.hidden = !show;
    if (show) el.textContent = text;
  }
  function bfDur(secs) {
    if (secs === null || secs === undefined || secs < 0) return t('none');
    return T.duration(secs, L.lang);
  }

  // ---------------------------------------------------------------- sections
  function bfHeader() {
    document.documentElement.lang = L.htmlLang();
    for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
    $('lang-switch').textContent = L.lang === 'zh' ? 'EN' : '中';
    const title = br ? tx(br.title) : t('title');
    $('bf-title').textContent = title;
    document.title = title;
    if (!br) return;
    const badges = [br.kept ? '<span class="bf-badge" data-kept>' + esc(t('kept')) + '</span>' : '',
      br.provisional ? '<span class="bf-badge bf-prov" data-provisional>' + esc(t('provisional')) + '</span>' : ''];
    $('bf-badges').innerHTML = badges.join('');
    $('bf-meta').textContent = fmt(t('period_line'), { from: bfDay(br.from), to: bfLastDay(br.to), pfrom: bfDay(br.previous_from), pto: bfLastDay(br.previous_to),
      asof: bfTime(br.changes.previous_as_of, true) }) + ' · ' + fmt(t('generated'), { at: bfDay(br.generated) + ' ' + bfTime(br.generated), tz: br.time_zone });
    const pv = $('bf-provisional');
    pv.hidden = !br.provisional;
    if (br.provisional && br.provisional_note) pv.textContent = tx(br.provisional_note);
  }

  const GOOD_UP = { response: true, resolution: true, satisfaction: true };
  function bfChanges() {
    const c = br.changes;
    // The period or the previous one begins before the stored history: said above the figures.
    const hn = br.history && br.history.note;
    $('bf-history').textContent = hn ? hn[L.lang] || hn.zh : '';
    $('bf-history').hidden = !hn;
    $('changes-cards').innerHTML = c.figures.map((f) => {
      let val;
      let prev;
      let chg;
      if (f.unit === 'count') {
        val = esc(String(f.current.count));
        prev = fmt(t('prev_val'), { v: f.previous.count });
        chg = bfChg(f.change, '', false) + (f.change_pct !== undefined && f.change_pct !== null ? ' <span class="bf-chg">(' + esc(bfSigned(f.change_pct, '%')) + ')</span>' : '');
      } else {
        val = bfRate(f.current) + ' <span class="bf-fig-prev">' + esc(fmt(t('n'), { n: f.current.den })) + '</span>';
        prev = fmt(t('prev_val'), { v: f.previous.value === undefined || f.previous.value === null ? t('none') : percent(f.previous.value, 1) }) +
          (f.previous.sample === 'insufficient' ? ' · ' + t('insufficient') : '');
        chg = bfChg(f.change, L.lang === 'zh' ? '个百分点' : ' pts', GOOD_UP[f.key]);
      }
      return '<div class="bf-fig" data-key="' + esc(f.key) + '"><div class="bf-fig-name">' + esc(tx(f.name)) + '</div><div class="bf-fig-val">' + val +
        '</div><div class="bf-fig-prev">' + esc(prev) + ' · ' + chg + '</div></div>';
    }).join('');
    bfRows('categories-body', c.categories.map((m) => '<tr data-code="' + esc(m.code) + '"><td>' + esc(tx(m.name)) + '</td><td>' + m.current + '</td><td>' + m.previous +
      '</td><td>' + bfChg(m.change, '', false) + '</td></tr>'));
    $('categories-note').textContent = tx(c.category_note);
    $('changes-defs').innerHTML = c.figures.map((f) => '<dt>' + esc(tx(f.name)) + '</dt><dd>' + esc(bfNote(f.counts, f.leaves_out, true)) + '</dd>').join('');
  }

  function bfHotspots() {
    const h = br.hotspots;
    const steps = h.emerging ? fmt(t('hot_steps'), { step: h.step.replace(/0m0s$/, '').replace(/m0s$/, 'm') }) : '';
    const insuf = h.sufficiency && !h.sufficiency.ok && (h.sufficiency.reasons || []).length;
    let summary = fmt(t('hot_summary'), { n: h.events, k: h.spots.filter((s) => s.bin > 0).length, steps });
    if (insuf) summary += ' · ' + fmt(t('hot_insufficient'), { reasons: h.sufficiency.reasons.map((r) => TEXT[L.lang].reasons[r] || r).join('、') });
    if (h.emerging_note) summary += ' · ' + tx(h.emerging_note);
    $('hot-summary').textContent = summary;
    bfRows('hot-body', h.spots.map((s) => '<tr data-code="' + esc(s.code) + '"><td>' + esc(s.name) + '</td><td>' + esc(s.parent || '') + '</td><td>' + s.count +
      (s.neighbours ? ' <small class="bf-nb">' + esc(t('nb_tag')) + '</small>' +
        (s.neighbour_mean ? '<small class="bf-nbm">' + esc(fmt(t('nb_mean'), { m: Number(s.neighbour_mean).toFixed(1) })) + '</small>' : '') : '') +
      '</td><td>' + (s.bin > 0 ? esc(t('bin')[s.bin] || '') + ' (z=' + s.z.toFixed(2) + ')' : t('none')) + '</td><td>' + esc(s.pattern ? TEXT[L.lang].patterns[s.pattern] || s.pattern : t('none')) + '</td></tr>'));
    bfEmpty('hot-empty', h.spots.length === 0, t('hot_none'));
    const kids = h.children || [];
    $('hot-children').textContent = kids.length ? fmt(t('children_hot'), { level: t('level_child'), list: kids.map((k) => k.name + '（' + k.count + '）').join('、') })
      : (h.children_sufficient ? t('children_none') : '');
    const nb = h.spots.some((s) => s.neighbours) ? t('nb_note') : '';
    $('hot-note').textContent = nb + bfNote(h.counts, h.leaves_out);
    bfMap();
  }

  // bfMap draws the grids filled by their count (true proportions), hot spots outlined in red with
  // their names, and the child regions' outlines.
  function bfMap() {
    const wrap = document.querySelector('.bf-map-wrap');
    const canvas = $('hot-map');
    const w = wrap.clientWidth;
    const hgt = wrap.clientHeight;
    const dpr = Math.max(1, window.devicePixelRatio || 1) * (PRINT ? 2 : 1);
    const ctx = M.canvasFor(canvas, w, hgt, dpr);
    ctx.scale(dpr, dpr);
    const h = br.hotspots;
    const tree = M.regionTree(regionsFC);
    Z.mapRegions = tree.regions.size;
    if (!tree.regions.size) return;
    const depth = h.map.depth;
    const leaves = [];
    const mids = [];
    let polys = [];
    for (const r of tree.regions.values()) {
      if (r.level === depth) leaves.push(r);
      else if (r.level === 1 && depth > 1) mids.push(r);
      if (r.level === 0) polys = r.polys;
    }
    if (!polys.length) for (const r of leaves) polys = polys.concat(r.polys);
    const b = M.boundsOf(polys);
    if (!b) return;
    const pr = M.projection(b, { x: 12, y: 12, w: w - 24, h: hgt - 24 });
    const cells = new Map(h.map.cells.map((c) => [c.code, c]));
    const max = Math.max(1, h.map.max);
    const fill = (n) => {
      if (!n) return '#f1f5f9';
      const f = Math.sqrt(n / max);
      const c0 = [219, 234, 254];
      const c1 = [30, 64, 175];
      const mix = c0.map((v, i) => Math.round(v + (c1[i] - v) * f));
      return 'rgb(' + mix.join(',') + ')';
    };
    for (const r of leaves) {
      const c = cells.get(r.code);
      ctx.beginPath();
      M.tracePolys(ctx, r.polys, pr.project);
      ctx.fillStyle = fill(c ? c.count : 0);
      ctx.fill('evenodd');
      ctx.strokeStyle = 'rgba(100,116,139,0.45)';
      ctx.lineWidth = 0.5;
      ctx.stroke();
    }
    ctx.strokeStyle = '#334155';
    ctx.lineWidth = 1.4;
    for (const r of mids) {
      ctx.beginPath();
      M.tracePolys(ctx, r.polys, pr.project);
      ctx.stroke();
    }
    // Hot spots: red outlines, names beside.
    const hot = h.spots.map((s) => tree.regions.get(s.code)).filter(Boolean);
    ctx.strokeStyle = '#dc2626';
    ctx.lineWidth = 2.5;
    for (const r of hot) {
      ctx.beginPath();
      M.tracePolys(ctx, r.polys, pr.project);
      ctx.stroke();
    }
    ctx.font = '600 13px "Noto Sans CJK SC", sans-serif';
    ctx.textBaseline = 'middle';
    const boxes = [];
    for (const r of hot.slice(0, 10)) {
      const p = pr.project(M.labelPoint(r.geometry));
      const tw = ctx.measureText(r.name).width + 8;
      const cands = [[p[0] + 6, p[1] - 10], [p[0] - tw - 6, p[1] - 10], [p[0] - tw / 2, p[1] - 28], [p[0] - tw / 2, p[1] + 8]];
      const at = M.leastOverlap(cands, tw, 20, boxes) || cands[0];
      // A label that would cover another is left out (the table names every hot spot).
      if (boxes.some((b2) => at[0] < b2[0] + b2[2] && b2[0] < at[0] + tw && at[1] < b2[1] + b2[3] && b2[1] < at[1] + 20)) continue;
      boxes.push([at[0], at[1], tw, 20]);
      ctx.fillStyle = 'rgba(255,255,255,0.9)';
      ctx.fillRect(at[0], at[1], tw, 20);
      ctx.fillStyle = '#991b1b';
      ctx.fillText(r.name, at[0] + 4, at[1] + 10);
    }
    Z.mapDrawn = leaves.length;
    $('hot-legend').innerHTML = esc(t('legend_cases')) + ' <i style="background:' + fill(0) + '"></i>0 <i style="background:' + fill(max / 4) + '"></i>' +
      Math.round(max / 4) + ' <i style="background:' + fill(max) + '"></i>' + max + ' <i style="border:2px solid #dc2626;background:transparent"></i>' + esc(t('legend_hot'));
  }

  function bfForecast() {
    const f = br.forecast;
    const status = TEXT[L.lang].fc_status[f.status];
    let summary = tx(f.message);
    if (f.total_mean !== undefined && f.total_mean !== null) {
      summary = fmt(t('fc_summary'), { period: f.period.replace(/^day:|^week:/, ''), total: Math.round(f.total_mean) }) + ' · ' + summary;
    } else if (status) {
      summary = status + '：' + summary;
    }
    $('fc-summary').textContent = summary;
    $('fc-note').textContent = bfNote(f.counts, f.leaves_out);
    const el = $('fc-chart');
    el.hidden = !f.hours.length;
    if (!f.hours.length) {
      if (chart) { chart.dispose(); chart = null; }
      return Promise.resolve();
    }
    if (!chart) chart = window.echarts.init(el, null, { renderer: 'svg' });
    const xs = f.hours.map((b) => bfTime(b.t, f.hours.length > 24));
    const lo = f.hours.map((b) => b.lo);
    const span = f.hours.map((b) => Math.max(0, b.hi - b.lo));
    const mean = f.hours.map((b) => Math.round(b.mean * 10) / 10);
    return new Promise((resolve) => {
      chart.off('finished');
      chart.on('finished', () => resolve());
      chart.setOption({
        animation: false,
        grid: { left: 44, right: 16, top: 28, bottom: 28 },
        legend: { top: 0, data: [t('fc_mean'), t('fc_band')] },
        tooltip: { trigger: 'axis' },
        xAxis: { type: 'category', data: xs, boundaryGap: false, axisLabel: { color: '#475569' } },
        yAxis: { type: 'value', minInterval: 1, axisLabel: { color: '#475569' }, splitLine: { lineStyle: { color: '#e2e8f0' } } },
        series: [
          { name: 'lo', type: 'line', data: lo, stack: 'band', lineStyle: { opacity: 0 }, symbol: 'none', silent: true, tooltip: { show: false } },
          { name: t('fc_band'), type: 'line', data: span, stack: 'band', lineStyle: { opacity: 0 }, symbol: 'none', itemStyle: { color: 'rgba(37,99,235,0.35)' }, areaStyle: { color: 'rgba(37,99,235,0.18)' } },
          { name: t('fc_mean'), type: 'line', data: mean, symbol: 'none', itemStyle: { color: '#1d4ed8' }, lineStyle: { color: '#1d4ed8', width: 2 } },
        ],
      }, true);
      chart.resize();
      setTimeout(resolve, 1500); // 'finished' may not come when nothing changed
    });
  }

  function bfDepartments() {
    const d = br.departments;
    bfRows('dept-body', d.slowest.map((x) => '<tr data-dept="' + esc(x.code) + '"><td class="bf-left">' + esc(tx(x.name)) + '</td><td>' + x.cases + '</td><td>' + x.dispatched +
      '</td><td>' + bfRate(x.response) + '</td><td>' + (x.previous_response !== undefined ? esc(percent(x.previous_response, 1)) : t('none')) + '</td><td>' + bfRate(x.resolution) +
      '</td><td>' + bfRate(x.satisfaction) + '</td><td>' + bfRate(x.on_time) + '</td><td>' + esc(bfDur(x.close_p50_s)) + '</td><td>' + x.open + '</td></tr>'));
    bfEmpty('dept-empty', d.slowest.length === 0, t('dept_none'));
    $('dept-insufficient').innerHTML = d.insufficient.length
      ? fmt(esc(t('dept_insufficient')), { m: d.min_sample, list: d.insufficient.map((x) => '<span data-insufficient-dept="' + esc(x.code) + '">' + esc(tx(x.name)) + '（' + esc(fmt(t('n'), { n: x.dispatched })) + '）</span>').join('、') })
      : esc(fmt(t('dept_insufficient_none'), { m: d.min_sample }));
    $('dept-note').textContent = bfNote(d.counts, d.leaves_out);
  }

  function bfWhistles() {
    const w = br.whistles;
    $('wh-summary').textContent = fmt(t('wh_summary'), { n: w.whistles, u: w.units });
    const st = (x, s) => {
      const g = x.stages.find((y) => y.stage === s);
      return g ? g.late + ' / ' + g.counted : t('none');
    };
    bfRows('wh-body', w.late.map((x) => '<tr data-dept="' + esc(x.code) + '"><td class="bf-left">' + esc(tx(x.name)) + '</td><td>' + x.summoned + '</td><td>' + x.late +
      '</td><td>' + st(x, 'signed') + '</td><td>' + st(x, 'contacted') + '</td><td>' + st(x, 'arrived') + '</td><td>' + bfRate(x.on_time) + '</td></tr>'));
    bfEmpty('wh-empty', w.late.length === 0, t('wh_none'));
    $('wh-note').textContent = bfNote(w.counts, w.leaves_out);
  }

  function bfRepeats() {
    const r = br.repeats;
    $('rp-summary').textContent = fmt(t('rp_summary'), { n: r.links, k: r.places.length, m: r.min });
    bfRows('rp-body', r.places.map((p) => '<tr data-region="' + esc(p.region) + '"><td>' + esc(p.region_name || p.region || t('none')) + '</td><td>' + esc(p.parent || '') +
      '</td><td>' + esc(tx(p.category_name)) + '</td><td>' + p.cases + '</td><td>' + p.open + '</td><td>' + esc(bfTime(p.first, true)) + '</td><td class="bf-left">' +
      esc(p.case_ids.join(' ')) + '</td></tr>'));
    bfEmpty('rp-empty', r.places.length === 0, fmt(t('rp_none'), { m: r.min }));
    $('rp-note').textContent = bfNote(r.counts, r.leaves_out);
  }

  function bfAlerts() {
    const a = br.alerts;
    // Figures are absent when alerts are off or nothing watched the period: dashes, not zeros.
    const none = t('none');
    const f = a.figures || { raised: none, acked: none, closed: none, open: none };
    const med = (d) => (d && d.n ? bfDur(d.median_s) + ' ' + fmt(t('n'), { n: d.n }) : t('none'));
    const cov = a.available ? a.coverage : null;
    let covText = '';
    if (cov && !cov.complete) {
      if (!cov.since) covText = t('al_cov_never');
      else if (!cov.watched_s) covText = fmt(t('al_cov_none'), { since: bfTime(cov.since, true) });
      else {
        const gs = cov.gaps.slice(0, 3).map((g) => bfTime(g.from, true) + '–' + bfTime(g.to, true));
        const more = cov.gaps.length - gs.length + (cov.gaps_more || 0);
        covText = fmt(t('al_cov_part'), { dur: bfDur(cov.unwatched_s), gaps: gs.join(L.lang === 'zh' ? '、' : ', ') + (more > 0 ? ' …' : '') });
      }
    }
    $('al-cov').hidden = !covText;
    $('al-cov').textContent = covText;
    const figs = [['al_raised', f.raised], ['al_acked', f.acked], ['al_closed', f.closed], ['al_open', f.open],
      ['al_ack_median', med(f.time_to_ack)], ['al_close_median', med(f.time_to_close)]];
    $('al-figs').innerHTML = figs.map(([k, v]) => '<div class="bf-fig" data-key="' + k + '"><div class="bf-fig-name">' + esc(t(k)) + '</div><div class="bf-fig-val" style="font-size:20px">' +
      esc(String(v)) + '</div></div>').join('');
    const since = (x, y) => (x && y ? bfDur((Date.parse(y) - Date.parse(x)) / 1000) : t('none'));
    bfRows('al-body', a.list.map((x) => '<tr data-alert="' + esc(x.id) + '"><td>' + esc(bfTime(x.raised, true)) + '</td><td class="bf-sev-' + esc(x.severity) + '">' +
      esc(TEXT[L.lang].sev[x.severity] || x.severity) + '</td><td class="bf-left">' + esc(tx(x.title)) + '</td><td>' + esc(x.region_name || x.region) + '</td><td>' +
      esc(TEXT[L.lang].states[x.state] || x.state) + '</td><td>' + since(x.raised, x.acked) + '</td><td>' + since(x.raised, x.closed) + '</td></tr>'));
    if (a.total > a.list.length) $('al-body').insertAdjacentHTML('beforeend', '<tr><td colspan="7" class="bf-left">' + esc(fmt(t('al_more'), { n: a.total - a.list.length })) + '</td></tr>');
    bfEmpty('al-empty', a.list.length === 0 && (!a.available || !!a.figures), a.available ? t('al_none') : t('al_off'));
    $('al-body').closest('table').hidden = a.available && !a.figures; // nothing watched: no list either
    $('al-note').textContent = bfNote(a.counts, a.leaves_out);
  }

  function bfRender() {
    bfHeader();
    if (!br) return;
    $('bf-main').hidden = false;
    bfChanges();
    bfHotspots();
    bfDepartments();
    bfWhistles();
    bfRepeats();
    bfAlerts();
    $('bf-foot').textContent = fmt(t('foot'), { period: br.period, region: br.region_name + ' ' + br.region, format: br.format });
    $('bf-pdf').href = bfURL('/api/v1/briefings/' + period + '/pdf' + (REGION ? '?region=' + encodeURIComponent(REGION) : ''));
    const seq = loadSeq;
    bfForecast().then(() => {
      if (seq === loadSeq) bfSetReady('1');
    });
  }

  // ---------------------------------------------------------------- the picker
  function bfPicker() {
    const week = WEEK_RE.test(period);
    $('bf-kind-day').setAttribute('aria-pressed', String(!week));
    $('bf-kind-week').setAttribute('aria-pressed', String(week));
    $('bf-date').value = bfDayOfPeriod(period);
    // No period after the current one: it has not begun.
    $('bf-next').disabled = bfDayOfPeriod(bfShift(period, 1)) > bfToday();
  }
  function bfGo(p) {
    if (p === period) return;
    period = p;
    bfLoad();
  }
  $('bf-prev').addEventListener('click', () => bfGo(bfShift(period, -1)));
  $('bf-next').addEventListener('click', () => bfGo(bfShift(period, 1)));
  $('bf-kind-day').addEventListener('click', () => {
    if (!WEEK_RE.test(period)) return;
    // The week's last day that has ended (else yesterday).
    const sunday = T.addDays(bfWeekMonday(period), 6);
    const y = T.addDays(bfToday(), -1);
    bfGo('day:' + (sunday < y ? sunday : y));
  });
  $('bf-kind-week').addEventListener('click', () => {
    if (WEEK_RE.test(period)) return;
    const w = bfWeekOf(bfDayOfPeriod(period));
    bfGo(w === bfWeekOf(bfToday()) ? bfShift(w, -1) : w);
  });
  $('bf-date').addEventListener('change', (e) => {
    const d = e.target.value;
    if (!/^\d{4}-\d{2}-\d{2}$/.test(d)) return;
    bfGo(WEEK_RE.test(period) ? bfWeekOf(d) : 'day:' + d);
  });
  $('lang-switch').addEventListener('click', () => {
    L.toggle();
    if (br) bfRender();
    else bfHeader();
  });
  if (PRINT) document.body.classList.add('bf-print');
  window.addEventListener('resize', () => {
    if (br && regionsFC) bfMap();
    if (chart) chart.resize();
  });
  window.Zhili.texts.loadCatalog(TOKEN);
  bfHeader();
  bfLoad();
})();
