/* Zhili wall screen (一张屏): one WebSocket, overview:<region> + cases:<region>, drawn with ECharts.
 *
 * Page parameters:
 *   ?token=   viewer token (sent to /ws and the REST API)
 *   ?kiosk=1  hide every control (language switch, cursor)
 *   ?stale=   seconds without any message (pongs count) before the feed is shown as lost; default 30
 *   ?lang=en  start in English (the 中/EN switch also remembers the choice)
 *   ?markers= minutes a case marker stays on the map; default 10
 *   ?region=  region code to show (a token limited to a subtree needs its own region); default root.
 *             Clicking a child region on the map drills down to it (history.pushState, topics
 *             re-subscribed, no reload); the back control and the breadcrumb return.
 *   ?choropleth=open|new  what colours the map: open cases (default) or new cases today
 *   ?flows=   seconds a flow line (上行/下行/横向) stays on the map; default 180 (10 to 1800, 0: none)
 *   ?rankpage= seconds each page of the ranking shows before the next; default 10 (3 to 600). The
 *             pages hold as many whole rows as the panel fits, the first one rank 1; "1/2" in the
 *             title says which (a click on it turns the page).
 *   ?motion=off  a still screen: urgent and new cases ringed instead of rippling, flow lines without
 *             their moving trail, charts changing without transitions, no CSS animation (also
 *             where the system asks for reduced motion; ?motion=on keeps motion whatever it asks).
 *             ?fps= caps animation frames (kit-frames.js).
 *   ?whistle_low=, ?whistle_high=  the whistle rate's band, as the audit's parameters: a rate
 *             below whistle_low is 偏低 low, above whistle_high 偏高 high (0 or absent: no bound;
 *             without either, no band is shown)
 *
 * Layouts (the stage is designed at 1920×1080 per monitor and scaled to the window):
 *   (none)         one 16:9 stage: 1920×1080, or 3840×2160 at twice the scale
 *   ?panel=NAME    one panel fills the screen under the title bar and the clock: map, counters,
 *                  flows, categories, rates, ranking, trend, sources or feed. For a wall of one page per monitor:
 *                  every page shows the deployment's clock (from the server's message times,
 *                  ticking on the second), so all panels show the same second.
 *   ?wall=CxR      one page spanning C×R monitors (C 1–4, R 1–3; e.g. 2x1, 3x1, 2x2): the stage is
 *                  C·1920 × R·1080, the map large in the middle, the other panels around it, no
 *                  panel other than the map across a seam between monitors.
 *   ?bezel=PX      with ?wall: stage pixels kept clear on each side of a seam (default 8)
 *   ?kiosk=1 hides the controls in every layout.
 *
 * Screens run for weeks: every collection below is bounded, every timer is created once, and a
 * reconnect detaches the old socket's handlers before a new socket is opened.
 *
 * For tests the page exposes window.__zhili (see the object Z) and sets
 * document.body.dataset.ready = "1" after the first full render (map drawn, both snapshots in).
 */
(function () {
  'use strict';
  const { clampNum, $, esc, num, mergePatch } = window.Zhili;
  const { labelPoint, inGeometry } = window.Zhili.map;
  const time = window.Zhili.time;

  // ---------------------------------------------------------------- parameters and constants
  const params = new URLSearchParams(location.search);
  const TOKEN = params.get('token') || '';
  const KIOSK = params.get('kiosk') === '1';
  const STALE_MS = clampNum(params.get('stale'), 30, 3, 3600) * 1000;
  const MARKER_MS = clampNum(params.get('markers'), 10, 1, 24 * 60) * 60 * 1000;
  const PING_MS = Math.min(20000, STALE_MS / 2);
  const DOWN_GRACE_MS = 2000; // a socket down this long shows the banner (no flash on a quick reconnect)
  const BACKOFF_MIN = 1000;
  const BACKOFF_MAX = 30000;
  const MAX_MARKERS = 500; // markers kept for the map
  const MAX_RIPPLES = 30; // animated markers (urgent, or newer than RIPPLE_NEW_MS)
  const MARKERS_EVERY_MS = 500; // markers redraw at most this often (counters and feed at once)
  const POLYGONS_EVERY_MS = 1000; // the choropleth and its labels redraw at most this often
  const RIPPLE_NEW_MS = 60 * 1000;
  // A still screen (kit-frames.js: reduced motion, or ?motion=off) rings its urgent and new cases
  // instead of rippling them, draws flow lines without their moving trail and changes its charts
  // without transitions (each transition redraws the chart some fifteen times).
  const MOTION = !(window.__zhiliFrames && window.__zhiliFrames.motion === false);
  const MAX_FEED = 40; // cases kept for the feed list (the panel shows the newest that fit)
  const FEED_ROW = 46; // px of a feed row (style.css)
  const RANK_ROW = 50; // px of a ranking row (style.css)
  const RANK_PAGE_MS = clampNum(params.get('rankpage'), 10, 3, 600) * 1000;
  const bound = (name) => { const v = Number(params.get(name)); return Number.isFinite(v) && v > 0 ? v : 0; };
  const WHISTLE_LOW = bound('whistle_low');
  const WHISTLE_HIGH = bound('whistle_high');
  // Report sources (一端口) in the order of the overview's by_source (update.NewBySource).
  const SOURCES = ['hotline12345', 'grid', 'app', 'sensor', 'police110', 'center', 'other'];
  const MAX_SEEN = 4000; // event ids remembered to drop duplicates after a resync
  const FLOW_MS = params.get('flows') === '0' ? 0 : clampNum(params.get('flows'), 180, 10, 1800) * 1000;
  const MAX_FLOWS = 40; // flow lines on the map (each animates)
  const FLOW_COLORS = { up: '#39e0a0', down: '#ffb545', horizontal: '#4fc3ff' }; // as the flow icons
  const PANELS = ['map', 'counters', 'flows', 'categories', 'rates', 'ranking', 'trend', 'sources', 'feed'];
  const PANEL = PANELS.includes(params.get('panel')) ? params.get('panel') : '';
  const wallParam = /^([1-4])x([1-3])$/.exec(params.get('wall') || '');
  const WALL = wallParam && wallParam[1] * wallParam[2] > 1 ? { cols: Number(wallParam[1]), rows: Number(wallParam[2]) } : null;
  const BEZEL = clampNum(params.get('bezel'), 8, 0, 300);
  const MON_W = 1920; // one monitor of the stage
  const MON_H = 1080;
  const STAGE_W = MON_W * (WALL ? WALL.cols : 1);
  const STAGE_H = MON_H * (WALL ? WALL.rows : 1);
  const regionParam = (v) => (/^[A-Za-z0-9._-]{1,64}$/.test(v || '') ? v : 'root');
  // The shown region and its topics change on drill-down (navigate).
  let REGION = regionParam(params.get('region'));
  let TOPIC_OVERVIEW = 'overview:' + REGION;
  let TOPIC_CASES = 'cases:' + REGION;
  // The map's per-region value: open cases, new today, or the people layer (staff: grid
  // staffing, uncovered grids marked, with the party organisation of the 王 structure beside it).
  const choroOf = (v) => (v === 'new' || v === 'staff' ? v : 'open');
  let CHORO = choroOf(params.get('choropleth'));
  const CHORO_KEY = { open: 'open', new: 'new_today', staff: 'uncovered' };
  // The people layer's colours: every grid covered (green) → none covered (red).
  const STAFF_SCALE = ['#1f9e6e', '#8fbf3a', '#e0b03a', '#e8743b', '#d93a3a'];
  const PEOPLE_W = 500; // the people panel's width over the map's right side (px)
  const TREND_HOURS = 24;
  const HOUR_MS = 3600 * 1000;
  const TREND_REFRESH_MS = 5 * 60 * 1000; // the trend is re-read from REST this often

  // Categories' names, order and colours come from the kit (the deployment's catalogue); codes
  // without a colour take one of these.
  const OTHER_COLORS = ['#5fd3c6', '#c0d860', '#e07b91', '#7fa0ff', '#d89b5b', '#9ab0c8'];
  // Choropleth stops (0 → max open cases), blues only so that the category-colored and red
  // urgent markers stand out on every township; the legend bar in style.css uses the same colors.
  const SCALE = ['#0c2754', '#12468c', '#1769b8', '#1e94d2', '#47c6ec'];

  // ---------------------------------------------------------------- texts
  const TEXT = {
    zh: {
      title_suffix: '社会治理指挥中心 · 一张屏',
      new_today: '今日新增', open: '在办', overdue: '超期', resolved_today: '今日办结',
      flows_title: '三流联动 · 今日',
      up: '上行', up_sub: '群众与网格上报', down: '下行', down_sub: '派单与部门应哨',
      horizontal: '横向', horizontal_sub: '12345 热线联动',
      cat_title: '一模块 · 今日新增分类', cat_total: '今日新增', no_data: '暂无数据', other: '其他',
      rates_title: '三率 · 吹哨率 · 今日', response: '响应率', resolution: '解决率', satisfaction: '满意率',
      whistle_rate: '吹哨率', whistles_today: '今日吹哨', band: { low: '偏低', ok: '正常', high: '偏高' },
      few: '样本不足', few_n: '{n} 件 < {min}', pending_n: '{n} 件待签收',
      pending_title: '今日派单中有 {n} 件未签收、派单未满 2 小时：尚未到响应时限，暂不计入响应率',
      sources_title: '一端口 · 今日受理',
      src: { hotline12345: '12345 热线', grid: '网格员', app: '随手拍', sensor: '感知设备', police110: '110 联动', center: '中心受理', other: '其他' },
      map_title: '一网格 · 在办案件分布', map_title_new: '一网格 · 今日新增分布',
      choro_open: '在办', choro_new: '今日新增', drill_back: '返回上级', parent_region: '上级区域',
      label_new: '新增',
      choro_staff: '人员在岗', map_title_staff: '一网格 · 网格力量在岗', legend_uncovered: '未覆盖网格',
      staff_on: '在岗', staff_uncovered: '缺', people_title: '王字形组织 · 人员力量',
      people_grids: '网格', people_heads: '有网格长', people_workers: '网格员', people_on: '当前在岗',
      people_no_head: '无网格长', people_none_on: '无人在岗', people_uncovered: '未覆盖网格',
      people_orgs: '组织数', people_in_force: '在任/区域', people_depts: '县直部门', people_dept_heads: '部门主官在任',
      trend_title: '近24小时趋势', trend_new: '新增', trend_resolved: '办结', trend_hour: '{h}时', trend_band: '预测区间', trend_no_data: '无数据',
      legend_open: '在办', legend_new_today: '今日新增', legend_new: '新案件', legend_urgent: '紧急/特急', unlocated_today: '今日未定位',
      flow_legend: '三流动线 · 近{n}', flow_min: '{n} 分钟', flow_sec: '{n} 秒', center: '指挥中心', hotline: '12345 热线',
      rank_title: '乡镇街道排名 · 今日', rank_no: '排名', rank_name: '乡镇（街道）',
      rank_new: '新增', rank_open: '在办', rank_overdue: '超期',
      feed_title: '实时案件', feed_empty: '暂无案件', unlocated: '未定位', new_unlocated: '含未定位 {n}',
      status: {
        reported: '已上报', accepted: '已受理', dispatched: '已派单', signed: '已签收', returned: '已退单',
        resolved: '已办结', closed: '已结案', reopened: '重新办理', duplicate: '重复件',
      },
      prio: { urgent: '紧急', critical: '特急' },
    },
    en: {
      title_suffix: ' Social Governance Command Center · One Screen',
      new_today: 'New today', open: 'Open', overdue: 'Overdue', resolved_today: 'Resolved today',
      flows_title: 'Three flows · today',
      up: 'Upward', up_sub: 'Citizen & grid reports', down: 'Downward', down_sub: 'Dispatches & answers',
      horizontal: 'Horizontal', horizontal_sub: '12345 hotline linkage',
      cat_title: 'Cases by module · new today', cat_total: 'today', no_data: 'No data', other: 'Other',
      rates_title: 'Three rates & whistles · today', response: 'Response', resolution: 'Resolution', satisfaction: 'Satisfaction',
      whistle_rate: 'Whistle rate', whistles_today: 'blown', band: { low: 'low', ok: 'ok', high: 'high' },
      few: 'Too few', few_n: 'n = {n} < {min}', pending_n: '{n} awaiting',
      pending_title: '{n} of today\'s dispatches are unsigned and within their 2-hour window: not yet counted in the response rate',
      sources_title: 'One port · new today',
      src: { hotline12345: '12345 hotline', grid: 'Grid workers', app: 'Citizen app', sensor: 'Sensors', police110: '110 police', center: 'Center', other: 'Other' },
      map_title: 'Grids · open cases', map_title_new: 'Grids · new today',
      choro_open: 'Open', choro_new: 'New', drill_back: 'Up', parent_region: 'Parent region',
      label_new: 'New',
      choro_staff: 'Staffing', map_title_staff: 'Grids · staffing', legend_uncovered: 'Uncovered grids',
      staff_on: 'on duty', staff_uncovered: 'gaps', people_title: '王 structure · people',
      people_grids: 'Grids', people_heads: 'With head', people_workers: 'Workers', people_on: 'On duty now',
      people_no_head: 'No grid head', people_none_on: 'Nobody on duty', people_uncovered: 'Uncovered grids',
      people_orgs: 'Orgs', people_in_force: 'Led/areas', people_depts: 'Departments', people_dept_heads: 'heads in office',
      trend_title: 'Last 24 h', trend_new: 'New', trend_resolved: 'Resolved', trend_hour: '{h}:00', trend_band: 'Forecast', trend_no_data: 'no data',
      legend_open: 'Open', legend_new_today: 'New today', legend_new: 'New case', legend_urgent: 'Urgent', unlocated_today: 'Unlocated today',
      flow_legend: 'Flows · last {n}', flow_min: '{n} min', flow_sec: '{n} s', center: 'Command center', hotline: '12345 hotline',
      rank_title: 'Townships · today', rank_no: 'No.', rank_name: 'Township',
      rank_new: 'New', rank_open: 'Open', rank_overdue: 'Late',
      feed_title: 'Live cases', feed_empty: 'No cases yet', unlocated: 'Unlocated', new_unlocated: 'incl. {n} unlocated',
      status: {
        reported: 'Reported', accepted: 'Accepted', dispatched: 'Dispatched', signed: 'Signed', returned: 'Returned',
        resolved: 'Resolved', closed: 'Closed', reopened: 'Reopened', duplicate: 'Duplicate',
      },
      prio: { urgent: 'URG', critical: 'CRIT' },
    },
  };
  const STATUS_OF_TYPE = {
    'case.reported': 'reported', 'case.accepted': 'accepted', 'case.dispatched': 'dispatched',
    'case.signed': 'signed', 'case.returned': 'returned', 'case.resolved': 'resolved',
    'case.closed': 'closed', 'case.reopened': 'reopened', 'case.duplicate': 'duplicate',
  };

  const L = window.Zhili.texts.i18n(TEXT);
  const t = L.t;
  for (const l of Object.keys(TEXT)) {
    const x = TEXT[l];
    const span = FLOW_MS % 60000 === 0 ? x.flow_min.replace('{n}', FLOW_MS / 60000) : x.flow_sec.replace('{n}', FLOW_MS / 1000);
    x.flow_legend = x.flow_legend.replace('{n}', span);
  }
  // The ranking names the children's level; buildMap switches it for a city's counties.
  const LEVEL_TEXT = { zh: { rank_title: TEXT.zh.rank_title, rank_name: TEXT.zh.rank_name },
    en: { rank_title: TEXT.en.rank_title, rank_name: TEXT.en.rank_name } };

  // ---------------------------------------------------------------- state exposed for tests
  const Z = {
    ready: false, // map drawn and the first snapshots of both topics rendered
    readyAt: null, // performance.now() when ready became true (ms since navigation start)
    lastFrameAt: 0, // Date.now() of the last WebSocket frame (any message, pongs included)
    frames: 0, // WebSocket frames received
    counters: { new_today: null, open: null, overdue: null, resolved_today: null },
    stale: true, // the stale banner is showing (or the page never connected)
    connected: false,
    reconnects: 0,
    renderMs: null, // last frame arrival → DOM updated, in ms (performance.now based)
    lastRender: null, // {arrivedAt, renderedAt, ms} of the last render caused by a frame
    renderStats: { count: 0, maxMs: 0, totalMs: 0 },
    seq: {}, // last applied seq per topic
    feed: 0, // cases in the feed list
    markers: 0, // markers on the map
    flows: 0, // flow lines drawn on the map
    flowKinds: { up: 0, down: 0, horizontal: 0 }, // of them, per flow
    flowsKept: 0, // flow events kept (drawn or waiting for the map)
    motion: MOTION, // ripples and moving flow trails (false: a still screen, kit-frames.js)
    serverNow: () => clock.now(), // the deployment's clock (ms)
    clockText: '', // what the clock shows
    layoutMode: PANEL ? 'panel:' + PANEL : WALL ? 'wall:' + WALL.cols + 'x' + WALL.rows : 'stage',
    errors: [], // last few {topic, code, message} errors from the server (bounded)
    layout: { scale: 1, dpr: 1, renderedDpr: 0 }, // stage scale; chart pixel ratio; ratio of the last map render
    region: REGION, // the shown region (?region=, changed by drill-down)
    regionCode: '', // its code, once its regions are loaded
    regionName: '',
    regionChildren: [], // codes of the children drawn on the map
    navigations: 0, // drill-downs and returns completed
    choropleth: { metric: CHORO, max: 0, values: {} }, // what colours the map, per child code
    labels: { placed: [], dropped: [] }, // child codes whose map label is shown, and those left out for want of room
    ranking: { page: 0, pages: 0, per: 0, total: 0, shown: [] }, // the ranking's page: the ranks on it
    sources: {}, // new cases today per report source, as shown
    whistle: { rate: null, blown: 0, band: '', few: false }, // 吹哨率 as shown
    // The three rates as shown: value, the cases under it, and whether too few to show (样本不足).
    rates: {},
    // The people layer as shown: staffing totals, the uncovered grids (or townships) marked on
    // the map, and the party organisation's lines (counts only).
    people: { shown: false, totals: null, marked: [], lines: [] },
    // trend: the 24 hourly buckets shown (from, to: ms; hours: ms of each bucket's start)
    trend: { from: 0, to: 0, hours: [], reported: [], resolved: [], loads: 0, live: 0, region: '', noData: 0 },
  };
  window.__zhili = Z;

  const state = {
    topics: new Map([
      [TOPIC_OVERVIEW, { seq: null, resyncAt: 0 }],
      [TOPIC_CASES, { seq: null, resyncAt: 0 }],
    ]),
    overview: null,
    regions: new Map(), // code -> {code, name, parent, level}
    rootName: '',
    townships: [], // codes of level-1 regions, map order
    townCenters: new Map(), // code -> [lon, lat] where its label goes
    townSpots: new Map(), // code -> [[lon, lat]]: other points inside it where its label may go
    townAreas: new Map(), // code -> area (square degrees), the tie-break of label priority
    feed: new Map(), // case_id -> entry (shown newest first by event time, feedOrder)
    markers: [], // {id, lon, lat, cat, urgent, at(ms)}, oldest first
    flows: [], // {id, kind, town, point, at(ms)}, in arrival order, at most MAX_FLOWS
    center: null, // [lon, lat] of the command center (the root's centroid)
    hotline: null, // [lon, lat] where the 12345 hotline's horizontal flows start
    seen: new Map(), // event id -> true, oldest first
    skewMs: 0, // server clock - local clock, from message "at"
    tzMin: null, // the deployment's UTC offset in minutes, from message "at" (null: the browser's)
    lastDataAt: '', // "at" of the last snapshot or delta
    lastMsgAt: 0, // performance.now() of the last message of any kind
    downSince: performance.now(),
    mapReady: false,
    mapFailed: false,
    dirty: { overview: false, cases: false, markers: false, polygons: false, lang: false, trend: false },
    pendingArrival: null, // performance.now() of the oldest frame not yet rendered
    topicError: '', // the server refused a subscription: code and message
    townGeoms: new Map(), // child code -> geometry (hit tests of drill-down clicks)
    hasChildren: new Set(), // codes of regions that have children
    rootCode: '', // code of the shown region
    rootParent: '', // its parent's code ('' at the top of the tree)
    crumbs: [], // [{param, name}] from the top to the shown region's parent (drill-downs made)
  };

  // ---------------------------------------------------------------- helpers
  const clock = time.clock(state);
  const catName = (code) => L.cat(code) || '—';
  const otherColors = new Map();
  function catColor(code) {
    const own = window.Zhili.texts.categoryColor(code);
    if (own) return own;
    if (!otherColors.has(code)) {
      if (otherColors.size > 64) otherColors.clear();
      otherColors.set(code, OTHER_COLORS[otherColors.size % OTHER_COLORS.length]);
    }
    return otherColors.get(code);
  }
  function regionName(code) {
    const r = state.regions.get(code);
    if (r) return r.name;
    const ch = state.overview && state.overview.children && state.overview.children[code];
    return (ch && ch.name) || code;
  }
  function lerpColor(a, b, f) {
    const pa = parseInt(a.slice(1), 16);
    const pb = parseInt(b.slice(1), 16);
    const ch = (s) => {
      const x = (pa >> s) & 255;
      const y = (pb >> s) & 255;
      return Math.round(x + (y - x) * f);
    };
    return 'rgb(' + ch(16) + ',' + ch(8) + ',' + ch(0) + ')';
  }
  function scaleColor(v, max) {
    const f = max > 0 ? Math.min(1, Math.max(0, v / max)) : 0;
    const x = f * (SCALE.length - 1);
    const i = Math.min(SCALE.length - 2, Math.floor(x));
    return lerpColor(SCALE[i], SCALE[i + 1], x - i);
  }
  // ---------------------------------------------------------------- stage scaling and charts
  const stage = $('stage');
  let scale = 1;
  let charts = { map: null, markers: null, cats: null, trend: null };
  let chartDpr = 0;

  // fitCharts follows the stage's scale (one monitor, or a whole ?wall=, scaled to the window):
  // charts draw at the scaled resolution, so 3840×2160 is as sharp as 1920×1080.
  function fitCharts(s, dpr) {
    scale = s;
    Z.layout.scale = s;
    Z.layout.dpr = dpr;
    if (Math.abs(dpr - chartDpr) > 0.01) initCharts(dpr);
  }

  function initCharts(dpr) {
    for (const c of Object.values(charts)) if (c) c.dispose();
    chartDpr = dpr;
    // A zoomed panel (?panel=) draws its canvases at its zoom too.
    const opts = (panel) => ({ renderer: 'canvas', devicePixelRatio: dpr * (panel === PANEL ? panelZoom : 1) });
    charts = {
      map: echarts.init($('map'), null, opts('map')),
      markers: echarts.init($('map-markers'), null, opts('map')),
      cats: echarts.init($('chart-categories'), null, opts('categories')),
      trend: echarts.init($('chart-trend'), null, opts('trend')),
    };
    mapOptionSet = false;
    catsShown = '';
    trendShown = '';
    state.dirty.overview = state.dirty.cases = state.dirty.markers = true;
    scheduleRender();
  }

  // A chart's box follows its panel's texts (a title that wraps in another language): the chart
  // is resized, the map lays its region and labels out again.
  const chartSizes = new Map();
  function onChartBoxes(entries) {
    let changed = false;
    for (const e of entries) {
      const size = e.target.offsetWidth + 'x' + e.target.offsetHeight;
      if (chartSizes.get(e.target) !== size) changed = true;
      chartSizes.set(e.target, size);
    }
    if (!changed || !charts.map) return;
    for (const c of Object.values(charts)) c.resize();
    mapOptionSet = false;
    catsShown = '';
    trendShown = '';
    state.dirty.overview = state.dirty.trend = state.dirty.markers = true;
    scheduleRender();
  }
  if (typeof ResizeObserver === 'function') {
    const ro = new ResizeObserver(onChartBoxes);
    for (const id of ['map', 'chart-categories', 'chart-trend']) ro.observe($(id));
  }

  // ---------------------------------------------------------------- layouts (?panel=, ?wall=)
  // Both move the panels out of their columns into absolutely placed cells (div.cell) of the
  // stage; the 16:9 stage keeps the grid of style.css.
  const PANEL_ZOOM = { map: 1, counters: 2, flows: 2.6, categories: 2, rates: 2, ranking: 1.5, trend: 1.6, sources: 2, feed: 1.5 };
  let panelZoom = 1;
  const panelEl = (name) => document.querySelector('.layout [data-panel="' + name + '"]');
  const layoutEl = document.querySelector('.layout');

  // cell places the named panels (stacked, or side by side when row) in a stage rectangle.
  function cell(r, names, opt) {
    const el = document.createElement('div');
    el.className = 'cell' + (opt && opt.row ? ' row' : '');
    el.dataset.cell = names.join(',');
    const z = (opt && opt.zoom) || 1;
    Object.assign(el.style, {
      left: r.x + 'px', top: r.y + 'px', width: r.w / z + 'px', height: r.h / z + 'px',
      transform: z !== 1 ? 'scale(' + z + ')' : '',
    });
    for (const n of names) el.appendChild(panelEl(n));
    layoutEl.appendChild(el);
    if (names.includes('ranking') && names.includes('trend') && !(opt && opt.row)) {
      // The ranking above the trend: half the cell, rounded down to whole rows (50 px each, under
      // 104 px of padding, title and header, and the 2 px border).
      const rows = Math.max(3, Math.floor(((r.h / z - 16) / 2 - 106) / RANK_ROW));
      Object.assign(panelEl('ranking').style, { flex: 'none', height: 106 + rows * RANK_ROW + 'px' });
    }
    if (names.includes('counters')) {
      // Counters in a row, a column or 2×2, whichever suits their part of the cell (the sources
      // panel below them keeps its height, style.css).
      const cw = r.w / z;
      const ch = r.h / z - (names.includes('sources') ? 238 + 16 : 0);
      const [cols, rows] = cw > 2.6 * ch ? [4, 1] : ch > 1.6 * cw ? [1, 4] : [2, 2];
      Object.assign(panelEl('counters').style, {
        gridTemplateColumns: 'repeat(' + cols + ', 1fr)', gridTemplateRows: 'repeat(' + rows + ', 1fr)',
      });
      const each = [(cw - (cols - 1) * 16) / cols, (ch - (rows - 1) * 16) / rows];
      panelEl('counters').classList.toggle('big', each[0] >= 400 && each[1] >= 300);
    }
    return el;
  }
  const rect = (x0, y0, x1, y1) => ({ x: x0, y: y0, w: x1 - x0, h: y1 - y0 });

  // wallCells computes the cells of a C×R wall: the map in the middle (the central monitor
  // column, or centred on the central seam), the other panels in cells that stay clear of the
  // seams by the bezel.
  function wallCells(C, R, bezel) {
    const M = 16; // margin and gap
    const TOP = 104; // below the title bar
    const half = Math.max(M / 2, bezel); // distance kept from a seam
    const x0 = (c) => (c === 0 ? M : c * MON_W + half);
    const x1 = (c) => (c === C - 1 ? C * MON_W - M : (c + 1) * MON_W - half);
    const y0 = (r) => (r === 0 ? TOP : r * MON_H + half);
    const y1 = (r) => (r === R - 1 ? R * MON_H - M : (r + 1) * MON_H - half);
    const out = [];
    if (C === 1) {
      // A column of monitors: the map above, the other panels on the last monitor.
      out.push([rect(x0(0), y0(0), x1(0), y1(R - 2)), ['map']]);
      const r = rect(x0(0), y0(R - 1), x1(0), y1(R - 1));
      const w = (r.w - 3 * M) / 4;
      const col = (i) => rect(r.x + i * (w + M), r.y, r.x + i * (w + M) + w, r.y + r.h);
      out.push([col(0), ['flows', 'categories', 'rates']], [col(1), ['counters', 'sources']], [col(2), ['ranking', 'trend']], [col(3), ['feed']]);
      return out;
    }
    // The map, and the x ranges of the two sides (each a list of monitor parts).
    let left, right;
    if (C % 2) {
      const mc = (C - 1) / 2;
      out.push([rect(x0(mc), y0(0), x1(mc), y1(R - 1)), ['map']]);
      left = [];
      right = [];
      for (let c = 0; c < mc; c++) left.push([x0(c), x1(c)]);
      for (let c = mc + 1; c < C; c++) right.push([x0(c), x1(c)]);
    } else {
      // Centred on the central seam: the outer parts of the two central monitors keep two columns
      // of 500 pixels (the 16:9 stage's right column): 16 + 500 + 16 + 500 + 16 + mw = MON_W.
      const mid = (C / 2) * MON_W;
      const mw = MON_W - (3 * M + 2 * 500); // half the map's width
      out.push([rect(mid - mw, y0(0), mid + mw, y1(R - 1)), ['map']]);
      left = [];
      right = [];
      for (let c = 0; c < C / 2 - 1; c++) left.push([x0(c), x1(c)]);
      left.push([x0(C / 2 - 1), mid - mw - M]);
      right.push([mid + mw + M, x1(C / 2)]);
      for (let c = C / 2 + 1; c < C; c++) right.push([x0(c), x1(c)]);
    }
    // Parts × monitor rows are the cells of a side; the panel groups fill them in order.
    const side = (parts, groups) => {
      const cells = [];
      for (const [a, b] of parts) for (let r = 0; r < R; r++) cells.push(rect(a, y0(r), b, y1(r)));
      if (cells.length === 1) {
        // One cell: the groups side by side.
        const r = cells[0];
        const w = (r.w - (groups.length - 1) * M) / groups.length;
        groups.forEach((g, i) => out.push([rect(r.x + i * (w + M), r.y, r.x + i * (w + M) + w, r.y + r.h), g]));
        return;
      }
      // More cells than groups: split the groups' panels further; the last cell takes the rest.
      let list = groups;
      if (cells.length > list.length) list = [].concat(...groups.map((g) => g.map((n) => [n])));
      cells.forEach((r, i) => {
        if (i < list.length) out.push([r, i === cells.length - 1 ? [].concat(...list.slice(i)) : list[i]]);
      });
    };
    side(left, [['flows', 'categories', 'rates'], ['counters', 'sources']]);
    side(right, [['ranking', 'trend'], ['feed']]);
    return out;
  }

  function applyLayout() {
    stage.style.width = STAGE_W + 'px';
    stage.style.height = STAGE_H + 'px';
    if (!PANEL && !WALL) return;
    document.body.classList.add(PANEL ? 'panel-mode' : 'wall-mode');
    if (PANEL) {
      // The panel fills the stage under the title bar, laid out at 1/zoom and scaled up.
      panelZoom = PANEL_ZOOM[PANEL] || 1;
      cell(rect(16, 104, STAGE_W - 16, STAGE_H - 16), [PANEL], { zoom: panelZoom });
    } else {
      for (const [r, names] of wallCells(WALL.cols, WALL.rows, BEZEL)) cell(r, names);
    }
    if (WALL) {
      // The title, and the stale banner, centred on the top row's middle monitor (left of the
      // central seam on an even wall), clear of the seams.
      const c = Math.floor((WALL.cols - 1) / 2);
      const title = $('title');
      Object.assign(title.style, { position: 'absolute', left: c * MON_W + 488 + 'px', width: MON_W - 2 * 488 + 'px' });
      $('stale-banner').style.left = c * MON_W + 520 + 'px';
    }
  }

  // ---------------------------------------------------------------- regions and the map
  let mapOptionSet = false;
  let mapShown = ''; // what the polygons show: language and open cases per township
  let mapAspect = 0.85;
  let mapBounds = null; // [[minLon, maxLat], [maxLon, minLat]] for ECharts' boundingCoords
  let mapBoundsLL = null; // [minLon, minLat, maxLon, maxLat]

  // The map draws the shown region, its children and their children's outlines (levels 0-2):
  // deeper levels are not fetched (at a city's root, its 3,600 grids were 2/3 of the reply).
  function fetchRegions(param) {
    return fetch(window.Zhili.apiURL('api/v1/regions?root=' + encodeURIComponent(param) + '&depth=2', TOKEN), { cache: 'no-cache', credentials: 'same-origin' })
      .then((r) => {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.json();
      });
  }

  let regionsDelay = 1000;
  let regionGen = 0; // bumped by a navigation: answers for an earlier region are dropped
  function loadRegions() {
    const gen = regionGen;
    fetchRegions(REGION)
      .then((fc) => {
        if (gen !== regionGen) return;
        buildMap(fc);
        state.mapFailed = false;
        $('map-status').hidden = true;
        state.dirty.overview = state.dirty.markers = true;
        scheduleRender();
      })
      .catch((err) => {
        if (gen !== regionGen) return;
        console.warn('regions:', err);
        state.mapFailed = true;
        bar.setI18n($('map-status'), 'map_failed');
        setTimeout(() => { if (gen === regionGen) loadRegions(); }, regionsDelay);
        regionsDelay = Math.min(BACKOFF_MAX, regionsDelay * 2);
      });
  }

  // ---------------------------------------------------------------- drill-down
  // navigate shows another region without a reload: its regions are fetched first (a refused or
  // unknown region leaves the page as it is), then the topics are switched and everything bound
  // to the region starts afresh. how: 'down' (a child clicked), 'up' (back control, breadcrumb),
  // 'pop' (the browser's back and forward).
  let navigatingTo = '';
  function navigate(param, how) {
    param = regionParam(param);
    if (param === REGION || param === navigatingTo) return;
    navigatingTo = param;
    const gen = ++regionGen;
    fetchRegions(param)
      .then((fc) => {
        if (gen !== regionGen) return;
        navigatingTo = '';
        switchRegion(param, fc, how);
      })
      .catch((err) => {
        if (gen !== regionGen) return;
        navigatingTo = '';
        console.warn('navigate ' + param + ':', err);
        if (how === 'pop') history.replaceState(null, '', urlWith('region', REGION === 'root' ? null : REGION));
        if (!state.mapReady) loadRegions(); // the page's own regions were still loading
      });
  }

  function urlWith(key, value) {
    const u = new URL(location.href);
    if (value === null) u.searchParams.delete(key);
    else u.searchParams.set(key, value);
    return u.pathname + u.search + u.hash;
  }

  function switchRegion(param, fc, how) {
    const from = { param: REGION, name: state.rootName || regionName(state.rootCode) };
    if (how === 'down') {
      state.crumbs.push(from);
      if (state.crumbs.length > 12) state.crumbs.shift();
    } else {
      const i = state.crumbs.findIndex((c) => c.param === param);
      if (i >= 0) state.crumbs.length = i;
      else if (how === 'pop' && state.hasChildren.has(param)) state.crumbs.push(from);
      else state.crumbs.length = 0;
    }
    if (how !== 'pop') history.pushState(null, '', urlWith('region', param === 'root' ? null : param));
    // Topics: the old ones are dropped (their late messages are ignored), the new ones subscribed
    // now, or by live.js when the socket (re)opens.
    for (const topic of [TOPIC_OVERVIEW, TOPIC_CASES]) {
      live.send({ op: 'unsub', topic });
      state.topics.delete(topic);
      delete Z.seq[topic];
    }
    REGION = param;
    TOPIC_OVERVIEW = 'overview:' + REGION;
    TOPIC_CASES = 'cases:' + REGION;
    for (const topic of [TOPIC_OVERVIEW, TOPIC_CASES]) {
      state.topics.set(topic, { seq: null, resyncAt: 0 });
      live.send({ op: 'sub', topic });
    }
    state.topicError = '';
    state.overview = null;
    state.feed.clear();
    state.markers.length = 0;
    state.flows.length = 0;
    state.seen.clear();
    state.rootName = '';
    rank.page = 0;
    rankShown = '';
    catsShown = '';
    buildMap(fc);
    state.mapFailed = false;
    $('map-status').hidden = true;
    resetTrend();
    loadTrend();
    Z.region = REGION;
    Z.navigations++;
    state.dirty = { overview: true, cases: true, markers: true, polygons: true, lang: true, trend: true };
    scheduleRender();
  }

  // backTarget is where the back control goes: the region drilled down from, else the parent.
  function backTarget() {
    if (state.crumbs.length) return state.crumbs[state.crumbs.length - 1].param;
    return state.rootParent || '';
  }

  function updateDrillNav() {
    const target = backTarget();
    const nav = $('drill-nav');
    nav.hidden = !target || !state.mapReady;
    if (nav.hidden) return;
    const crumbs = state.crumbs.length ? state.crumbs : [{ param: state.rootParent, name: t('parent_region') }];
    $('drill-crumbs').innerHTML = crumbs.map((c) => '<a href="#" data-param="' + esc(c.param) + '">' + esc(c.name) + '</a><i>›</i>').join('') +
      '<b>' + esc(state.rootName) + '</b>';
  }
  $('drill-back').addEventListener('click', (ev) => {
    ev.stopPropagation();
    const target = backTarget();
    if (target) navigate(target, 'up');
  });
  $('drill-crumbs').addEventListener('click', (ev) => {
    ev.preventDefault();
    ev.stopPropagation();
    const a = ev.target.closest('a[data-param]');
    if (a) navigate(a.dataset.param, 'up');
  });
  window.addEventListener('popstate', () => navigate(regionParam(new URLSearchParams(location.search).get('region')), 'pop'));

  // childAtPixel returns the code of the child region under a viewport point, or ''.
  function childAtPixel(clientX, clientY) {
    if (!charts.map || !state.mapReady || !mapOptionSet) return '';
    const el = $('map');
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height) return '';
    // The chart's own pixels: the stage (and a ?panel= cell) are scaled by CSS transforms.
    const xy = [(clientX - r.left) * el.offsetWidth / r.width, (clientY - r.top) * el.offsetHeight / r.height];
    const ll = charts.map.convertFromPixel({ geoIndex: 0 }, xy);
    return ll ? townAt(ll) : '';
  }
  // townAt returns the code of the child region holding a [lon, lat] point, or ''.
  function townAt(ll) {
    for (const [code, g] of state.townGeoms) if (window.Zhili.map.inGeometry(ll, g)) return code;
    return '';
  }
  const mapWrap = $('map-wrap');
  mapWrap.addEventListener('click', (ev) => {
    if (ev.target.closest('.drill-nav, .choro-switch')) return;
    const code = childAtPixel(ev.clientX, ev.clientY);
    if (code && state.hasChildren.has(code)) navigate(code, 'down'); // a region without children: nothing
  });
  let hoverQueued = false;
  let hoverXY = [0, 0];
  mapWrap.addEventListener('mousemove', (ev) => {
    if (KIOSK) return;
    hoverXY = [ev.clientX, ev.clientY];
    if (hoverQueued) return;
    hoverQueued = true;
    requestAnimationFrame(() => {
      hoverQueued = false;
      mapWrap.classList.toggle('drillable', state.hasChildren.has(childAtPixel(hoverXY[0], hoverXY[1])));
    });
  });

  function buildMap(fc) {
    const features = ((fc && fc.features) || []).filter((f) => f && f.geometry && f.properties);
    // Levels are depths in the whole tree; the shown root may sit below the top (?region=).
    let top = Infinity;
    for (const f of features) top = Math.min(top, Number(f.properties.level) || 0);
    let root = null;
    const towns = [];
    const grids = [];
    state.regions.clear();
    state.hasChildren.clear();
    for (const f of features) {
      const p = f.properties;
      const code = String(p.code);
      const level = (Number(p.level) || 0) - top;
      state.regions.set(code, { code, name: p.name || code, parent: p.parent || '', level });
      if (p.parent) state.hasChildren.add(String(p.parent));
      if (level === 0 && !root) root = f;
      else if (level === 1) towns.push(f);
      else if (level === 2) grids.push(f);
    }
    // Name the children's level after their kind (a city's children are counties).
    const kind = towns.some((f) => f.properties.kind === 'county') ? 'county' : towns.some((f) => f.properties.kind === 'grid') ? 'grid' : '';
    Object.assign(TEXT.zh, kind === 'county' ? { rank_title: '区县排名 · 今日', rank_name: '区（县）' }
      : kind === 'grid' ? { rank_title: '网格排名 · 今日', rank_name: '网格' } : LEVEL_TEXT.zh);
    Object.assign(TEXT.en, kind === 'county' ? { rank_title: 'Counties · today', rank_name: 'County' }
      : kind === 'grid' ? { rank_title: 'Grids · today', rank_name: 'Grid' } : LEVEL_TEXT.en);
    if (!root && features.length) root = features[0];
    state.rootCode = root ? String(root.properties.code) : '';
    state.rootParent = root && root.properties.parent ? String(root.properties.parent) : '';
    if (root) state.rootName = root.properties.name || '';
    state.townGeoms = new Map(towns.map((f) => [String(f.properties.code), f.geometry]));
    Z.regionCode = state.rootCode;
    Z.regionName = state.rootName;
    Z.regionChildren = towns.map((f) => String(f.properties.code));
    bar.applyLang();
    // One map, four layers in drawing order: township fills (T), grid outlines (G), township
    // outlines with labels (O), the root outline (R). Each layer names its features with a prefix.
    const layer = (prefix, list) => list.map((f) => ({
      type: 'Feature', geometry: f.geometry, properties: { name: prefix + f.properties.code },
    }));
    const mapFeatures = [];
    if (towns.length) {
      mapFeatures.push(...layer('T', towns), ...layer('G', grids), ...layer('O', towns));
    }
    if (root) mapFeatures.push(...layer('R', [root]));
    state.townships = towns.map((f) => String(f.properties.code));
    state.townCenters = new Map(towns.map((f) => [String(f.properties.code), labelPoint(f.geometry)]));
    // Bounds and the aspect of a degree at this latitude (equirectangular display).
    const b = root ? window.Zhili.map.boundsOf(window.Zhili.map.polygonsOf(root.geometry)) : null;
    const [minX, minY, maxX, maxY] = b || [180, 90, -180, -90];
    mapBoundsLL = b;
    if (b) {
      mapBounds = [[minX, maxY], [maxX, minY]];
      mapAspect = window.Zhili.map.aspectOf(b);
    }
    state.townSpots = new Map();
    state.townAreas = new Map();
    for (const f of towns) {
      const code = String(f.properties.code);
      state.townSpots.set(code, innerSpots(f.geometry, state.townCenters.get(code), mapAspect));
      state.townAreas.set(code, areaOf(f.geometry));
    }
    // Flow anchors: the command center at the root's centroid; the 12345 hotline in the corner of
    // the map's bounds farthest from every township label (horizontal flows start there).
    state.center = root && root.geometry ? labelPoint(root.geometry) : null;
    state.hotline = null;
    if (mapBounds && state.center) {
      const dx = maxX - minX;
      const dy = maxY - minY;
      const taken = [state.center, ...state.townCenters.values()];
      let best = -1;
      for (const [fx, fy] of [[0.08, 0.1], [0.92, 0.1], [0.08, 0.9], [0.92, 0.9]]) {
        const p = [minX + fx * dx, minY + fy * dy];
        let near = Infinity;
        for (const q of taken) near = Math.min(near, Math.hypot((p[0] - q[0]) * mapAspect, p[1] - q[1]));
        if (near > best) {
          best = near;
          state.hotline = p;
        }
      }
    }
    echarts.registerMap('zhili', { type: 'FeatureCollection', features: mapFeatures });
    // The marker layer's map is the root outline only: with the same boundingCoords and box it
    // projects exactly like the full map, at a fraction of the drawing cost.
    echarts.registerMap('zhili-outline', { type: 'FeatureCollection', features: mapBounds && root ? layer('R', [root]) : mapFeatures });
    state.mapReady = true;
    mapOptionSet = false;
    updateDrillNav();
  }

  // mapBox is where the shown region is drawn in the map charts (their own pixels): the free
  // area, less the back control and the legend, fitted with the region's true proportions (a
  // degree of longitude is cos(latitude) of one of latitude, Zhili.map.projection) and centred.
  // ECharts would stretch the region to a box given by its four sides.
  function mapBox() {
    const top = KIOSK ? 8 : 44; // clear of the back control and the choropleth switch
    const w = charts.map.getWidth();
    const h = charts.map.getHeight();
    // Beside the people panel the map is narrower: wider margins keep the names of the marks at
    // its corners (the 12345 hotline) inside and clear of the panel.
    const staff = CHORO === 'staff';
    const left = staff ? 64 : 16;
    const right = staff ? PEOPLE_W + 48 : 0;
    const box = { x: left, y: top, w: Math.max(10, w - left - 16 - right), h: Math.max(10, h - top - 56) };
    if (!mapBoundsLL) return box;
    const p = window.Zhili.map.projection(mapBoundsLL, box);
    const b = mapBoundsLL;
    // Beside the panel the region keeps to the left, leaving the gap before the panel free.
    return { x: staff ? box.x : p.ox, y: p.oy, w: (b[2] - b[0]) * p.aspect * p.k, h: (b[3] - b[1]) * p.k };
  }

  // innerSpots returns up to 8 points of a 7×7 lattice over a region's bounds that lie inside it,
  // nearest its centre c first: other places where its label reads as its own.
  function innerSpots(g, c, aspect) {
    const mb = window.Zhili.map.boundsOf(window.Zhili.map.polygonsOf(g));
    if (!mb || !c) return [];
    const out = [];
    for (let i = 0; i < 7; i++) {
      for (let j = 0; j < 7; j++) {
        const p = [mb[0] + (i + 0.5) / 7 * (mb[2] - mb[0]), mb[1] + (j + 0.5) / 7 * (mb[3] - mb[1])];
        if (inGeometry(p, g)) out.push(p);
      }
    }
    const d = (p) => Math.hypot((p[0] - c[0]) * aspect, p[1] - c[1]);
    return out.sort((a, b) => d(a) - d(b)).slice(0, 8);
  }
  // areaOf is a (Multi)Polygon's area in square degrees, holes taken out.
  function areaOf(g) {
    let a = 0;
    for (const poly of window.Zhili.map.polygonsOf(g)) {
      poly.forEach((ring, k) => {
        let s2 = 0;
        for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) s2 += ring[j][0] * ring[i][1] - ring[i][0] * ring[j][1];
        a += (k === 0 ? 1 : -1) * Math.abs(s2 / 2);
      });
    }
    return a;
  }

  // geoLayout is shared by the polygon and the marker charts, so both project alike.
  function geoLayout(map) {
    const box = mapBox();
    return {
      map,
      roam: false,
      silent: true,
      aspectScale: mapAspect,
      boundingCoords: mapBounds || undefined,
      left: box.x,
      top: box.y,
      width: box.w,
      height: box.h,
      itemStyle: { areaColor: 'rgba(0,0,0,0)', borderWidth: 0, borderColor: 'rgba(0,0,0,0)' },
      label: { show: false },
      emphasis: { disabled: true },
      select: { disabled: true },
      regions: [],
    };
  }

  // Child region labels (name and 在办 N): DOM above both charts, placed by Zhili.map.layoutLabels
  // so that none overlaps another, the command center's and the hotline's marks, the back
  // control or a wall's seam. Each goes on its region's centroid, else on another point inside
  // the region, else a little away with a leader line; the labels of the highest values (then
  // the largest regions) are placed first, and a label with no room left is not shown (the
  // ranking lists every child).
  const labelsEl = $('map-labels');
  const labelEls = new Map(); // code -> {el, text, xy (anchor px), spots (px)}
  const SVG_NS = 'http://www.w3.org/2000/svg';
  let leadersEl = null;
  let labelsLaid = ''; // the texts the labels were laid out with
  function placeLabels() {
    labelsEl.textContent = '';
    labelEls.clear();
    leadersEl = document.createElementNS(SVG_NS, 'svg');
    leadersEl.setAttribute('class', 'leaders');
    labelsEl.appendChild(leadersEl);
    const px = (p) => charts.map.convertToPixel({ geoIndex: 0 }, p);
    for (const [code, p] of state.townCenters) {
      const xy = px(p);
      if (!xy) continue;
      const el = document.createElement('div');
      el.className = 'town-label';
      el.dataset.code = code;
      labelsEl.appendChild(el);
      const spots = (state.townSpots.get(code) || []).map(px).filter(Boolean);
      labelEls.set(code, { el, text: '', xy, spots });
    }
    labelsLaid = '';
  }

  // labelName is a child's name without its parent's name in front (番城街道第12网格 → 第12网格).
  function labelName(code) {
    const name = regionName(code);
    const parent = state.rootName;
    return parent && name.length > parent.length + 1 && name.startsWith(parent) ? name.slice(parent.length) : name;
  }

  // staffLabel is a child's label on the people layer: on duty now, and its uncovered grids.
  function staffLabel(code) {
    const st = staffingOf('children', code);
    const gaps = num(st.uncovered);
    return '<b>' + esc(labelName(code)) + '</b><span>' + esc(t('staff_on')) + ' ' + num(st.on_duty) +
      (gaps > 0 ? ' · <em class="gap">' + esc(t('staff_uncovered')) + ' ' + gaps + '</em>' : '') + '</span>';
  }

  // staffingOf returns the overview's staffing counts of a child ('children') or a grandchild
  // ('cells'), or of the shown region ('totals').
  function staffingOf(part, code) {
    const s = (state.overview && state.overview.staffing) || {};
    if (part === 'totals') return s.totals || {};
    return (s[part] && s[part][code]) || {};
  }

  // staffColor colours a region by the share of its grids uncovered (no head or nobody on duty).
  function staffColor(st) {
    const g = num(st.grids);
    if (g === 0) return 'rgba(60,80,110,0.5)';
    const f = num(st.uncovered) / g;
    return STAFF_SCALE[Math.min(STAFF_SCALE.length - 1, Math.ceil(f * (STAFF_SCALE.length - 1)))];
  }

  function updateLabels() {
    const children = (state.overview && state.overview.children) || {};
    let texts = '';
    for (const [code, l] of labelEls) {
      const ch = children[code];
      const html = CHORO === 'staff' ? staffLabel(code)
        : '<b>' + esc(labelName(code)) + '</b><span>' + esc(t(CHORO === 'new' ? 'label_new' : 'open')) + ' ' +
        num(ch && ch[CHORO_KEY[CHORO]]) + '</span>';
      if (html !== l.text) {
        l.text = html;
        l.el.innerHTML = html;
      }
      texts += html;
    }
    if (texts !== labelsLaid) {
      labelsLaid = texts;
      layoutMapLabels();
    }
  }

  // anchorBoxes are the boxes (label-layer pixels) of the command center's and the hotline's
  // marks with their names below them (markersBaseOption draws them).
  let measureCtx = null;
  function anchorBoxes() {
    if (!measureCtx) measureCtx = document.createElement('canvas').getContext('2d');
    measureCtx.font = 'bold 20px ' + getComputedStyle(document.body).fontFamily;
    const out = [];
    for (const [p, name, r] of [[state.center, t('center'), 9], [state.hotline, t('hotline'), 8]]) {
      const c = p && charts.map.convertToPixel({ geoIndex: 0 }, p);
      if (!c) continue;
      const w = measureCtx.measureText(name).width + 10;
      out.push([c[0] - r - 2, c[1] - r - 2, 2 * r + 4, 2 * r + 4], [c[0] - w / 2, c[1] + r + 2, w, 30]);
    }
    return out;
  }

  function layoutMapLabels() {
    if (!labelEls.size) return;
    const W = labelsEl.clientWidth;
    const H = labelsEl.clientHeight;
    const values = choroValues();
    let maxArea = 0;
    for (const code of labelEls.keys()) maxArea = Math.max(maxArea, state.townAreas.get(code) || 0);
    const items = [];
    for (const [code, l] of labelEls) {
      l.el.hidden = false;
      const tie = maxArea > 0 ? 0.9 * (state.townAreas.get(code) || 0) / maxArea : 0;
      items.push({ id: code, x: l.xy[0], y: l.xy[1], w: l.el.offsetWidth, h: l.el.offsetHeight,
        priority: values[code] + tie, spots: l.spots, leader: true });
    }
    const obstacles = anchorBoxes();
    for (const el of [$('drill-nav'), $('choro-switch'), $('people-panel')]) {
      if (!el.hidden && el.offsetParent !== null) obstacles.push([el.offsetLeft - 4, el.offsetTop - 4, el.offsetWidth + 8, el.offsetHeight + 8]);
    }
    if (WALL) {
      // The seams between monitors (the map may span them): no label across one.
      const a = labelsEl.getBoundingClientRect();
      const b = stage.getBoundingClientRect();
      const off = [(a.left - b.left) / scale, (a.top - b.top) / scale];
      const keep = BEZEL + 4;
      for (let c = 1; c < WALL.cols; c++) obstacles.push([c * MON_W - off[0] - keep, -1e4, 2 * keep, 2e4]);
      for (let r = 1; r < WALL.rows; r++) obstacles.push([-1e4, r * MON_H - off[1] - keep, 2e4, 2 * keep]);
    }
    const lay = window.Zhili.map.layoutLabels(items, { bounds: [4, 4, W - 4, H - 40], obstacles, pad: 3, ringStep: 30, rings: 6 });
    const shown = new Set();
    let lines = '';
    for (const b of lay.placed) {
      const l = labelEls.get(b.id);
      shown.add(b.id);
      l.el.style.left = b.x.toFixed(1) + 'px';
      l.el.style.top = b.y.toFixed(1) + 'px';
      if (b.leader) {
        const [ax, ay, bx, by] = b.leader.map((v) => v.toFixed(1));
        lines += '<line x1="' + ax + '" y1="' + ay + '" x2="' + bx + '" y2="' + by + '"/><circle cx="' + ax + '" cy="' + ay + '" r="3"/>';
      }
    }
    for (const [code, l] of labelEls) l.el.hidden = !shown.has(code);
    leadersEl.innerHTML = lines;
    Z.labels = { placed: lay.placed.map((b) => b.id), dropped: lay.dropped };
  }

  function mapBaseOption() {
    return {
      animation: false,
      textStyle: { fontFamily: getComputedStyle(document.body).fontFamily },
      geo: geoLayout('zhili'),
    };
  }

  function markersBaseOption() {
    return {
      animation: false,
      textStyle: { fontFamily: getComputedStyle(document.body).fontFamily },
      geo: geoLayout('zhili-outline'),
      series: [
        {
          id: 'markers', type: 'scatter', coordinateSystem: 'geo', geoIndex: 0, silent: true,
          symbolSize: 12, animation: false, z: 5, data: [],
        },
        {
          // Flow lines with a moving trail; their own layer (zlevel), since trails blur a layer.
          id: 'flows', type: 'lines', coordinateSystem: 'geo', geoIndex: 0, silent: true,
          zlevel: 1, z: 4, animation: false, polyline: false,
          effect: { show: MOTION, period: 2.4, trailLength: 0.45, symbol: 'arrow', symbolSize: 11, loop: true },
          symbol: MOTION ? 'none' : ['none', 'arrow'], symbolSize: 12,
          lineStyle: { width: 2.5, opacity: 0.7, curveness: 0.25 },
          data: [],
        },
        {
          id: 'anchors', type: 'scatter', coordinateSystem: 'geo', geoIndex: 0, silent: true,
          zlevel: 2, z: 7, animation: false, symbolSize: 18,
          label: {
            show: true, position: 'bottom', distance: 4, formatter: '{b}', color: '#ffffff', fontSize: 20,
            fontWeight: 'bold', textBorderColor: '#001028', textBorderWidth: 4,
          },
          data: [],
        },
        {
          id: 'ripples', type: MOTION ? 'effectScatter' : 'scatter', coordinateSystem: 'geo', geoIndex: 0, silent: true,
          symbolSize: MOTION ? 16 : 20, zlevel: 2, z: 6, animation: false,
          showEffectOn: 'render',
          rippleEffect: { brushType: 'stroke', scale: 4.5, period: 3, number: 2 },
          data: [],
        },
      ],
    };
  }

  // choroValues returns the value that colours each child region (?choropleth=open|new).
  function choroValues() {
    const children = (state.overview && state.overview.children) || {};
    const key = CHORO_KEY[CHORO];
    const values = {};
    for (const c of state.townships) {
      values[c] = CHORO === 'staff' ? num(staffingOf('children', c).uncovered) : num(children[c] && children[c][key]);
    }
    return values;
  }

  function mapRegions() {
    const values = choroValues();
    let max = 0;
    for (const c of state.townships) max = Math.max(max, values[c]);
    Z.choropleth = { metric: CHORO, max, values };
    const out = [];
    const staff = CHORO === 'staff';
    for (const c of state.townships) {
      const color = staff ? staffColor(staffingOf('children', c)) : scaleColor(values[c], max);
      out.push({ name: 'T' + c, itemStyle: { areaColor: color, opacity: staff ? 0.35 : 0.92 } });
    }
    const marked = [];
    for (const [code, r] of state.regions) {
      if (r.level !== 2) continue;
      if (staff) {
        // Each grid (or, at a city, each township) in its own colour; an uncovered one outlined.
        const st = staffingOf('cells', code);
        const gap = num(st.uncovered) > 0;
        if (gap) marked.push(code);
        out.push({ name: 'G' + code, itemStyle: { areaColor: staffColor(st), opacity: 0.9,
          borderColor: gap ? '#ffd0d0' : 'rgba(150,215,255,0.45)', borderWidth: gap ? 1.5 : 1 } });
      } else {
        out.push({ name: 'G' + code, itemStyle: { areaColor: 'rgba(0,0,0,0)', borderColor: 'rgba(150,215,255,0.38)', borderWidth: 1, borderType: [4, 3] } });
      }
    }
    Z.people.marked = marked;
    for (const c of state.townships) {
      out.push({ name: 'O' + c, itemStyle: { areaColor: 'rgba(0,0,0,0)', borderColor: '#6fdcff', borderWidth: 2 } });
    }
    for (const [code, r] of state.regions) {
      if (r.level === 0) {
        out.push({ name: 'R' + code, itemStyle: { areaColor: state.townships.length ? 'rgba(0,0,0,0)' : SCALE[1], borderColor: '#8cf0ff', borderWidth: 3.5, shadowColor: 'rgba(47,211,255,0.9)', shadowBlur: 18 } });
      }
    }
    $('legend-min').textContent = '0';
    $('legend-max').textContent = staff ? String(num(staffingOf('totals').grids)) : String(Math.max(max, 1));
    return out;
  }

  function markerSeries() {
    const now = clock.now();
    // Drop expired markers (oldest first) so the array never holds more than the window.
    let drop = 0;
    while (drop < state.markers.length && now - state.markers[drop].at > MARKER_MS) drop++;
    if (drop) state.markers.splice(0, drop);
    const plain = [];
    const ripples = [];
    for (let i = state.markers.length - 1; i >= 0; i--) {
      const m = state.markers[i];
      const age = Math.max(0, now - m.at);
      if (age > MARKER_MS) continue; // a late event behind newer ones; dropped when it reaches the front
      const opacity = 1 - 0.75 * (age / MARKER_MS);
      const color = m.urgent ? '#ff3b4e' : catColor(m.cat);
      const item = { value: [m.lon, m.lat], itemStyle: { color, opacity, borderColor: '#fff', borderWidth: m.urgent ? 2 : 1 } };
      if ((m.urgent || age < RIPPLE_NEW_MS) && ripples.length < MAX_RIPPLES) {
        if (!MOTION) Object.assign(item.itemStyle, { borderWidth: 4, shadowColor: color, shadowBlur: 14 });
        ripples.push(item);
      } else plain.push(item);
    }
    Z.markers = state.markers.length;
    return [{ id: 'markers', data: plain }, { id: 'ripples', data: ripples }, ...flowSeries()];
  }

  // flowKind is the flow of a cases item: its "flow", else from its type and source.
  function flowKind(ev) {
    if (FLOW_COLORS[ev.flow]) return ev.flow;
    if (ev.type === 'case.reported') return ev.source === 'hotline12345' ? 'horizontal' : 'up';
    if (ev.type === 'whistle.blown') return 'up';
    if (ev.type === 'case.dispatched' || ev.type === 'whistle.answered') return 'down';
    return '';
  }

  // addFlow keeps a flow event for the map; at most MAX_FLOWS, the oldest dropped first.
  function addFlow(ev, at) {
    const kind = flowKind(ev);
    if (!kind || !FLOW_MS || clock.now() - at > FLOW_MS) return;
    const point = Array.isArray(ev.point) && ev.point.length >= 2 && Number.isFinite(Number(ev.point[0])) &&
      Number.isFinite(Number(ev.point[1])) ? [Number(ev.point[0]), Number(ev.point[1])] : null;
    const region = Array.isArray(ev.region) ? ev.region : [];
    if (!point && region.length === 0) return; // unlocated: no place to draw it
    state.flows.push({ id: ev.id || '', kind, region, point, at });
    if (state.flows.length > MAX_FLOWS) state.flows.splice(0, state.flows.length - MAX_FLOWS);
    state.dirty.markers = true;
  }

  // flowSeries draws the kept flows: 上行 from the grid (the case's point) or its township up to
  // the command center, 下行 from the center down to the township, 横向 from the 12345 hotline to
  // the township. Lines fade with age and are dropped after FLOW_MS.
  function flowSeries() {
    const now = clock.now();
    state.flows = state.flows.filter((f) => now - f.at <= FLOW_MS);
    Z.flowsKept = state.flows.length;
    const kinds = { up: 0, down: 0, horizontal: 0 };
    const lines = [];
    if (state.center && state.mapReady) {
      for (const f of state.flows) {
        const town = state.townCenters.get(townOf(f.region)) || null;
        const place = f.kind === 'up' ? f.point || town : town || f.point;
        const from = f.kind === 'up' ? place : f.kind === 'down' ? state.center : state.hotline;
        const to = f.kind === 'up' ? state.center : place;
        if (!from || !to || (Math.abs(from[0] - to[0]) < 1e-6 && Math.abs(from[1] - to[1]) < 1e-6)) continue;
        const fade = 1 - Math.max(0, now - f.at) / FLOW_MS;
        kinds[f.kind]++;
        lines.push({
          name: f.kind + ':' + f.id + ':' + f.at,
          coords: [from, to],
          lineStyle: { color: FLOW_COLORS[f.kind], opacity: 0.2 + 0.6 * fade, curveness: f.kind === 'down' ? -0.25 : 0.25 },
        });
      }
    }
    Z.flows = lines.length;
    Z.flowKinds = kinds;
    const anchors = [];
    if (state.center) {
      anchors.push({ name: t('center'), value: state.center, symbol: 'circle', itemStyle: { color: '#ffffff', borderColor: '#2fd3ff', borderWidth: 4, shadowColor: '#2fd3ff', shadowBlur: 14 } });
    }
    if (state.hotline) {
      anchors.push({ name: t('hotline'), value: state.hotline, symbol: 'roundRect', symbolSize: 16, itemStyle: { color: FLOW_COLORS.horizontal, borderColor: '#ffffff', borderWidth: 2 } });
    }
    return [{ id: 'flows', data: lines }, { id: 'anchors', data: anchors }];
  }

  // ---------------------------------------------------------------- rendering
  // Hoisted (var) so that a render requested during start-up finds it.
  var renderer; // eslint-disable-line no-var
  // A busy feed updates the counters and the feed list on every frame, but coalesces the map's
  // redraws: throttle reports whether to draw now, or keeps the part dirty and draws it later.
  const throttles = { markers: { at: -Infinity, timer: 0 }, polygons: { at: -Infinity, timer: 0 } };
  function throttle(th, every, now, part, force) {
    const wait = th.at + every - now;
    if (wait <= 0 || force) {
      th.at = now;
      return true;
    }
    state.dirty[part] = true;
    if (!th.timer) {
      th.timer = setTimeout(() => {
        th.timer = 0;
        scheduleRender();
      }, wait);
    }
    return false;
  }
  function scheduleRender() {
    if (!renderer) renderer = window.Zhili.scheduler(render);
    renderer.schedule();
  }

  function render() {
    const t0 = performance.now();
    const d = state.dirty;
    state.dirty = { overview: false, cases: false, markers: false, polygons: false, lang: false, trend: false };
    try {
      if (d.lang) bar.applyLang();
      if (d.overview || d.lang) renderOverview();
      if (d.cases || d.lang) renderFeed();
      if (d.trend || d.lang) renderTrend();
      if (charts.map && state.mapReady) {
        if (!mapOptionSet) {
          charts.map.setOption(mapBaseOption(), true);
          charts.markers.setOption(markersBaseOption(), true);
          mapOptionSet = true;
          placeLabels();
          mapShown = '';
          throttles.markers.at = throttles.polygons.at = -Infinity;
          d.overview = d.markers = true;
        }
        if (d.overview || d.lang) updateLabels();
        if (d.overview || d.lang || d.polygons) {
          // Redraw the polygons only when what they show changed (most deltas do not touch them).
          const values = choroValues();
          let key = L.lang + ':' + CHORO + ':' + state.townships.map((c) => values[c]).join(',');
          if (CHORO === 'staff') key += ':' + JSON.stringify(state.overview && state.overview.staffing && state.overview.staffing.cells);
          if (key !== mapShown && throttle(throttles.polygons, POLYGONS_EVERY_MS, t0, 'polygons', d.lang)) {
            mapShown = key;
            charts.map.setOption({ geo: { regions: mapRegions() } });
          }
        }
        if ((d.markers || d.cases || d.lang) && throttle(throttles.markers, MARKERS_EVERY_MS, t0, 'markers', d.lang)) {
          charts.markers.setOption({ series: markerSeries() });
        }
        Z.layout.renderedDpr = chartDpr;
      }
    } catch (err) {
      console.error('render:', err);
    }
    const now = performance.now();
    if (state.pendingArrival !== null) {
      const ms = now - state.pendingArrival;
      Z.renderMs = Math.round(ms * 100) / 100;
      Z.lastRender = { arrivedAt: state.pendingArrival, startedAt: t0, renderedAt: now, ms: Z.renderMs };
      Z.renderStats.count++;
      Z.renderStats.totalMs += ms;
      Z.renderStats.maxMs = Math.max(Z.renderStats.maxMs, ms);
      state.pendingArrival = null;
    }
    if (!Z.ready && state.mapReady && mapOptionSet && state.overview &&
        state.topics.get(TOPIC_CASES).seq !== null) {
      Z.ready = true;
      Z.readyAt = now;
      live.checkStale();
      document.body.dataset.ready = '1';
    }
  }

  const flips = {};
  for (const key of ['new_today', 'open', 'overdue', 'resolved_today']) {
    flips[key] = new Flip($('counter-' + key).querySelector('[data-flip]'));
  }

  function renderOverview() {
    const o = state.overview || {};
    const totals = o.totals || {};
    if (o.region && o.region.name && !state.rootName) {
      state.rootName = o.region.name;
      bar.updateTitle();
    }
    for (const key of Object.keys(flips)) {
      const v = typeof totals[key] === 'number' ? totals[key] : null;
      Z.counters[key] = v;
      flips[key].set(v);
    }
    $('counter-overdue').classList.toggle('alarm', num(totals.overdue) > 0);
    $('unlocated').textContent = String(num(totals.unlocated_today));
    // Today's new cases at the root include the unlocated ones: say how many.
    const nu = $('new-unlocated');
    const hasNU = typeof totals.unlocated_today === 'number' && totals.unlocated_today > 0;
    nu.hidden = !hasNU;
    nu.textContent = hasNU ? t('new_unlocated').replace('{n}', String(totals.unlocated_today)) : '';

    const flows = o.flows || {};
    $('flow-up').textContent = String(num(flows.up));
    $('flow-down').textContent = String(num(flows.down));
    $('flow-horizontal').textContent = String(num(flows.horizontal));

    const rates = o.rates || {};
    const rn = o.rates_n || {};
    const minN = num(o.min_sample);
    setRate('rate-response', rates.response, rn.response, minN, num((o.rates_pending || {}).response));
    setRate('rate-resolution', rates.resolution, rn.resolution, minN);
    setRate('rate-satisfaction', rates.satisfaction, rn.satisfaction, minN);

    renderCategories(o.by_category || {});
    renderSources(o.by_source);
    renderWhistle(o.whistles, totals.new_today, minN);
    renderRanking(o.children || {});
    renderPeople(o);
  }

  // The people panel (people layer only): grid staffing of the shown region and the party
  // organisation of the 王 structure, line by line. Counts only: no name reaches the wall.
  let peopleShown = '';
  function renderPeople(o) {
    const panel = $('people-panel');
    const on = CHORO === 'staff';
    panel.hidden = !on;
    Z.people.shown = on;
    if (!on) return;
    const st = (o.staffing && o.staffing.totals) || {};
    const party = o.party || {};
    const lines = party.lines || [];
    Z.people.totals = st;
    Z.people.lines = lines;
    const zh = L.lang === 'zh';
    const cell = (k, v, cls) => '<div class="pp-stat' + (cls ? ' ' + cls : '') + '"><b>' + v + '</b><span>' + esc(t(k)) + '</span></div>';
    let html = '<h3>' + esc(t('people_title')) + '</h3><div class="pp-stats">' +
      cell('people_grids', num(st.grids)) + cell('people_heads', num(st.heads)) +
      cell('people_workers', num(st.workers)) + cell('people_on', num(st.on_duty), 'ok') +
      cell('people_no_head', num(st.no_head), num(st.no_head) > 0 ? 'bad' : '') +
      cell('people_none_on', num(st.none_on_duty), num(st.none_on_duty) > 0 ? 'bad' : '') + '</div>' +
      '<div class="pp-lines"><div class="pp-line pp-head"><span></span><span></span><span>' + esc(t('people_orgs')) +
      '</span><span>' + esc(t('people_in_force')) + '</span></div>';
    for (const l of lines) {
      html += '<div class="pp-line" data-level="' + esc(l.level) + '"><span class="pp-tag">' + esc(zh ? l.line : l.line_en) + '</span>' +
        '<span class="pp-name">' + esc(zh ? l.zh : l.en) + '<small>' + esc(zh ? l.role : l.role_en) + '</small></span>' +
        '<span class="pp-num">' + num(l.orgs) + '</span><span class="pp-num">' + num(l.in_force) + '/' + num(l.regions) + '</span></div>';
    }
    const d = party.depts;
    if (d) {
      html += '<div class="pp-line pp-vertical" data-level="depts"><span class="pp-tag">' + esc(zh ? d.line : d.line_en) + '</span>' +
        '<span class="pp-name">' + esc(t('people_depts')) + '<small>' + esc(t('people_dept_heads')) + '</small></span>' +
        '<span class="pp-num">' + num(d.units) + '</span><span class="pp-num">' + num(d.in_force) + '/' + num(d.units) + '</span></div>';
    }
    html += '</div>';
    if (html !== peopleShown) {
      peopleShown = html;
      panel.innerHTML = html;
    }
  }

  // 一端口: today's new cases by the source of their report ('—' from a server without them).
  let sourcesShown = '';
  function renderSources(bySource) {
    const has = bySource && typeof bySource === 'object';
    const values = SOURCES.map((code) => (has ? num(bySource[code]) : null));
    const max = Math.max(1, ...values.map((v) => v || 0));
    const html = SOURCES.map((code, i) => {
      const v = values[i];
      return '<li data-source="' + code + '"' + (v ? '' : ' class="zero"') + '><span class="nm">' + esc(t('src')[code]) + '</span>' +
        '<span class="ct">' + (v === null ? '—' : v) + '</span><i class="bar" style="width:' + Math.round(100 * (v || 0) / max) + '%"></i></li>';
    }).join('');
    if (html !== sourcesShown) {
      sourcesShown = html;
      $('sources').innerHTML = html;
    }
    Z.sources = has ? Object.fromEntries(SOURCES.map((c, i) => [c, values[i]])) : {};
  }

  // tooFew: a rate over n cases is not shown as a figure when the server names a minimum
  // sample (min_sample) and n is below it (the audits' rule); fewText says how few.
  const tooFew = (n, minN) => typeof n === 'number' && minN > 0 && n < minN;
  const fewText = (n, minN) => t('few_n').replace('{n}', String(n)).replace('{min}', String(minN));

  // 吹哨率: whistles blown today ÷ new cases today, with the audit's band when the page has
  // its bounds (?whistle_low=, ?whistle_high=; the same rule as /api/v1/audit/rates).
  // Of fewer than minN new cases (a server that sends min_sample) it says 样本不足.
  function renderWhistle(w, newToday, minN) {
    const rate = w && typeof w.rate === 'number' && Number.isFinite(w.rate) ? w.rate : null;
    const blown = w ? num(w.blown_today) : 0;
    const few = rate !== null && tooFew(newToday, minN);
    let band = '';
    if (rate !== null && !few && (WHISTLE_LOW > 0 || WHISTLE_HIGH > 0)) {
      band = WHISTLE_LOW > 0 && rate < WHISTLE_LOW ? 'low' : WHISTLE_HIGH > 0 && rate > WHISTLE_HIGH ? 'high' : 'ok';
    }
    const wv = $('whistle-rate-value');
    wv.textContent = rate === null ? '—' : few ? t('few') : window.Zhili.percent(rate, 'auto');
    wv.classList.toggle('few', few);
    wv.title = few ? fewText(newToday, minN) : '';
    const el = $('whistle-band');
    el.hidden = !band;
    el.className = 'wr-band ' + band;
    el.textContent = band ? t('band')[band] : '';
    $('whistles-today').textContent = w ? String(blown) : '—';
    Z.whistle = { rate, blown, band, few };
  }

  // setRate shows a rate in its ring: the figure, '—' without cases, or 样本不足 with the count
  // when its n cases are fewer than minN. pending (the response rate's dispatches still within
  // their window) is said under the figure: they are not counted yet.
  function setRate(id, v, n, minN, pending) {
    const el = $(id);
    const ring = el.querySelector('.ring');
    const val = el.querySelector('.rate-value');
    const sub = el.querySelector('.rate-n');
    const has = typeof v === 'number' && Number.isFinite(v);
    const few = has && tooFew(n, minN);
    const wait = pending > 0 ? pending : 0;
    Z.rates[id.replace('rate-', '')] = { value: has ? v : null, n: typeof n === 'number' ? n : null, few, pending: wait };
    el.classList.toggle('few', few);
    if (sub) {
      sub.hidden = !few && !wait;
      sub.textContent = few ? fewText(n, minN) : wait ? t('pending_n').replace('{n}', String(wait)) : '';
    }
    el.title = wait ? t('pending_title').replace('{n}', String(wait)) : '';
    if (!has || few) {
      val.textContent = few ? t('few') : '—';
      ring.style.setProperty('--p', '0');
      return;
    }
    const pct = Math.max(0, Math.min(100, v * 100));
    val.textContent = window.Zhili.percent(pct / 100, 'auto');
    ring.style.setProperty('--p', pct.toFixed(2));
    ring.style.setProperty('--c', pct >= 90 ? '#2ee59d' : pct >= 75 ? '#2fd3ff' : pct >= 60 ? '#ffb020' : '#ff3b4e');
  }

  let catsShown = '';
  const catList = $('cat-list');
  function renderCategories(byCat) {
    if (!charts.cats) return;
    // The catalogue's modules always, in its order; other codes after them by count.
    const order = window.Zhili.texts.topCategories();
    const extra = Object.keys(byCat).filter((c) => !order.includes(c) && num(byCat[c]) > 0);
    extra.sort((a, b) => num(byCat[b]) - num(byCat[a]));
    const many = extra.length > 3; // beyond three extra codes, the smaller ones share one row
    const codes = order.concat(many ? extra.slice(0, 2) : extra);
    const rows = codes.map((c) => ({ code: c, name: catName(c), value: num(byCat[c]), color: catColor(c) }));
    if (many) {
      let rest = 0;
      for (const c of extra.slice(2)) rest += num(byCat[c]);
      rows.push({ code: '', name: t('other'), value: rest, color: '#8aa0b8' });
    }
    const total = rows.reduce((s, x) => s + x.value, 0);
    const key = L.lang + JSON.stringify(rows);
    if (key === catsShown) return;
    catsShown = key;
    catList.innerHTML = rows.map((r) => '<li' + (r.value ? '' : ' class="zero"') + '>' +
      '<i class="sw" style="background:' + r.color + '"></i>' +
      '<span class="nm">' + esc(r.name) + '</span>' +
      '<span class="ct">' + r.value + '</span>' +
      '<span class="pc">' + (total ? Math.round(100 * r.value / total) + '%' : '—') + '</span></li>').join('');
    const data = rows.filter((r) => r.value > 0).map((r) => ({ name: r.name, value: r.value, itemStyle: { color: r.color } }));
    // Merged, not replaced: a changed count animates its slice instead of redrawing the ring.
    charts.cats.setOption({
      animation: MOTION,
      animationDuration: 500,
      animationDurationUpdate: 300,
      textStyle: { fontFamily: getComputedStyle(document.body).fontFamily },
      title: {
        text: String(total), subtext: total ? t('cat_total') : t('no_data'),
        left: 'center', top: '37%',
        textStyle: { color: '#ffffff', fontSize: 38, fontWeight: 'bold' },
        subtextStyle: { color: '#8fb2d6', fontSize: 20 },
        itemGap: 2,
      },
      series: [{
        type: 'pie', radius: ['64%', '92%'], center: ['50%', '50%'], silent: true, padAngle: 1.5,
        label: { show: false }, labelLine: { show: false },
        itemStyle: { borderColor: '#071a3c', borderWidth: 1 },
        data: data.length ? data : [{ name: '', value: 1, itemStyle: { color: 'rgba(120,170,230,0.16)' } }],
      }],
    });
  }

  // Ranking: children by new today, then open, shown a page at a time: as many whole rows as
  // the panel fits, rank 1 on the first page; the pages turn every RANK_PAGE_MS (the page
  // indicator "1/2" in the title; a click on it turns the page).
  const ranking = $('ranking');
  const rankPageEl = $('rank-page');
  let rankShown = '';
  const rank = { rows: [], maxNew: 1, page: 0, timer: 0 };
  function renderRanking(children) {
    const rows = Object.keys(children).map((code) => ({ code, ...children[code] }));
    rows.sort((a, b) => num(b.new_today) - num(a.new_today) || num(b.open) - num(a.open) || (a.code < b.code ? -1 : 1));
    rank.rows = rows;
    rank.maxNew = rows.reduce((m, r) => Math.max(m, num(r.new_today)), 0) || 1;
    drawRanking(false);
  }
  // rankPerPage is the number of whole rows the ranking's viewport holds.
  function rankPerPage() {
    const vp = ranking.parentElement.clientHeight;
    return vp > 0 ? Math.max(1, Math.floor((vp + 0.5) / RANK_ROW)) : 6;
  }
  function drawRanking(turned) {
    const per = rankPerPage();
    const total = rank.rows.length;
    const pages = Math.max(1, Math.ceil(total / per));
    if (rank.page >= pages) rank.page = 0;
    const first = rank.page * per;
    const rows = rank.rows.slice(first, first + per);
    const html = rows.map((r, k) => {
      const no = first + k + 1;
      return '<li class="r' + no + (num(r.new_today) + num(r.open) > 0 ? ' active' : '') + '" data-code="' + esc(r.code) + '">' +
        '<span class="rank-no">' + no + '</span>' +
        '<span class="rank-name">' + esc(labelName(r.code) || r.name) + '</span>' +
        '<span class="rank-new">' + num(r.new_today) + '</span>' +
        '<span class="rank-open">' + num(r.open) + '</span>' +
        '<span class="rank-overdue' + (num(r.overdue) > 0 ? ' hot' : '') + '">' + num(r.overdue) + '</span>' +
        '<i class="bar" style="width:' + Math.round(200 * num(r.new_today) / rank.maxNew) + 'px"></i>' +
        '</li>';
    }).join('');
    if (html !== rankShown) {
      rankShown = html;
      ranking.innerHTML = html;
      if (turned) {
        ranking.classList.remove('turn');
        void ranking.offsetWidth; // restart the animation
        ranking.classList.add('turn');
      }
    }
    rankPageEl.hidden = pages < 2;
    rankPageEl.textContent = (rank.page + 1) + '/' + pages;
    Z.ranking = { page: rank.page + 1, pages, per, total, shown: rows.map((r, k) => first + k + 1) };
  }
  // turnRanking shows the next page, and the one after it RANK_PAGE_MS later.
  function turnRanking(step) {
    clearTimeout(rank.timer);
    if (step) {
      const pages = Math.max(1, Math.ceil(rank.rows.length / rankPerPage()));
      rank.page = (rank.page + 1) % pages;
      drawRanking(true);
    }
    rank.timer = setTimeout(() => turnRanking(true), RANK_PAGE_MS);
  }
  rankPageEl.addEventListener('click', () => turnRanking(true));

  // Feed: one row per case, the newest by event time on top, as many whole rows as the panel
  // holds. Rows are reused by case id, so an update does not restart the highlight of rows that
  // arrived a moment ago.
  const feedEl = $('feed');
  // The count is measured once the list has a height, and again whenever that height changes
  // (a list rendered before its panel was laid out would otherwise keep a guessed count).
  let feedRowsN = 0;
  function feedRowCount() {
    if (feedRowsN) return feedRowsN;
    const h = feedEl.clientHeight;
    if (!h) return 10;
    feedRowsN = Math.min(MAX_FEED, Math.max(1, Math.floor((h + 0.5) / FEED_ROW)));
    return feedRowsN;
  }
  let feedH = -1; // the list's height the rows were last counted for
  if (typeof ResizeObserver === 'function') {
    new ResizeObserver(() => {
      const h = feedEl.clientHeight;
      if (h === feedH) return;
      feedH = h;
      feedRowsN = 0;
      renderFeed();
    }).observe(feedEl);
  }
  const feedRows = new Map(); // case_id -> {li, html}
  // feedTime is hh:mm:ss of today's events, MM-DD over hh:mm of another day's.
  function feedTime(e) {
    if (!Number.isFinite(e.atMs) || clock.dayOf(e.atMs) === clock.dayOf(clock.now())) return esc(clock.timeOf(e.at));
    const full = clock.shortTime(e.at, true);
    return '<i>' + esc(full.slice(0, 5)) + '</i><i>' + esc(full.slice(6)) + '</i>';
  }
  function feedRowHTML(e) {
    const status = e.status || STATUS_OF_TYPE[e.type] || '';
    const statusText = (t('status')[status]) || status || '—';
    const place = e.town ? labelName(e.town) : t('unlocated');
    const prio = e.priority === 'urgent' || e.priority === 'critical'
      ? '<b class="feed-prio ' + e.priority + '">' + esc(t('prio')[e.priority]) + '</b>' : '';
    return '<span class="feed-time">' + feedTime(e) + '</span>' +
      '<span class="feed-cat" style="background:' + catColor(e.category) + '">' + esc(catName(e.category)) + '</span>' +
      '<span class="feed-place"><span class="nm">' + esc(place) + '</span>' + prio + '</span>' +
      '<span class="feed-status s-' + esc(status) + '">' + esc(statusText) + '</span>';
  }
  function renderFeed() {
    const items = Array.from(state.feed.values()).sort(feedOrder);
    const shown = items.slice(0, feedRowCount());
    const keep = new Set(shown.map((e) => e.case_id));
    for (const [id, row] of feedRows) {
      if (!keep.has(id)) {
        row.li.remove();
        feedRows.delete(id);
      }
    }
    const now = performance.now();
    let prev = null;
    for (const e of shown) {
      let row = feedRows.get(e.case_id);
      const html = feedRowHTML(e);
      if (!row) {
        const li = document.createElement('li');
        li.dataset.case = e.case_id;
        // A new row is highlighted for its first 3 s, steadily: a fading highlight repainted the
        // feed on every frame, a fifth of a core of a wall PC without GPU at 5 cases a second.
        const left = 3000 - (now - e.seenAt);
        if (left > 0) {
          li.className = 'fresh';
          setTimeout(() => li.classList.remove('fresh'), left);
        }
        row = { li, html: '' };
        feedRows.set(e.case_id, row);
      }
      row.li.dataset.at = e.at;
      if (row.html !== html) {
        row.li.innerHTML = html;
        row.html = html;
      }
      const want = prev ? prev.nextSibling : feedEl.firstChild;
      if (want !== row.li) feedEl.insertBefore(row.li, want);
      prev = row.li;
    }
    $('feed-empty').hidden = items.length > 0;
    Z.feed = state.feed.size;
  }

  // ---------------------------------------------------------------- choropleth switch
  function updateChoroUI() {
    bar.setI18n($('map-title'), CHORO === 'new' ? 'map_title_new' : CHORO === 'staff' ? 'map_title_staff' : 'map_title');
    bar.setI18n($('legend-name'), CHORO === 'new' ? 'legend_new_today' : CHORO === 'staff' ? 'legend_uncovered' : 'legend_open');
    document.querySelector('.map-legend').classList.toggle('staff', CHORO === 'staff');
    for (const b of document.querySelectorAll('#choro-switch [data-choro]')) {
      b.classList.toggle('on', b.dataset.choro === CHORO);
      b.setAttribute('aria-pressed', String(b.dataset.choro === CHORO));
    }
  }
  $('choro-switch').addEventListener('click', (ev) => {
    const b = ev.target.closest('[data-choro]');
    if (!b || b.dataset.choro === CHORO) return;
    const wasStaff = CHORO === 'staff';
    CHORO = choroOf(b.dataset.choro);
    history.replaceState(history.state, '', urlWith('choropleth', CHORO));
    updateChoroUI();
    state.dirty.overview = state.dirty.polygons = true;
    mapShown = '';
    // The people panel takes the map's right side: lay the map out again when it comes or goes.
    if (wasStaff !== (CHORO === 'staff')) mapOptionSet = false;
    scheduleRender();
  });

  // ---------------------------------------------------------------- 24-hour trend
  // New (case.reported) and resolved (case.resolved) cases per hour of the deployment's clock,
  // the current hour last. Read from /api/v1/series, then kept live from the cases topic (events
  // new to the page) and re-read every TREND_REFRESH_MS and after a reconnect. Two arrays of 24
  // buckets, shifted in place when the hour turns.
  const trend = {
    from: 0, // ms of the first bucket's start (0: not placed yet)
    reported: new Array(TREND_HOURS).fill(0),
    resolved: new Array(TREND_HOURS).fill(0),
    gen: 0, // bumped by each load and reset: an older answer is dropped
    loadedAt: -Infinity, // performance.now() of the last load started
    reconnects: 0, // Z.reconnects at the last load
    reloadAt: 0, // performance.now() after which a reconnect's reload runs (0: none pending)
    // The forecast's expected range for the same hours (GET /api/v1/forecast from the first
    // hour): null when not loaded or when the history is too short (band.reason says why).
    band: null,
    begins: 0, // ms of the history's first report when after the first bucket's start (else 0)
  };
  let trendShown = '';
  // rollTrend moves the window to end with the current hour; reports whether it moved.
  function rollTrend() {
    const from = clock.hourStart(clock.now()) - (TREND_HOURS - 1) * HOUR_MS;
    if (from === trend.from) return false;
    const n = Math.round((from - trend.from) / HOUR_MS);
    for (const a of [trend.reported, trend.resolved]) {
      if (!trend.from || n < 0 || n >= TREND_HOURS) a.fill(0);
      else {
        a.copyWithin(0, n);
        a.fill(0, TREND_HOURS - n);
      }
    }
    trend.from = from;
    state.dirty.trend = true;
    return true;
  }
  function resetTrend() {
    trend.gen++;
    trend.from = 0;
    trend.reported.fill(0);
    trend.resolved.fill(0);
    trend.loadedAt = -Infinity;
    state.dirty.trend = true;
  }
  function loadTrend() {
    const gen = ++trend.gen;
    rollTrend();
    const from = trend.from;
    const region = REGION;
    trend.loadedAt = performance.now();
    trend.reconnects = Z.reconnects;
    trend.reloadAt = 0;
    const get = (type) => fetch(window.Zhili.apiURL('api/v1/series?region=' + encodeURIComponent(REGION) + '&step=1h&from=' + time.isoSec(from) +
      '&to=' + time.isoSec(from + TREND_HOURS * HOUR_MS) + '&type=' + type, TOKEN), { cache: 'no-store', credentials: 'same-origin' })
      .then((r) => {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.json();
      });
    const band = window.Zhili.fetchRetryBusy(window.Zhili.apiURL('api/v1/forecast?region=' + encodeURIComponent(REGION) + '&from=' + time.isoSec(from) +
      '&hours=' + TREND_HOURS, TOKEN), { cache: 'no-store', credentials: 'same-origin' })
      .then((r) => (r.ok ? r.json() : null)).catch(() => null);
    Promise.all([get('case.reported'), get('case.resolved'), band])
      .then(([rep, res, fc]) => {
        if (gen !== trend.gen) return;
        if (from !== trend.from) {
          trend.loadedAt = -Infinity; // the hour turned meanwhile: read again
          return;
        }
        fillTrend(trend.reported, rep && rep.points);
        fillTrend(trend.resolved, res && res.points);
        // Hours before the history of reports begins hold no data, not zero cases.
        trend.begins = rep && rep.history_begins ? Date.parse(rep.history_begins) : 0;
        trend.band = bandOf(fc);
        // The history store writes a moment behind the live topics: the first read for a region
        // is repeated 10 s later, so that cases of the last moments before it are not missed.
        if (Z.trend.region !== region) trend.loadedAt = performance.now() - TREND_REFRESH_MS + 10000;
        Z.trend.loads++;
        Z.trend.region = region;
        state.dirty.trend = true;
        scheduleRender();
      })
      .catch((err) => {
        console.warn('trend:', err);
        if (gen === trend.gen) trend.loadedAt = performance.now() - TREND_REFRESH_MS + 30000; // again in 30 s
      });
  }
  // bandOf places a forecast reply's hours on the trend's buckets: {lo, hi, mean} arrays, or
  // {reason} when the forecast has too little history, or null when there is none.
  function bandOf(fc) {
    if (!fc) return null;
    if (!fc.sufficient) return { reason: fc.reason || '' };
    const b = { lo: new Array(TREND_HOURS).fill(null), hi: new Array(TREND_HOURS).fill(null), mean: new Array(TREND_HOURS).fill(null) };
    for (const h of fc.hours || []) {
      const i = Math.round((Date.parse(h.t) - trend.from) / HOUR_MS);
      if (i >= 0 && i < TREND_HOURS) {
        b.lo[i] = h.lo;
        b.hi[i] = h.hi;
        b.mean[i] = Math.round(h.mean * 10) / 10;
      }
    }
    return b;
  }
  function fillTrend(a, points) {
    a.fill(0);
    if (!Array.isArray(points)) return;
    for (const p of points) {
      const i = Math.round((Date.parse(p && p.t) - trend.from) / HOUR_MS);
      if (i >= 0 && i < TREND_HOURS) a[i] = num(p.count);
    }
  }
  // countTrend adds a live event of the cases topic (new to the page) to its hour.
  function countTrend(ev) {
    const a = ev.type === 'case.reported' ? trend.reported : ev.type === 'case.resolved' ? trend.resolved : null;
    if (!a || !trend.from) return;
    rollTrend();
    const i = Math.floor((Date.parse(ev.at) - trend.from) / HOUR_MS);
    if (i >= 0 && i < TREND_HOURS) {
      a[i]++;
      Z.trend.live++;
      state.dirty.trend = true;
    }
  }
  // trendTick runs every second: rolls the hour, reads the series when due (the first time once
  // the deployment's clock is known, every TREND_REFRESH_MS, and 2 s after a reconnect, once
  // the resumed topics have caught up).
  function trendTick() {
    if (trend.from && rollTrend()) scheduleRender();
    if (!Z.connected || state.tzMin === null) return;
    const now = performance.now();
    if (Z.reconnects !== trend.reconnects && !trend.reloadAt) trend.reloadAt = now + 2000;
    if (now - trend.loadedAt > TREND_REFRESH_MS || (trend.reloadAt && now >= trend.reloadAt)) loadTrend();
  }
  function hourLabel(ms) {
    return t('trend_hour').replace('{h}', window.Zhili.pad2(clock.parts(ms)[4]));
  }
  // niceStep is the least of 1, 2, 5 × 10^k at least v (and at least 1).
  function niceStep(v) {
    if (!(v > 1)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    return [1, 2, 5, 10].map((m) => m * p).find((x) => x >= v);
  }
  function renderTrend() {
    if (!charts.trend || !trend.from) return;
    const hours = [];
    for (let i = 0; i < TREND_HOURS; i++) hours.push(trend.from + i * HOUR_MS);
    const labels = hours.map(hourLabel);
    let sumNew = 0;
    let sumRes = 0;
    for (let i = 0; i < TREND_HOURS; i++) {
      sumNew += trend.reported[i];
      sumRes += trend.resolved[i];
    }
    $('trend-sum-new').textContent = String(sumNew);
    $('trend-sum-resolved').textContent = String(sumRes);
    Z.trend.from = trend.from;
    Z.trend.to = trend.from + TREND_HOURS * HOUR_MS;
    Z.trend.hours = hours;
    Z.trend.reported = trend.reported.slice();
    Z.trend.resolved = trend.resolved.slice();
    const band = trend.band && trend.band.hi ? trend.band : null;
    Z.trend.band = band ? { hi: band.hi.slice(), lo: band.lo.slice() } : (trend.band ? { reason: trend.band.reason } : null);
    $('trend-band').hidden = !band;
    const width = charts.trend.getWidth() || 900;
    const every = [1, 2, 3, 4, 6].find((n) => (width - 70) / TREND_HOURS * n >= (L.lang === 'en' ? 66 : 56)) || 6;
    // The hours wholly before the history begins: shaded and named, not drawn as quiet hours.
    const noData = trend.begins ? Math.max(0, hours.findIndex((h) => h + HOUR_MS > trend.begins)) : 0;
    Z.trend.noData = noData;
    const key = L.lang + width + labels.join() + trend.reported.join() + '/' + trend.resolved.join() + '/' + (band ? band.hi.join() : '') + '/' + noData;
    if (key === trendShown) return;
    trendShown = key;
    const font = getComputedStyle(document.body).fontFamily;
    const last = TREND_HOURS - 1;
    const yStep = niceStep(Math.max(...trend.reported, ...trend.resolved, ...(band ? band.hi.map((v) => v || 0) : [])) / 2);
    charts.trend.setOption({
      animation: MOTION,
      animationDuration: 400,
      animationDurationUpdate: 300,
      textStyle: { fontFamily: font },
      grid: { left: 8, right: 30, top: 14, bottom: 4, containLabel: true }, // right: room for half the last hour label
      xAxis: {
        type: 'category', data: labels,
        axisLine: { lineStyle: { color: 'rgba(120,170,230,0.45)' } },
        axisTick: { show: false },
        axisLabel: { color: '#8fb2d6', fontSize: 20, interval: (i) => (last - i) % every === 0 },
      },
      yAxis: {
        // Three labels (0, half, top): 20 px labels need the room on a panel this low.
        type: 'value', min: 0, max: 2 * yStep, interval: yStep,
        axisLabel: { color: '#8fb2d6', fontSize: 20 },
        splitLine: { lineStyle: { color: 'rgba(120,170,230,0.14)' } },
      },
      series: [
        {
          id: 'reported', name: t('trend_new'), type: 'bar', barWidth: '56%', silent: true,
          markArea: noData > 0 ? {
            // The label starts at the shaded hours' left edge and runs right along the top, clear
            // of the y axis's labels however few hours are shaded.
            silent: true, itemStyle: { color: 'rgba(143,178,214,0.16)' },
            label: { show: true, position: 'insideTopLeft', distance: 2, color: '#8fb2d6', fontSize: 20, formatter: t('trend_no_data') },
            data: [[{ xAxis: labels[0] }, { xAxis: labels[noData - 1] }]],
          } : { data: [] },
          data: trend.reported.map((v, i) => ({
            value: v,
            itemStyle: {
              borderRadius: [3, 3, 0, 0],
              color: i === last ? '#7fe6ff' : new echarts.graphic.LinearGradient(0, 0, 0, 1,
                [{ offset: 0, color: '#2fd3ff' }, { offset: 1, color: 'rgba(47,140,255,0.25)' }]),
            },
          })),
        },
        {
          id: 'resolved', name: t('trend_resolved'), type: 'line', smooth: 0.3, silent: true,
          symbol: 'circle', symbolSize: 6, z: 3,
          lineStyle: { color: '#2ee59d', width: 2.5, shadowColor: 'rgba(46,229,157,0.6)', shadowBlur: 6 },
          itemStyle: { color: '#2ee59d' },
          data: trend.resolved.slice(),
        },
        // The forecast's 80 % range for each hour: lo (invisible) stacked with hi − lo (filled).
        {
          id: 'band-lo', type: 'line', stack: 'band', silent: true, symbol: 'none', z: 1,
          lineStyle: { opacity: 0 }, data: band ? band.lo : [],
        },
        {
          id: 'band-range', name: t('trend_band'), type: 'line', stack: 'band', silent: true, symbol: 'none', z: 1,
          lineStyle: { opacity: 0 }, areaStyle: { color: 'rgba(255, 210, 63, 0.16)' },
          data: band ? band.hi.map((v, i) => (v === null || band.lo[i] === null ? null : v - band.lo[i])) : [],
        },
        {
          id: 'band-mean', type: 'line', silent: true, symbol: 'none', z: 2,
          lineStyle: { color: 'rgba(255, 210, 63, 0.75)', width: 2, type: 'dashed' }, data: band ? band.mean : [],
        },
      ],
    });
  }

  // ---------------------------------------------------------------- flip counter
  function Flip(el) {
    this.el = el;
    this.text = null;
  }
  Flip.prototype.set = function (v) {
    const s = v === null || v === undefined ? '—' : String(v);
    if (s === this.text) return;
    const prev = this.text;
    this.text = s;
    this.el.classList.toggle('small', s.length > 4);
    const animate = prev !== null && prev !== '—'; // the first value appears without a flip
    if (prev === null || prev.length !== s.length) {
      this.el.innerHTML = s.split('').map((c) => '<span class="d">' + esc(c) + '</span>').join('');
      if (animate) for (const d of this.el.children) flipTile(d);
      return;
    }
    for (let i = 0; i < s.length; i++) {
      if (s[i] !== prev[i]) {
        const d = this.el.children[i];
        d.textContent = s[i];
        if (animate) flipTile(d);
      }
    }
  };
  function flipTile(d) {
    d.classList.remove('flipping');
    void d.offsetWidth; // restart the animation
    d.classList.add('flipping');
  }

  // ---------------------------------------------------------------- title bar, clock, language
  const bar = window.Zhili.chrome.frame({
    L, clock, Z,
    title: () => (state.rootName || '') + t('title_suffix'),
    lastDataAt: () => state.lastDataAt,
    onLang() {
      updateChoroUI();
      updateDrillNav();
      catsShown = '';
      rankShown = '';
      sourcesShown = '';
      trendShown = '';
    },
    onSwitch() {
      state.dirty.lang = true;
      scheduleRender();
    },
  });

  // ---------------------------------------------------------------- WebSocket (live.js)
  const live = window.ZhiliLive({
    state, Z, t, token: TOKEN, wsPath: 'ws', staleMs: STALE_MS, graceMs: DOWN_GRACE_MS, pingMs: PING_MS,
    backoffMin: BACKOFF_MIN, backoffMax: BACKOFF_MAX,
    apply(m) {
      if (m.topic === TOPIC_OVERVIEW) {
        if (m.op === 'snapshot' && !trend.from && state.tzMin !== null) loadTrend(); // the deployment's clock is known
        state.overview = m.op === 'snapshot' ? m.data || {} : mergePatch(state.overview || {}, m.data || {});
        state.dirty.overview = true;
      } else if (m.op === 'snapshot') {
        applyCasesSnapshot(m.data || {});
      } else {
        const events = (m.data && m.data.events) || [];
        for (const ev of events) addCaseEvent(ev, true);
        state.dirty.cases = true;
      }
    },
    onChange(arrived) {
      if (state.pendingArrival === null) state.pendingArrival = arrived;
      scheduleRender();
    },
    onTime(at, tzChanged) {
      if (tzChanged) bar.updateClock();
      bar.noteData(at);
    },
  });

  function applyCasesSnapshot(data) {
    state.feed.clear();
    const events = Array.isArray(data.events) ? data.events : [];
    for (const ev of events) addCaseEvent(ev, false);
    state.dirty.cases = true;
  }

  // addCaseEvent adds one event of the cases topic; live is false for events of a snapshot.
  function addCaseEvent(ev, live) {
    if (!ev || typeof ev !== 'object') return;
    if (ev.id) {
      if (state.seen.has(ev.id)) {
        // Seen before (a snapshot after a resync repeats events): refresh the feed row only.
        updateFeed(ev, false, false);
        return;
      }
      state.seen.set(ev.id, true);
      if (state.seen.size > MAX_SEEN) state.seen.delete(state.seen.keys().next().value);
    }
    updateFeed(ev, true, live);
    if (live) countTrend(ev);
    const at = Date.parse(ev.at);
    const fresh = !Number.isFinite(at) || clock.now() - at < MARKER_MS;
    addFlow(ev, Number.isFinite(at) ? at : clock.now());
    if (ev.type === 'case.reported' && fresh && Array.isArray(ev.point) && ev.point.length >= 2) {
      state.markers.push({
        id: ev.id, lon: Number(ev.point[0]), lat: Number(ev.point[1]), cat: ev.category,
        urgent: ev.priority === 'urgent' || ev.priority === 'critical',
        at: Number.isFinite(at) ? at : clock.now(),
      });
      if (state.markers.length > MAX_MARKERS) state.markers.splice(0, state.markers.length - MAX_MARKERS);
      state.dirty.markers = true;
    }
  }

  // townOf returns the code of the shown root's child (the township) on a region path.
  function townOf(path) {
    if (!Array.isArray(path) || path.length === 0) return '';
    for (const code of path) {
      const r = state.regions.get(code);
      if (r && r.level === 1) return code;
    }
    return state.regions.size ? '' : path[1] || '';
  }

  // updateFeed puts a case event into the feed, in event time: a case's row is as new as its
  // latest event by the event's own time, whatever order events arrive in, so a late event
  // takes its place among the others instead of the top (the highlight shows where).
  let feedArrivals = 0;
  function updateFeed(ev, fresh, live) {
    const id = ev.case_id || ev.id;
    if (!id) return;
    const prev = state.feed.get(id);
    if (prev && !fresh) return; // seen before (a resync repeats events): the row stays as it is
    const ms = Date.parse(ev.at);
    const atMs = Number.isFinite(ms) ? ms : clock.now();
    const later = !prev || atMs >= prev.atMs;
    state.feed.set(id, {
      case_id: id,
      type: ev.type,
      // The case's status after this event (the aggregator folds events in event time).
      status: ev.status || STATUS_OF_TYPE[ev.type] || (prev && prev.status) || '',
      category: ev.category || (prev && prev.category) || '',
      priority: ev.priority || (prev && prev.priority) || 'normal',
      town: townOf(ev.region) || (prev && prev.town) || '',
      at: later ? ev.at || '' : prev.at,
      atMs: later ? atMs : prev.atMs,
      arrival: ++feedArrivals,
      seenAt: fresh && live ? performance.now() : (prev ? prev.seenAt : -Infinity),
    });
    if (state.feed.size > MAX_FEED) {
      // The oldest case by event time leaves.
      let oldest = null;
      for (const e of state.feed.values()) if (!oldest || feedOrder(e, oldest) > 0) oldest = e;
      state.feed.delete(oldest.case_id);
    }
  }
  // feedOrder sorts feed entries newest first: by event time, then by arrival.
  function feedOrder(a, b) {
    return b.atMs - a.atMs || b.arrival - a.arrival;
  }

  // settled reports whether everything received is drawn and no finite animation runs (the
  // flip of a counter, a chart transition): screenshots of tests wait for it.
  // boxesCaughtUp: every chart and the feed were last fitted to the boxes they have now (a
  // layout change, such as the alert ticker appearing, reaches them one frame later).
  const boxesCaughtUp = () => (typeof ResizeObserver !== 'function') ||
    (feedH === feedEl.clientHeight && ['map', 'chart-categories', 'chart-trend'].every((id) => {
      const el = $(id);
      return chartSizes.get(el) === el.offsetWidth + 'x' + el.offsetHeight;
    }));
  Z.settled = () => boxesCaughtUp() && !(renderer && renderer.pending()) && !throttles.markers.timer && !throttles.polygons.timer &&
    [charts.map, charts.cats, charts.trend].every((c) => c && c.getZr().animation.isFinished()) &&
    document.getAnimations().every((a) => a.playState !== 'running' ||
      (a.effect && a.effect.getTiming().iterations === Infinity));

  // For tests: a child region's centroid [lon, lat] (labelPoint), the child under a point,
  // and whether a region can be drilled into.
  Z.centroid = (code) => (state.townGeoms.has(code) ? labelPoint(state.townGeoms.get(code)) : null);
  Z.childAt = (lon, lat) => townAt([lon, lat]);
  Z.drillable = (code) => state.hasChildren.has(code);
  Object.defineProperty(Z, 'navigatingTo', { get: () => navigatingTo }); // a navigation under way

  // ---------------------------------------------------------------- start
  if (KIOSK) document.body.classList.add('kiosk');
  if (!FLOW_MS) document.querySelector('.flow-legend').hidden = true;
  applyLayout();
  window.Zhili.fitStage(stage, STAGE_W, STAGE_H, fitCharts);
  if (!charts.map) initCharts(Math.max(1, window.devicePixelRatio || 1));
  state.dirty.lang = true;
  bar.applyLang();
  loadRegions();
  live.connect();
  // The clock ticks with the deployment's second (all the pages of a wall together).
  bar.startClock(() => {
    live.checkStale();
    trendTick();
  });
  setInterval(() => {
    if (state.markers.length || state.flows.length || Z.flows) {
      state.dirty.markers = true;
      scheduleRender();
    }
  }, 5000);
  turnRanking(false);
})();
