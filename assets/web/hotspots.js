/* Zhili hotspot screen (热点追踪): one WebSocket, hotspots:<region>:<window>, drawn on a canvas,
 * and period views from GET /api/v1/hotspots (category filter, custom period, playback).
 *
 * Page parameters:
 *   ?token=    viewer token (sent to /ws and the REST API)
 *   ?kiosk=1   hide every control (window, level, mode, category, period, playback, language, cursor)
 *   ?window=   1h, 24h (default), 7d or 30d
 *   ?stale=    seconds without any message (pongs count) before the feed is shown as lost; default 30
 *   ?lang=en   start in English (the 中/EN switch also remembers the choice)
 *   ?region=   region code to show (a token limited to a subtree needs its own region); default root
 *   ?level=    grid (default), hex (H3 cells of the topic) or child (the region's child regions)
 *   ?mode=     gi (default: Gi* confidence bins) or emerging (emerging-hotspot classes)
 *   ?category= one category: the live topic filtered by it (option cat=); periods and playback ask the REST API with it
 *   ?per=      population or households: hot spots of rates (cases per 10,000 people or households; regions
 *              without the figure left out), on the topic (option per=) and the REST views; counts by default
 *   ?from=&to= a custom period (YYYY-MM-DD or RFC 3339, to exclusive), from the REST API
 *   ?playback=FROM,TO&step=1h|1d[&speed=1]  play the period frame by frame (TO exclusive)
 *   ?callout=  kiosk: seconds each of the top hot spots is explained in turn (default 8)
 *
 * Live view: the grids (deepest regions) are coloured by their Gi* bin, or the hex cells, or the
 * child regions; child outlines and labels are drawn on top; a click on a child region with
 * subdivisions drills down to it (topic hotspots:<child>:<window>). The connection logic is the
 * overview screen's (live.js): snapshot then merge-patch deltas, seq gaps re-subscribed.
 *
 * Read from across the room: a significant cell is never drawn smaller than 12 stage pixels (a
 * ringed disc when the cell is smaller), the top hot spots carry their list rank on the map, a
 * significant child region is tinted and banded in its colour, and the labels are placed by
 * Zhili.map.layoutLabels so that none overlaps another. A hot list row names county › township
 * › grid; hovering it (or a significant cell) explains the place in a card (observed and
 * expected cases of its neighbourhood, ratio, z, FDR-adjusted p, its footprint at the other
 * levels), a click pins the card and zooms onto the place. When the reply says the data are too
 * few (`sufficiency`), a banner says so in Chinese and English and no emerging class is painted.
 *
 * For tests the page exposes window.__zhili (see the object Z) and sets
 * document.body.dataset.ready = "1" after the first full render (map drawn, snapshot in).
 */
(function () {
  'use strict';
  const { clampNum, $, esc, num, pad2, fmt, mergePatch, getJSON, setText, apiURL } = window.Zhili;
  const { labelPoint, canvasFor, tracePolys, strokeEach, glowOutline } = window.Zhili.map;
  const time = window.Zhili.time;

  // ---------------------------------------------------------------- parameters and constants
  const params = new URLSearchParams(location.search);
  const TOKEN = params.get('token') || '';
  const KIOSK = params.get('kiosk') === '1';
  const STALE_MS = clampNum(params.get('stale'), 30, 3, 3600) * 1000;
  const PING_MS = Math.min(20000, STALE_MS / 2);
  const DOWN_GRACE_MS = 2000;
  const BACKOFF_MIN = 1000;
  const BACKOFF_MAX = 30000;
  const STAGE_W = 1920;
  const STAGE_H = 1080;
  const WINDOWS = ['1h', '24h', '7d', '30d'];
  const WINDOW_MS = { '1h': 3600e3, '24h': 86400e3, '7d': 7 * 86400e3, '30d': 30 * 86400e3 };
  // Time steps of the emerging analysis of a REST view, by window.
  const WINDOW_STEP = { '1h': '5m', '24h': '1h', '7d': '6h', '30d': '1d' };
  const LEVELS = ['grid', 'hex', 'child'];
  const MODES = ['gi', 'emerging'];
  const STEPS = { '1h': 3600e3, '1d': 86400e3 };
  const SPEEDS = [0.5, 1, 2, 4];
  const FRAME_MS = 2000; // one playback frame at speed 1×
  const MAX_FRAMES = 240;
  const REST_EVERY_MS = 30000;
  const HEX_BATCH = 100; // ids per GET /api/v1/hexes (server limit 200; the URL must stay short)
  const CODE_RE = /^[A-Za-z0-9._-]{1,64}$/;
  const REGION = CODE_RE.test(params.get('region') || '') ? params.get('region') : 'root';
  const ROW_H = 50; // least height of a row of the hot list (hotspots.css: two lines, name and parents)
  const TOWN_ROW_H = 36; // height of a row of the child region list (hotspots.css)
  const catCodes = () => window.Zhili.texts.categories(); // the catalogue's, once it is in

  // Diverging palette by Gi* bin (reds hot, blues cold, neutral dark blue not significant: dark
  // enough that a significant cell stands out from across the room).
  const BIN_COLORS = {
    3: '#e3262f', 2: '#f26b43', 1: '#f7ac74',
    0: '#27384f',
    '-1': '#9fcdf0', '-2': '#5b9fe3', '-3': '#2f63cf',
  };
  const NO_DATA_COLOR = '#1b2a42';
  // Emerging-hotspot classes: warm hues for hot, cool hues for cold, each class its own hue.
  const PATTERNS = [
    'new_hot', 'consecutive_hot', 'intensifying_hot', 'persistent_hot', 'diminishing_hot', 'sporadic_hot', 'oscillating_hot', 'historical_hot',
    'new_cold', 'consecutive_cold', 'intensifying_cold', 'persistent_cold', 'diminishing_cold', 'sporadic_cold', 'oscillating_cold', 'historical_cold',
    'no_pattern', 'insufficient_data',
  ];
  const PATTERN_COLORS = {
    new_hot: '#ff1f3d', consecutive_hot: '#ff7a1a', intensifying_hot: '#a8002a', persistent_hot: '#ff4fb0',
    diminishing_hot: '#ffb199', sporadic_hot: '#ffd23f', oscillating_hot: '#b765ff', historical_hot: '#8d5a3b',
    new_cold: '#1e8fff', consecutive_cold: '#00c9d6', intensifying_cold: '#1638c9', persistent_cold: '#7e8cff',
    diminishing_cold: '#b3e0ff', sporadic_cold: '#3ddc97', oscillating_cold: '#00887a', historical_cold: '#5d7a8c',
    no_pattern: '#27384f', insufficient_data: '#4a5468',
  };
  // Classes that say how a spot evolves (everything but no pattern and too little data).
  const isTrend = (p) => !!p && p !== 'no_pattern' && p !== 'insufficient_data' && PATTERN_COLORS[p] !== undefined;
  // A significant cell is drawn at least MARK_MIN stage pixels across: a cell smaller than that
  // gets a disc of MARK_DISC pixels at its centre (ringed, so it reads on any fill).
  const MARK_MIN = 12;
  const MARK_DISC = 16;
  const RANKS_ON_MAP = 5; // the top hot spots carry their list rank on the map
  // Kiosk screens show one hot spot's explanation at a time, the top ones in turn.
  const CALLOUT_MS = clampNum(params.get('callout'), 8, 1, 120) * 1000;
  const CALLOUT_TOP = 5;

  // ---------------------------------------------------------------- texts
  const TEXT = {
    zh: {
      title_suffix: '热点追踪 · Hotspots',
      per_population: '每万人口', per_households: '每万户',
      map_title: '网格热点分布 · Gi*', map_title_hex: '六边形热点分布 · H3 Gi*', map_title_child: '下级区域热点分布 · Gi*',
      map_title_emerging: '时空热点模式 · Emerging',
      counts_title: '显著网格 · 按置信度', counts_title_hex: '显著六边形 · 按置信度', counts_title_child: '显著下级区域 · 按置信度',
      confidence: '置信度', hot: '热点', cold: '冷点',
      list_title: '热点网格 · 按 z 值排序', list_title_hex: '热点六边形 · 按 z 值排序', list_title_child: '热点下级区域 · 按 z 值排序',
      towns_title: '下级区域 · Gi*',
      kind_titles: { county: '区县 · Gi*', township: '乡镇（街道）· Gi*', grid: '网格 · Gi*' },
      not_sig: '不显著', rank_no: '排名', grid: '网格', count: '案件', conf_short: '置信',
      no_hot: '暂无显著热点',
      nb_tag: '邻',
      nb_note: '邻：本{unit}案件本身不突出，且少于相邻{unit}的平均，热度来自相邻{unit}（Gi* 计入邻域）',
      why_through: '本{unit} {own} 件，本身不突出，少于相邻{unit}的平均（{nm} 件）：热度来自相邻{unit}',
      why_through_rate: '本{unit}的比率本身不突出，低于相邻{unit}的平均（{nm}）：热度来自相邻{unit}',
      legend_hot: '热点', legend_cold: '冷点', legend_ns: '不显著', legend_conf: '置信度',
      window: { '1h': '近1小时', '24h': '近24小时', '7d': '近7天', '30d': '近30天' }, history_from: '数据始于 {t}',
      summary: '{unit} {n} 个 · 案件 {c} 件 · {fdr}', unit_grid: '网格', unit_hex: '六边形', unit_child: '区域',
      fdr_on: 'FDR 校正', fdr_off: '未校正',
      degenerate: { no_variance: '样本无差异 · 各网格案件数相同，无法识别热点', too_few: '网格少于 3 个 · 无法识别热点' },
      degenerate_other: '无法计算统计量', total: '合计',
      level_grid: '网格', level_hex: '六边形', level_child: '下级区域',
      mode_gi: '置信度', mode_emerging: '时空模式',
      cat_all: '全部类别',
      period_from: '自', period_to: '至', apply: '查询时段', step_1h: '逐时', step_1d: '逐日', playback_btn: '回放', live_btn: '返回实时',
      view_filtered: '筛选视图 · {cat} · {win} · 每30秒刷新 · {at}',
      view_filtered_live: '筛选视图 · {cat} · {win} · 实时', view_seeding: '正在载入历史…',
      view_custom: '自定义时段 · {period}{cat}',
      view_playback: '回放 · {period} · {step}{cat}', period_sep: ' 至 ',
      step_name: { '1h': '每帧1小时', '1d': '每帧1天' },
      view_loading: '查询中…', view_failed: '查询失败：{e}',
      note_hex_rest: '六边形只有实时数据 · 按网格显示',
      note_emerging_grid: '时空模式按网格显示',
      note_emerging_period: '时空模式为整个回放时段的分类',
      back: '↑ 返回上级', drill_hint: '点击区域下钻',
      frame_of: '第 {i} / {n} 帧', frame_loading: '加载中 {k}/{n}',
      chart_cases: '案件数',
      bad_period: '时段无效：开始须早于结束',
      patterns: {
        new_hot: '新增热点', consecutive_hot: '连续热点', intensifying_hot: '加强热点', persistent_hot: '持续热点',
        diminishing_hot: '减弱热点', sporadic_hot: '零星热点', oscillating_hot: '振荡热点', historical_hot: '历史热点',
        new_cold: '新增冷点', consecutive_cold: '连续冷点', intensifying_cold: '加强冷点', persistent_cold: '持续冷点',
        diminishing_cold: '减弱冷点', sporadic_cold: '零星冷点', oscillating_cold: '振荡冷点', historical_cold: '历史冷点',
        no_pattern: '无明显模式', insufficient_data: '数据不足',
      },
      // Data sufficiency of the emerging classes.
      suff_head: '数据不足',
      suff_steps: '{span}内仅{k}个时间步有数据（需{n}个）',
      suff_events: '{span}内仅{k}件案件（需{n}件）',
      suff_other: '{span}的数据不足以判断时空模式',
      suff_advice: '建议：{a}', suff_or: '或', suff_and: '、',
      suff_span_window: { '1h': '近1小时窗口', '24h': '24小时窗口', '7d': '7天窗口', '30d': '30天窗口' },
      suff_span_period: '所选时段',
      advice: {
        longer_window: '改用{w}窗口', longer_period: '选更长时段', coarser_level: '更粗层级', shorter_window: '改用{w}窗口（时间步更短）',
        shorter_period: '改用时间步更短的窗口', finer_step: '更细的时间步', wait: '等待数据积累', counts: '按案件数分析',
      },
      advice_window: { '1h': '1小时', '24h': '24小时', '7d': '7天', '30d': '30天' },
      suff_note: '地图不显示时空模式',
      // Why a place is hot (the explanation card).
      why_obs: '案件数', why_local: '邻域案件', why_expected: '期望', why_ratio: '倍数', why_q: '校正后 p', why_p: 'p',
      why_nb: '本{unit}及{n}个相邻{unit}', why_say: '邻域共 {local} 件，为平均水平（{exp} 件）的 {ratio} 倍',
      why_say_low: '邻域共 {local} 件，仅为平均水平（{exp} 件）的 {ratio} 倍',
      why_pattern: '时空模式', why_trend: '趋势',
      why_unit: { grid: '网格', hex: '六边形', child: '区域' },
      why_not_sig: '不显著',
      zoom_out: '⤢ 全图', close: '×', drill_into: '下钻 ›',
      hex_name: '六边形',
      fp_head: '其他层级', fp_in: '所在{kind}：{name} · {conf}', fp_kind: { child: '区域', grid: '网格' },
      fp_set: '{unit} {n} 个中 {k} 个显著', fp_unit: { grids: '网格', hex: '六边形' },
    },
    en: {
      title_suffix: ' · Hotspot Tracking',
      per_population: 'per 10,000 people', per_households: 'per 10,000 households',
      map_title: 'Grid hot spots · Gi*', map_title_hex: 'Hex hot spots · H3 Gi*', map_title_child: 'Sub-region hot spots · Gi*',
      map_title_emerging: 'Emerging hot spots',
      counts_title: 'Significant grids by confidence', counts_title_hex: 'Significant hexes by confidence', counts_title_child: 'Significant sub-regions by confidence',
      confidence: 'Confidence', hot: 'Hot', cold: 'Cold',
      list_title: 'Hot grids by z-score', list_title_hex: 'Hot hexes by z-score', list_title_child: 'Hot sub-regions by z-score',
      towns_title: 'Sub-regions · Gi*',
      kind_titles: { county: 'Counties · Gi*', township: 'Townships · Gi*', grid: 'Grids · Gi*' },
      not_sig: 'n.s.', rank_no: 'No.', grid: 'Grid', count: 'Cases', conf_short: 'Conf.',
      no_hot: 'No significant hot spot',
      nb_tag: 'nbr',
      nb_note: 'nbr: unremarkable by itself and below its neighbours\' average; hot through them (Gi* counts the neighbourhood)',
      why_through: '{own} cases here, unremarkable by itself and below its neighbours\' average ({nm}): hot through them',
      why_through_rate: 'its rate is unremarkable by itself and below its neighbours\' average ({nm}): hot through them',
      legend_hot: 'hot', legend_cold: 'cold', legend_ns: 'Not significant', legend_conf: 'Confidence',
      window: { '1h': 'last hour', '24h': 'last 24 h', '7d': 'last 7 days', '30d': 'last 30 days' }, history_from: 'data from {t}',
      summary: '{n} {unit} · {c} cases · {fdr}', unit_grid: 'grids', unit_hex: 'hexes', unit_child: 'regions',
      fdr_on: 'FDR corrected', fdr_off: 'uncorrected',
      degenerate: { no_variance: 'No variance · every grid has the same count, no hot spot can be found', too_few: 'Fewer than 3 grids · no statistic' },
      degenerate_other: 'No statistic could be formed', total: 'Total',
      level_grid: 'Grid', level_hex: 'Hex', level_child: 'Sub-region',
      mode_gi: 'Confidence', mode_emerging: 'Emerging',
      cat_all: 'All categories',
      period_from: 'From', period_to: 'to', apply: 'Show', step_1h: 'Hourly', step_1d: 'Daily', playback_btn: 'Replay', live_btn: 'Live',
      view_filtered: 'Filtered · {cat} · {win} · refreshed every 30 s · {at}',
      view_filtered_live: 'Filtered · {cat} · {win} · live', view_seeding: 'loading history…',
      view_custom: 'Period · {period}{cat}',
      view_playback: 'Playback · {period} · {step}{cat}', period_sep: ' to ',
      step_name: { '1h': '1 hour per frame', '1d': '1 day per frame' },
      view_loading: 'Loading…', view_failed: 'Query failed: {e}',
      note_hex_rest: 'Hex cells are live only · shown by grid',
      note_emerging_grid: 'Emerging classes are shown by grid',
      note_emerging_period: 'Emerging classes of the whole playback period',
      back: '↑ Up', drill_hint: 'Click a region to drill down',
      frame_of: 'frame {i} / {n}', frame_loading: 'loading {k}/{n}',
      chart_cases: 'Cases',
      bad_period: 'Invalid period: the start must be before the end',
      patterns: {
        new_hot: 'New hot', consecutive_hot: 'Consecutive hot', intensifying_hot: 'Intensifying hot', persistent_hot: 'Persistent hot',
        diminishing_hot: 'Diminishing hot', sporadic_hot: 'Sporadic hot', oscillating_hot: 'Oscillating hot', historical_hot: 'Historical hot',
        new_cold: 'New cold', consecutive_cold: 'Consecutive cold', intensifying_cold: 'Intensifying cold', persistent_cold: 'Persistent cold',
        diminishing_cold: 'Diminishing cold', sporadic_cold: 'Sporadic cold', oscillating_cold: 'Oscillating cold', historical_cold: 'Historical cold',
        no_pattern: 'No pattern', insufficient_data: 'Not enough data',
      },
      suff_head: 'Not enough data',
      suff_steps: 'only {k} time steps of the {span} have cases ({n} needed)',
      suff_events: 'only {k} cases in the {span} ({n} needed)',
      suff_other: 'the {span} has too little data for emerging patterns',
      suff_advice: 'Try {a}', suff_or: ' or ', suff_and: ', ',
      suff_span_window: { '1h': '1-hour window', '24h': '24-hour window', '7d': '7-day window', '30d': '30-day window' },
      suff_span_period: 'chosen period',
      advice: {
        longer_window: 'the {w} window', longer_period: 'a longer period', coarser_level: 'a coarser level', shorter_window: 'the {w} window (shorter steps)',
        shorter_period: 'a window with shorter steps', finer_step: 'a finer time step', wait: 'waiting for more data', counts: 'case counts',
      },
      advice_window: { '1h': '1-hour', '24h': '24-hour', '7d': '7-day', '30d': '30-day' },
      suff_note: 'no emerging patterns on the map',
      why_obs: 'Cases', why_local: 'Neighbourhood', why_expected: 'Expected', why_ratio: 'Ratio', why_q: 'FDR p', why_p: 'p',
      why_nb: 'this {unit} and {n} neighbours', why_say: '{local} cases around it, {ratio}× the average ({exp})',
      why_say_low: '{local} cases around it, only {ratio}× the average ({exp})',
      why_pattern: 'Pattern', why_trend: 'Trend',
      why_unit: { grid: 'grid', hex: 'hex', child: 'region' },
      why_not_sig: 'not significant',
      zoom_out: '⤢ Whole map', close: '×', drill_into: 'Drill in ›',
      hex_name: 'Hex',
      fp_head: 'Other levels', fp_in: 'in {kind} {name} · {conf}', fp_kind: { child: 'region', grid: 'grid' },
      fp_set: '{k} of its {n} {unit} significant', fp_unit: { grids: 'grids', hex: 'hex cells' },
    },
  };

  const L = window.Zhili.texts.i18n(TEXT);
  const t = L.t;

  let win = WINDOWS.includes(params.get('window')) ? params.get('window') : '24h';
  // Rates instead of counts: the denominator named by the region file (docs/HOTSPOTS.md).
  const PER = ['population', 'households'].includes(params.get('per')) ? params.get('per') : '';
  let topicRegion = REGION; // the region part of the topic ("root" or a code)
  // The topic of a window: the region, the window and the category filter (option cat=, its
  // value percent-encoded where it holds ':', '=' or '%').
  const topicOf = (w) => 'hotspots:' + topicRegion + ':' + w +
    (category ? ':cat=' + category.replace(/[%:=]/g, (ch) => '%' + ch.charCodeAt(0).toString(16).toUpperCase()) : '') +
    (PER ? ':per=' + PER : '');
  let level = LEVELS.includes(params.get('level')) ? params.get('level') : 'grid';
  let mode = MODES.includes(params.get('mode')) ? params.get('mode') : 'gi';
  // A code of the URL is kept: the catalogue that may name it arrives after the start.
  let category = catCodes().includes(params.get('category')) || CODE_RE.test(params.get('category') || '') ? params.get('category') : '';

  // ---------------------------------------------------------------- state exposed for tests
  const Z = {
    ready: false, // map drawn and the first snapshot rendered
    readyAt: null, // performance.now() when ready became true
    lastFrameAt: 0, // Date.now() of the last WebSocket frame
    frames: 0, // WebSocket frames received
    hot: 0, // locations of the level shown with bin > 0
    hotGrids: [], // their codes by z, highest first (at most 100)
    // listRows: the rows of the hot list as shown, {code, name, chain, count, neighbour}; neighbour
    // when the cell is unremarkable by itself, has fewer cases than its neighbours on average and
    // is hot through them (why.through_neighbours), which the row and a note under the list say
    listRows: [],
    cold: 0, // locations of the level shown with bin < 0
    grids: 0, // grids in the data shown
    cases: 0, // cases at the level shown
    window: win, // the window shown
    topic: topicOf(win),
    region: '', // code of the region shown
    level, // the level asked for: grid, hex or child
    levelShown: level, // the level drawn (hex and child may fall back to grid)
    mode, // gi or emerging
    category,
    view: 'live', // live (topic), rest (category filter or custom period) or playback
    rest: null, // the REST query shown: {region, from, to, category, step, at, cells: {code: count}, total}
    hexListed: 0, // hex cells in the data shown
    hexDrawn: 0, // hex cells drawn (outline known)
    legend: [], // legend labels shown
    drillable: [], // child regions that a click drills into
    playback: null, // {frames, index, loaded, playing, speed, label, shown: [labels]}
    degenerate: '', // grids_degenerate of the data shown
    stale: true,
    connected: false,
    reconnects: 0,
    seq: {}, // last applied seq per topic
    errors: [], // last few {topic, code, message} errors from the server (bounded)
    layout: { scale: 1, dpr: 1, renderedDpr: 0 },
    // What the map draws, for tests: the marks of significant cells ({code, x, y, w, h, disc,
    // color}, stage pixels inside the canvas; w and h the mark's drawn size), the smallest
    // mark's size, the placed label boxes ({id, x, y, w, h}) and the labels left out.
    marks: [],
    minMark: 0,
    labelBoxes: [],
    labelsDropped: [],
    childSignificant: [], // child regions significant at their own level
    childMarked: [], // child regions drawn in their significance colour
    patternsDrawn: {}, // emerging class -> cells drawn in its colour
    sufficiency: null, // the reply's data sufficiency for what is shown ({ok, reasons, …}), null when none
    callout: '', // the cell whose explanation is shown
    callouts: [], // the cells explained in turn (kiosk rotation), last 20
    why: null, // the explanation shown
    zoom: null, // {code, bounds} when the map is zoomed onto a place
    footprintDrawn: 0, // shapes drawn for the explained place's footprint at other levels
    ranks: [], // cells carrying their list rank on the map, in rank order
  };
  window.__zhili = Z;

  const state = {
    topics: new Map([[topicOf(win), { seq: null, resyncAt: 0 }]]),
    data: null, // the topic's current state (snapshot with deltas applied)
    tree: window.Zhili.map.regionTree(null), // the loaded region tree (Zhili.map.regionTree)
    startCode: '', // the region the page started with
    cur: '', // the region shown
    rootName: '',
    root: null, // the region shown
    towns: [], // its children
    grids: [], // its leaves
    bounds: null, // [minX, minY, maxX, maxY]
    skewMs: 0,
    tzMin: null,
    lastDataAt: '',
    lastMsgAt: 0,
    downSince: performance.now(),
    mapReady: false,
    topicError: '',
    dirtyLang: false, // the language changed: texts are re-applied on the next render
    view: 'live',
    rest: null, // {custom: {from, to} | null, data, error, loading, at, seq}
    pb: null, // playback
    hexGeo: new Map(), // hex id -> {ring, centre}
    hexPending: new Set(),
    hexFailed: new Set(),
    zoom: null, // {code, bounds} the map is zoomed onto (a hot list row was clicked)
    pin: '', // the cell whose explanation stays shown (clicked, or the kiosk's turn)
    hover: '', // the cell under the pointer or the hot list row under it
    marks: [], // the marks drawn (hit tests)
    nb: new Map(), // neighbours by level list (Zhili.map.touching), cached per region shown
  };
  // ---------------------------------------------------------------- helpers
  const clock = time.clock(state);
  const renderer = window.Zhili.scheduler(() => renderHotspots());
  // degenerateKey classifies a *_degenerate reason (a sentence of geo/hotspot.go).
  function degenerateKey(reason) {
    if (/variance|equal/i.test(reason)) return 'no_variance';
    if (/fewer|too few/i.test(reason)) return 'too_few';
    return '';
  }
  function confOf(bin) {
    const a = Math.abs(bin);
    return a === 3 ? '99%' : a === 2 ? '95%' : a === 1 ? '90%' : '';
  }

  // noteTz takes the deployment's UTC offset from a REST time when no live message gave it yet.
  function noteTz(at) {
    if (state.tzMin === null) state.tzMin = time.offsetOf(at);
  }
  const PERIOD_RE = /^\d{4}-\d\d-\d\d(T[0-9:.]+(Z|[+-]\d\d:\d\d))?$/;
  // labelOf shows a period bound: the date of a YYYY-MM-DD, else MM-DD hh:mm in the deployment zone.
  function labelOf(v) {
    if (/^\d{4}-\d\d-\d\d$/.test(v)) return v;
    return clock.shortTime(v, true);
  }
  // periodText shows [from, to): whole days as the first and last day included.
  function periodText(from, to, sep) {
    const day = /^\d{4}-\d\d-\d\d$/;
    if (day.test(from) && day.test(to)) {
      const last = time.addDays(to, -1);
      return last === from ? from : from + (sep || t('period_sep')) + last;
    }
    return labelOf(from) + (sep || t('period_sep')) + labelOf(to);
  }
  function clampBin(v) { return Math.max(-3, Math.min(3, Math.round(num(v)))); }
  // ---------------------------------------------------------------- stage scaling
  const stage = $('stage');
  const canvas = $('hs-map');
  const wrap = $('hs-map-wrap');

  // ---------------------------------------------------------------- regions
  // The whole tree under the loaded top is kept; drilling down shows a subtree of it, going
  // above the top loads the parent's tree.
  function loadTree(code, then) {
    state.mapReady = false;
    $('map-status').hidden = false;
    bar.setI18n($('map-status'), 'map_loading');
    window.Zhili.map.loadRegionTree(code, TOKEN, BACKOFF_MAX, (fc) => {
      state.tree = window.Zhili.map.regionTree(fc);
      $('map-status').hidden = true;
      if (then) then();
      else showRegion(state.tree.top);
    }, () => bar.setI18n($('map-status'), 'map_failed'));
  }

  const kidsOf = (code) => state.tree.kidsOf(code);
  function leavesOf(code) {
    const out = [];
    const walk = (c) => {
      const ks = kidsOf(c);
      if (!ks.length) out.push(c);
      else ks.forEach(walk);
    };
    ks0(code).forEach(walk);
    return out;
  }
  function ks0(code) { return kidsOf(code).length ? kidsOf(code) : [code]; }

  // showRegion shows a region of the loaded tree: its outline, children and leaves.
  function showRegion(code) {
    const r = state.tree.regions.get(code);
    if (!r) return;
    state.cur = code;
    Z.region = code;
    state.root = r;
    state.towns = kidsOf(code).map((c) => state.tree.regions.get(c));
    state.grids = leavesOf(code).map((c) => state.tree.regions.get(c));
    state.rootName = r.name;
    Z.drillable = state.towns.filter((x) => kidsOf(x.code).length > 0).map((x) => x.code);
    const b = r.bbox;
    state.bounds = b[0] <= b[2] ? b.slice() : null;
    for (const town of state.towns) if (!town.label) town.label = labelPoint(town.geometry);
    // A new region starts unzoomed, with nothing explained.
    state.zoom = null;
    Z.zoom = null;
    $('hs-zoom').hidden = true;
    state.pin = '';
    state.hover = '';
    state.mapReady = true;
    bar.updateTitle();
    renderCrumbs();
    renderer.schedule();
  }

  // ---------------------------------------------------------------- map drawing
  let proj = null; // Zhili.map.projection: lon/lat <-> stage pixels inside the canvas
  let hatch = null; // the canvas pattern of "not enough data"

  // sufficient reports whether the emerging classes of the view may be painted.
  function trendsShown() {
    return mode === 'emerging' && !(Z.sufficiency && Z.sufficiency.ok === false);
  }
  // patternOf is the class a cell is drawn with in emerging mode: none at all when the data do
  // not suffice (the reply's sufficiency).
  function patternOf(r) {
    if (!r) return '';
    if (!trendsShown()) return 'insufficient_data';
    return PATTERN_COLORS[r.pattern] !== undefined ? r.pattern : 'no_pattern';
  }
  // colorOf returns the fill of a location's result in the current mode.
  function colorOf(r) {
    if (!r) return NO_DATA_COLOR;
    if (mode === 'emerging') return PATTERN_COLORS[patternOf(r)];
    return BIN_COLORS[clampBin(r.bin)];
  }
  // sigOf is a location's significance as drawn: the sign of its Gi* bin (its strength |bin|),
  // or in emerging mode 3 for a hot class and -3 for a cold one; 0 when not significant.
  function sigOf(r) {
    if (!r) return 0;
    if (mode === 'emerging') {
      const p = patternOf(r);
      return isTrend(p) ? (p.endsWith('_cold') ? -3 : 3) : 0;
    }
    return clampBin(r.bin);
  }
  function fillOf(ctx, color) {
    if (color !== PATTERN_COLORS.insufficient_data) return color;
    if (!hatch) {
      const c = document.createElement('canvas');
      c.width = c.height = 12;
      const g = c.getContext('2d');
      g.fillStyle = color;
      g.fillRect(0, 0, 12, 12);
      g.strokeStyle = 'rgba(210, 220, 235, 0.28)';
      g.lineWidth = 2;
      g.beginPath();
      g.moveTo(-3, 15); g.lineTo(15, -3);
      g.moveTo(-3, 3); g.lineTo(3, -3);
      g.moveTo(9, 15); g.lineTo(15, 9);
      g.stroke();
      hatch = ctx.createPattern(c, 'repeat');
    }
    return hatch;
  }

  // viewBounds is what the map frames: the zoomed place, else the region shown.
  function viewBounds() {
    return state.zoom ? state.zoom.bounds : state.bounds;
  }

  // projBox returns a projected ring's bounding box and area in pixels.
  function projExtent(polys, project) {
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity, area = 0;
    for (const poly of polys) {
      const ring = poly[0] || [];
      let a = 0;
      let prev = ring.length ? project(ring[ring.length - 1]) : null;
      for (const c of ring) {
        const p = project(c);
        if (p[0] < minX) minX = p[0];
        if (p[0] > maxX) maxX = p[0];
        if (p[1] < minY) minY = p[1];
        if (p[1] > maxY) maxY = p[1];
        a += prev[0] * p[1] - p[0] * prev[1];
        prev = p;
      }
      area += Math.abs(a) / 2;
    }
    return { w: maxX - minX, h: maxY - minY, area, cx: (minX + maxX) / 2, cy: (minY + maxY) / 2 };
  }

  // markOf decides how a significant polygon cell is drawn: by its own fill when it is at least
  // MARK_MIN pixels across, else by a disc at its label point.
  function markOf(code, polys, labelAt, color, sig, project) {
    const e = projExtent(polys, project);
    const p = project(labelAt);
    const small = Math.min(e.w, e.h) < MARK_MIN || e.area < MARK_MIN * MARK_MIN;
    return small
      ? { code, x: p[0], y: p[1], w: MARK_DISC, h: MARK_DISC, disc: true, color, sig, polys }
      : { code, x: p[0], y: p[1], w: e.w, h: e.h, disc: false, color, sig, polys };
  }

  // drawMarks draws significant cells over the map: each outlined with a glow of its colour and
  // a light edge; the small ones as ringed discs. Weaker marks first, so the strongest are on top.
  function drawMarks(ctx, marks, project, dpr) {
    const order = marks.slice().sort((a, b) => Math.abs(a.sig) - Math.abs(b.sig) || (a.sig > 0) - (b.sig > 0));
    for (const m of order) {
      if (m.disc) continue;
      ctx.save();
      ctx.beginPath();
      if (m.hex) traceHex(ctx, m.hex, project);
      else tracePolys(ctx, m.polys, project);
      ctx.shadowColor = m.color;
      ctx.shadowBlur = 14 * dpr;
      ctx.lineWidth = 3;
      ctx.strokeStyle = m.color;
      ctx.stroke();
      ctx.shadowBlur = 0;
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = 'rgba(255, 255, 255, 0.85)';
      ctx.stroke();
      ctx.restore();
    }
    for (const m of order) {
      if (!m.disc) continue;
      ctx.save();
      ctx.beginPath();
      ctx.arc(m.x, m.y, MARK_DISC / 2 + 2.5, 0, 2 * Math.PI);
      ctx.fillStyle = 'rgba(2, 10, 28, 0.9)';
      ctx.shadowColor = m.color;
      ctx.shadowBlur = 12 * dpr;
      ctx.fill();
      ctx.shadowBlur = 0;
      ctx.beginPath();
      ctx.arc(m.x, m.y, MARK_DISC / 2, 0, 2 * Math.PI);
      ctx.fillStyle = m.color;
      ctx.fill();
      ctx.lineWidth = 2;
      ctx.strokeStyle = 'rgba(255, 255, 255, 0.9)';
      ctx.stroke();
      ctx.restore();
    }
  }

  // hexPath returns a hex cell's ring in pixels, grown around its centre to at least minHalf
  // pixels from centre to side.
  function hexPath(g, project, minHalf) {
    const c = project(g.centre);
    const pts = g.ring.map(project);
    const ext = Math.max(...pts.map((q) => Math.abs(q[0] - c[0])));
    const grow = ext < minHalf ? minHalf / Math.max(ext, 0.01) : 1;
    return { c, ext: ext * grow, pts: pts.map((q) => [c[0] + (q[0] - c[0]) * grow, c[1] + (q[1] - c[1]) * grow]) };
  }
  function traceHex(ctx, hp) {
    hp.pts.forEach((q, i) => (i === 0 ? ctx.moveTo(q[0], q[1]) : ctx.lineTo(q[0], q[1])));
    ctx.closePath();
  }

  // childSigOf is a child region's own significance (the children level of the data).
  function childSigOf(data, code) {
    const ch = data && data.children && data.children[code];
    return ch ? sigOf(ch) : 0;
  }

  function drawHotspotMap(shown) {
    const w = wrap.clientWidth;
    const h = wrap.clientHeight;
    const dpr = Z.layout.dpr;
    const ctx = canvasFor(canvas, w, h, dpr);
    Z.hexDrawn = 0;
    state.marks = [];
    if (!state.mapReady || !state.bounds) return null;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const pad = 24;
    proj = window.Zhili.map.projection(viewBounds(), { x: pad, y: pad, w: w - 2 * pad, h: h - 2 * pad });
    const project = proj.project;
    ctx.lineJoin = 'round';

    const data = shown.data || {};
    const marks = [];
    const drawn = {};
    const count = (r) => {
      if (mode === 'emerging' && r) drawn[patternOf(r)] = (drawn[patternOf(r)] || 0) + 1;
    };
    if (shown.level === 'grid') {
      const grids = data.grids || {};
      for (const g of state.grids) {
        const r = grids[g.code];
        ctx.beginPath();
        tracePolys(ctx, g.polys, project);
        ctx.fillStyle = fillOf(ctx, colorOf(r));
        ctx.fill('evenodd');
        ctx.lineWidth = 0.8;
        ctx.strokeStyle = 'rgba(200, 230, 255, 0.22)';
        ctx.stroke();
        count(r);
        const sig = sigOf(r);
        if (sig) {
          if (!g.label) g.label = labelPoint(g.geometry);
          marks.push(markOf(g.code, g.polys, g.label, colorOf(r), sig, project));
        }
      }
    } else if (shown.level === 'child') {
      const children = data.children || {};
      for (const town of state.towns) {
        const r = children[town.code];
        ctx.beginPath();
        tracePolys(ctx, town.polys, project);
        ctx.fillStyle = fillOf(ctx, colorOf(r));
        ctx.fill('evenodd');
        count(r);
        const sig = sigOf(r);
        if (sig) marks.push(markOf(town.code, town.polys, town.label, colorOf(r), sig, project));
      }
      ctx.lineWidth = 0.6;
      ctx.strokeStyle = 'rgba(200, 230, 255, 0.12)';
      for (const g of state.grids) {
        ctx.beginPath();
        tracePolys(ctx, g.polys, project);
        ctx.stroke();
      }
    } else {
      // Hex: the region dark underneath, the cells with cases (or significant) on top.
      ctx.beginPath();
      tracePolys(ctx, state.root.polys, project);
      ctx.fillStyle = NO_DATA_COLOR;
      ctx.fill('evenodd');
      ctx.lineWidth = 0.6;
      ctx.strokeStyle = 'rgba(200, 230, 255, 0.10)';
      for (const g of state.grids) {
        ctx.beginPath();
        tracePolys(ctx, g.polys, project);
        ctx.stroke();
      }
      const hex = data.hex || {};
      // Cells at least ~5 px wide so that a city-wide map still shows them; their outline in
      // the background colour separates neighbours.
      const ids = Object.keys(hex).sort((a, b) => Math.abs(num(hex[a].bin)) - Math.abs(num(hex[b].bin)));
      for (const id of ids) {
        const g = state.hexGeo.get(id);
        if (!g) continue;
        const hp = hexPath(g, project, 2.5);
        ctx.beginPath();
        traceHex(ctx, hp);
        const color = BIN_COLORS[clampBin(hex[id].bin)];
        ctx.fillStyle = color;
        ctx.fill();
        ctx.lineWidth = 0.8;
        ctx.strokeStyle = 'rgba(2, 10, 28, 0.8)';
        ctx.stroke();
        Z.hexDrawn++;
        const sig = clampBin(hex[id].bin);
        if (sig) {
          const small = 2 * hp.ext < MARK_MIN;
          marks.push({ code: id, x: hp.c[0], y: hp.c[1], w: small ? MARK_DISC : 2 * hp.ext, h: small ? MARK_DISC : 2 * hp.ext,
            disc: small, color, sig, hex: hp });
        }
      }
    }
    // Child outlines on top; a significant child region (Gi* among the children) is drawn in its
    // colour too, as a band inside its outline, whatever the level of the cells.
    ctx.lineWidth = 2.5;
    ctx.strokeStyle = '#6fdcff';
    strokeEach(ctx, state.towns, project);
    const childSig = [];
    const childMarked = [];
    if (shown.level !== 'child') {
      for (const town of state.towns) {
        const sig = childSigOf(data, town.code);
        if (!sig) continue;
        childSig.push(town.code);
        ctx.save();
        ctx.beginPath();
        tracePolys(ctx, town.polys, project);
        ctx.clip('evenodd');
        const color = colorOf(data.children[town.code]);
        ctx.globalAlpha = 0.16;
        ctx.fillStyle = color;
        ctx.fill('evenodd');
        ctx.globalAlpha = 0.95;
        ctx.lineWidth = 12;
        ctx.strokeStyle = color;
        ctx.stroke();
        ctx.restore();
        childMarked.push(town.code);
      }
    } else {
      for (const town of state.towns) if (childSigOf(data, town.code)) { childSig.push(town.code); childMarked.push(town.code); }
    }
    Z.childSignificant = childSig;
    Z.childMarked = childMarked;
    // The region outline with a glow.
    if (state.root) {
      glowOutline(ctx, state.root.polys, project, dpr);
    }
    // The zoomed place's neighbourhood (what its Gi* looked at), dashed.
    const focus = state.pin || state.hover;
    if (focus && shown.level !== 'hex') {
      const list = shown.level === 'child' ? state.towns : state.grids;
      const nbs = neighboursOf(shown.level, focus);
      if (nbs) {
        ctx.save();
        ctx.setLineDash([6, 4]);
        ctx.lineWidth = 2;
        ctx.strokeStyle = 'rgba(255, 236, 160, 0.9)';
        for (const c of nbs) {
          const r = state.tree.regions.get(c);
          if (!r || !list.includes(r)) continue;
          ctx.beginPath();
          tracePolys(ctx, r.polys, project);
          ctx.stroke();
        }
        ctx.restore();
      }
    }
    // The place explained at the other levels (the reply's footprint).
    const fr0 = focus ? cellsOf(shown)[focus] : null;
    Z.footprintDrawn = fr0 && fr0.why ? drawFootprint(ctx, fr0.why.footprint, project) : 0;
    drawMarks(ctx, marks, project, dpr);
    // The cell explained: a white outline (or ring) over everything.
    const fm = focus && marks.find((m) => m.code === focus);
    const fr = focus && !fm && shown.level !== 'hex' ? state.tree.regions.get(focus) : null;
    ctx.save();
    ctx.lineWidth = 3.5;
    ctx.strokeStyle = '#ffffff';
    ctx.shadowColor = 'rgba(255, 255, 255, 0.9)';
    ctx.shadowBlur = 10 * dpr;
    if (fm && fm.disc) {
      ctx.beginPath();
      ctx.arc(fm.x, fm.y, MARK_DISC / 2 + 6, 0, 2 * Math.PI);
      ctx.stroke();
    } else if (fm || fr) {
      ctx.beginPath();
      if (fm && fm.hex) traceHex(ctx, fm.hex);
      else tracePolys(ctx, (fm || fr).polys, project);
      ctx.stroke();
    }
    ctx.restore();

    state.marks = marks;
    Z.marks = marks.slice(0, 2000).map((m) => ({ code: m.code, x: Math.round(m.x * 10) / 10, y: Math.round(m.y * 10) / 10,
      w: Math.round(m.w * 10) / 10, h: Math.round(m.h * 10) / 10, disc: m.disc, color: m.color }));
    Z.minMark = marks.length ? Math.min(...marks.map((m) => Math.min(m.w, m.h))) : 0;
    Z.patternsDrawn = drawn;
    Z.layout.renderedDpr = dpr;
    return ctx;
  }

  // ---------------------------------------------------------------- labels
  // Labels are DOM above the canvas (sharp at any scale), placed by Zhili.map.layoutLabels:
  // the explanation card first, then the rank badges of the top hot spots, then the child
  // regions' names (significant ones first, then by size) and, on a zoomed map, the cells'.
  // Nothing overlaps: a label that finds no free position near its place (or on a leader
  // line) is left out.
  const labelsEl = $('hs-labels');
  const calloutEl = $('hs-callout');

  // lightColour reports whether a #rrggbb colour is light (dark text reads on it).
  function lightColour(c) {
    const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(c || '');
    if (!m) return false;
    const [r, g, b] = [m[1], m[2], m[3]].map((h) => parseInt(h, 16));
    return 0.299 * r + 0.587 * g + 0.114 * b > 150;
  }

  // spotsIn returns points inside a region where its label may be centred instead of its label
  // point, nearest first: a lattice of label-sized steps over its box, kept when the label's
  // centre and corners fall inside the region.
  function spotsIn(region, it, e) {
    const out = [];
    const stepX = Math.max(12, it.w / 3);
    const stepY = Math.max(10, it.h / 2);
    const x0 = e.cx - e.w / 2;
    const y0 = e.cy - e.h / 2;
    const inside = (x, y) => window.Zhili.map.inPolygons(proj.unproject(x, y), region.polys);
    for (let y = y0 + it.h / 2; y <= y0 + e.h - it.h / 2; y += stepY) {
      for (let x = x0 + it.w / 2; x <= x0 + e.w - it.w / 2; x += stepX) {
        const hw = it.w / 2 - 2, hh = it.h / 2 - 2;
        if (inside(x, y) && inside(x - hw, y - hh) && inside(x + hw, y - hh) && inside(x - hw, y + hh) && inside(x + hw, y + hh)) {
          out.push([x, y, Math.hypot(x - it.x, y - it.y)]);
        }
      }
    }
    out.sort((a, b) => a[2] - b[2]);
    return out.slice(0, 60);
  }

  // overlayBoxes returns the boxes of what lies over the map (breadcrumb, notes, playback
  // frame), in canvas pixels: labels keep clear of them.
  function overlayBoxes() {
    const base = canvas.getBoundingClientRect();
    const s = (canvas.clientWidth || 1) / (base.width || 1);
    const out = [];
    for (const el of document.querySelectorAll('#hs-crumbs > *, #hs-view, #hs-note, #hs-frame-big, #hs-zoom')) {
      if (el.hidden || el.offsetParent === null) continue;
      const r = el.getBoundingClientRect();
      if (!r.width || !r.height) continue;
      out.push([(r.left - base.left) * s - 4, (r.top - base.top) * s - 4, r.width * s + 8, r.height * s + 8]);
    }
    return out;
  }

  function drawHotspotLabels(shown, ctx, hot) {
    const data = shown.data || {};
    const children = data.children || {};
    const items = [];
    let html = '';
    if (proj && state.mapReady) {
      const vb = [0, 0, wrap.clientWidth, wrap.clientHeight];
      const inView = (p) => p[0] >= vb[0] && p[1] >= vb[1] && p[0] <= vb[2] && p[1] <= vb[3];
      // Rank badges: the list's first hot spots, where they are; none the list does not show.
      const ranks = [];
      hot.slice(0, Math.min(RANKS_ON_MAP, Z.listRows.length)).forEach((g, i) => {
        const m = state.marks.find((x) => x.code === g.code);
        if (!m || !inView([m.x, m.y])) return;
        ranks.push(g.code);
        const id = 'rank:' + g.code;
        // In the colour of its mark (and of its row's swatch), the digit dark on a light colour.
        html += '<div class="hs-rank' + (lightColour(m.color) ? ' light' : '') + '" data-id="' + esc(id) + '" style="background:' + m.color + '">' + (i + 1) + '</div>';
        const r = m.disc ? MARK_DISC / 2 + 3 : Math.min(m.w, m.h) / 2;
        items.push({ id, x: m.x, y: m.y, r, centre: false, leader: true, priority: 900 - i });
      });
      Z.ranks = ranks;
      // Child regions: name and cases; significant ones coloured.
      const crowded = state.towns.length > 40;
      const area = (town) => {
        const b = town.bbox;
        return Math.max(0, (b[2] - b[0]) * (b[3] - b[1]));
      };
      const biggest = Math.max(1e-12, ...state.towns.map(area));
      for (const town of state.towns) {
        const ch = children[town.code];
        const sig = ch ? sigOf(ch) : 0;
        const p = proj.project(town.label);
        if (!inView(p)) continue;
        if (crowded && !sig && !state.zoom) continue;
        const id = 'town:' + town.code;
        const cls = sig > 0 ? ' hot' : sig < 0 ? ' cold' : '';
        const chip = sig ? ' style="--sig:' + colorOf(ch) + '"' : '';
        html += '<div class="hs-town' + cls + (crowded ? ' small' : '') + '" data-id="' + esc(id) + '"' + chip + '>' +
          '<b>' + esc(state.tree.name(town.code)) + '</b>' +
          '<span>' + esc(t('count')) + ' ' + num(ch && ch.count) +
          (sig && mode !== 'emerging' ? ' · ' + esc((sig > 0 ? t('hot') : t('cold')) + ' ' + confOf(sig)) : '') +
          (sig && mode === 'emerging' ? ' · ' + esc(t('patterns')[patternOf(ch)] || '') : '') + '</span></div>';
        items.push({ id, x: p[0], y: p[1], region: town, leader: true, priority: (sig ? 400 + Math.abs(sig) * 10 : 100) + 90 * area(town) / biggest });
      }
      // On a zoomed map the cells in view that are significant or in the neighbourhood of the
      // place explained are named too, with their cases.
      if (state.zoom && shown.level === 'grid') {
        const cells = data.grids || {};
        const focus = state.pin || state.zoom.code;
        const near = new Set([focus].concat(neighboursOf('grid', focus) || []));
        let k = 0;
        for (const g of state.grids) {
          if (state.towns.includes(g)) continue;
          const r = cells[g.code];
          const sig = sigOf(r);
          if (!sig && !near.has(g.code)) continue;
          if (!g.label) g.label = labelPoint(g.geometry);
          const p = proj.project(g.label);
          if (!inView(p) || k++ > 80) continue;
          const id = 'cell:' + g.code;
          html += '<div class="hs-town small leaf' + (sig > 0 ? ' hot' : sig < 0 ? ' cold' : '') + '" data-id="' + esc(id) + '">' +
            '<b>' + esc(shortName(g.code)) + '</b><span>' + num(r && r.count) + '</span></div>';
          items.push({ id, x: p[0], y: p[1], leader: false, priority: (sig ? 300 : 50) + (g.code === state.zoom.code ? 100 : 0) + Math.min(40, num(r && r.count)) });
        }
      }
    }
    if (labelsEl.innerHTML !== html) labelsEl.innerHTML = html;
    // Sizes from the DOM, then the layout.
    const els = new Map();
    for (const el of labelsEl.children) els.set(el.dataset.id, el);
    for (const it of items) {
      const el = els.get(it.id);
      it.w = el ? el.offsetWidth : 0;
      it.h = el ? el.offsetHeight : 0;
      // A region large enough keeps its label inside itself (no leader line): other points of
      // it are tried instead; a small one may move out on a leader line.
      if (it.region) {
        // Kept per region while the projection and the label's size (rounded up to 8 px: a
        // count that gains a digit, another window's counts) stay; every redraw of a live map
        // would otherwise test the lattice against the outlines again. A few sizes are kept.
        const q = { x: it.x, y: it.y, w: Math.ceil(it.w / 8) * 8, h: Math.ceil(it.h / 8) * 8 };
        const key = [proj.k, proj.ox, proj.oy, q.w, q.h].map((v) => v.toFixed(3)).join('|');
        const c = it.region.spotCache || (it.region.spotCache = new Map());
        let spots = c.get(key);
        if (spots === undefined) {
          const e = projExtent(it.region.polys, proj.project);
          spots = e.w > 1.6 * q.w && e.h > 1.6 * q.h ? spotsIn(it.region, q, e) : null;
          if (c.size >= 4) c.delete(c.keys().next().value);
          c.set(key, spots);
        }
        if (spots) {
          it.leader = false;
          it.spots = spots;
        }
      }
    }
    const obstacles = overlayBoxes();
    // Discs of significant cells stay visible: no label covers one.
    for (const m of state.marks) if (m.disc) obstacles.push([m.x - MARK_DISC / 2 - 2, m.y - MARK_DISC / 2 - 2, MARK_DISC + 4, MARK_DISC + 4]);
    const callout = placeCallout(obstacles);
    if (callout) obstacles.push([callout.x - 4, callout.y - 4, callout.w + 8, callout.h + 8]);
    const bounds = [4, 4, wrap.clientWidth - 4, wrap.clientHeight - 4];
    const lay = window.Zhili.map.layoutLabels(items, { bounds, obstacles, pad: 3, ringStep: 26, rings: 3 });
    const radius = new Map(items.map((it) => [it.id, it.r || 0]));
    for (const b of lay.placed) b.r = radius.get(b.id);
    const shownIds = new Set();
    for (const b of lay.placed) {
      const el = els.get(b.id);
      if (!el) continue;
      shownIds.add(b.id);
      el.style.left = b.x.toFixed(1) + 'px';
      el.style.top = b.y.toFixed(1) + 'px';
      el.style.visibility = 'visible';
    }
    for (const [id, el] of els) if (!shownIds.has(id)) el.style.visibility = 'hidden';
    // Leader lines, under the labels, on the canvas.
    if (ctx) {
      const leaders = lay.placed.filter((b) => b.leader);
      if (callout && callout.leader) leaders.push(callout);
      ctx.save();
      for (const b of leaders) {
        let [ax, ay] = b.leader;
        const [, , bx, by] = b.leader;
        // From the edge of the anchor's mark (its colour stays whole), else from a dot.
        const r = b.r || 0;
        const d = Math.hypot(bx - ax, by - ay);
        if (r > 0 && d > r) {
          ax += ((bx - ax) * r) / d;
          ay += ((by - ay) * r) / d;
        }
        ctx.beginPath();
        ctx.moveTo(ax, ay);
        ctx.lineTo(bx, by);
        ctx.lineCap = 'round';
        ctx.lineWidth = b === callout ? 6 : 3.6;
        ctx.strokeStyle = 'rgba(2, 10, 28, 0.85)';
        ctx.stroke();
        ctx.lineWidth = b === callout ? 3 : 1.6;
        ctx.strokeStyle = b === callout ? '#ffffff' : 'rgba(220, 240, 255, 0.9)';
        ctx.stroke();
        if (!r) {
          ctx.beginPath();
          ctx.arc(ax, ay, 2.5, 0, 2 * Math.PI);
          ctx.fillStyle = '#ffffff';
          ctx.fill();
        }
      }
      ctx.restore();
    }
    Z.labelBoxes = lay.placed.map((b) => ({ id: b.id, x: Math.round(b.x * 10) / 10, y: Math.round(b.y * 10) / 10, w: b.w, h: b.h }));
    if (callout) Z.labelBoxes.unshift({ id: 'callout', x: Math.round(callout.x * 10) / 10, y: Math.round(callout.y * 10) / 10, w: callout.w, h: callout.h });
    Z.labelsDropped = lay.dropped;
  }

  // ---------------------------------------------------------------- why a place is hot
  // neighboursOf returns the neighbours of a cell among the cells of a level (queen contiguity
  // over the region tree, as the server's weights), or null for hex cells.
  function neighboursOf(lv, code) {
    if (lv === 'hex') return null;
    const key = lv + ':' + state.cur;
    let nb = state.nb.get(key);
    if (!nb) {
      nb = window.Zhili.map.touching(lv === 'child' ? state.towns : state.grids);
      state.nb.set(key, nb);
    }
    const s = nb.get(code);
    return s ? Array.from(s) : null;
  }
  // qValues returns the Benjamini-Hochberg adjusted p-values of a level's cells (the reply's q
  // when it has them): q_(i) = min over k ≥ i of min(1, m·p_(k)/k).
  const qCache = new WeakMap();
  function qValues(cells) {
    let q = qCache.get(cells);
    if (q) return q;
    const codes = Object.keys(cells).filter((c) => cells[c] && typeof cells[c].p === 'number');
    codes.sort((a, b) => cells[a].p - cells[b].p);
    const m = codes.length;
    q = new Map();
    let run = 1;
    for (let i = m - 1; i >= 0; i--) {
      run = Math.min(run, (m * cells[codes[i]].p) / (i + 1));
      q.set(codes[i], Math.min(1, run));
    }
    qCache.set(cells, q);
    return q;
  }
  // whyOf gathers why a cell is (or is not) hot: observed cases, the neighbourhood's cases and
  // what the average would give it (expected), their ratio, z, the FDR-adjusted p, and in
  // emerging mode its class and trend. A reply's own explanation (`why`) wins over what the
  // page works out from the data shown.
  function whyOf(shown, code) {
    const cells = cellsOf(shown);
    const r = cells[code];
    if (!r) return null;
    const out = {
      code, level: shown.level, count: num(r.count), z: num(r.z), p: typeof r.p === 'number' ? r.p : null,
      q: typeof r.q === 'number' ? r.q : null, bin: clampBin(r.bin), pattern: mode === 'emerging' ? patternOf(r) : '',
      trend_z: r.trend_z, trend_p: r.trend_p, local: null, neighbours: null, expected: null, ratio: null, source: 'page',
      nbMean: null, through: false,
    };
    if (shown.level === 'hex') {
      // Neighbours: listed cells whose centres are one cell apart (the unlisted ones are empty).
      const g = state.hexGeo.get(code);
      if (g) {
        const k = Math.cos(g.centre[1] * Math.PI / 180);
        const d2 = (a, b) => ((a[0] - b[0]) * k) ** 2 + (a[1] - b[1]) ** 2;
        const reach = 3 * 1.2 * 1.2 * Math.max(...g.ring.map((v) => d2(v, g.centre)));
        let local = out.count;
        for (const id in cells) {
          const h = state.hexGeo.get(id);
          if (id !== code && h && d2(h.centre, g.centre) < reach) local += num(cells[id].count);
        }
        out.local = local;
        out.neighbours = 6;
      }
    } else {
      const codes = Object.keys(cells);
      let total = 0;
      for (const c of codes) total += num(cells[c] && cells[c].count);
      const nbs = (neighboursOf(shown.level, code) || []).filter((c) => cells[c]);
      let local = out.count;
      for (const c of nbs) local += num(cells[c].count);
      out.local = local;
      out.neighbours = nbs.length;
      out.expected = codes.length ? (total / codes.length) * (1 + nbs.length) : null;
      out.ratio = out.expected > 0 ? local / out.expected : null;
      if (out.q === null && data0(shown).fdr !== false) out.q = qValues(cells).get(code);
      if (data0(shown).fdr === false && out.q === null) out.q = out.p;
    }
    // The reply's explanation (docs/HOTSPOTS.md, "Why is it hot"): observed is the
    // neighbourhood's sum, expected the same sum at the study area's mean.
    const w = r.why;
    if (w && typeof w === 'object') {
      out.source = 'reply';
      const pick = (k) => (typeof w[k] === 'number' && Number.isFinite(w[k]) ? w[k] : undefined);
      const v = { local: pick('observed'), expected: pick('expected'), ratio: pick('ratio'), z: pick('z'), q: pick('q'),
        neighbours: pick('neighbours'), events: pick('local_events'), nbMean: pick('neighbour_mean') };
      for (const k in v) if (v[k] !== undefined) out[k] = v[k];
      out.through = w.through_neighbours === true;
      if (out.expected !== null && !(out.expected > 0)) out.ratio = null;
      if (Array.isArray(w.path)) out.path = w.path.map(String);
      if (w.footprint && typeof w.footprint === 'object') out.footprint = w.footprint;
    }
    return out;
  }
  function data0(shown) { return shown.data || {}; }

  // nameOf is a cell's name in lists and cards: its own (without a parent's name it repeats),
  // with the places above it down from the region shown (county › township); a hex cell is
  // named by the grid holding its centre.
  function shortName(code) {
    const r = state.tree.regions.get(code);
    const name = state.tree.name(code);
    const parent = r && r.parent && r.parent !== state.cur ? state.tree.name(r.parent) : '';
    return parent && name.startsWith(parent) && name.length > parent.length ? name.slice(parent.length) : name;
  }
  function chainOf(code) {
    const names = [];
    for (let c = state.tree.regions.get(code); c && c.parent && c.parent !== state.cur && c.code !== state.cur; c = state.tree.regions.get(c.parent)) {
      if (!state.tree.regions.has(c.parent)) break;
      names.unshift(state.tree.name(c.parent));
    }
    return names;
  }
  function nameOf(code, lv, r) {
    let grid = code;
    let prefix = '';
    if (lv === 'hex') {
      const g = state.hexGeo.get(code);
      const in1 = g ? window.Zhili.map.regionAt(g.centre, state.grids) : null;
      if (!in1) return { name: 'H3 ' + code, chain: [] };
      grid = in1.code;
      prefix = t('hex_name') + ' · ';
    }
    // The reply's own path (names from the root down to the place, or to the grid holding a
    // hex cell's centre) when it gives one: the region shown, those above it and the place
    // itself left out.
    const given = r && r.why && r.why.path;
    let chain = chainOf(grid);
    const at = Array.isArray(given) ? given.indexOf(state.tree.name(state.cur)) : -1;
    if (at >= 0 && given.length > at + 1) chain = given.slice(at + 1, -1).map(String);
    return { name: prefix + shortName(grid), chain };
  }

  function fmtNum(v, digits) {
    if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
    return Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(digits);
  }
  function fmtP(v) {
    if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
    if (v < 0.0001) return '< 0.0001';
    return v < 0.01 ? v.toFixed(4) : v.toFixed(3);
  }

  // calloutHTML is the explanation card of a cell.
  function calloutHTML(w) {
    const shown = shownData();
    const cells = cellsOf(shown);
    const r = cells[w.code];
    const nm = nameOf(w.code, w.level, r);
    const sig = sigOf(r);
    const color = colorOf(r);
    let verdict;
    if (mode === 'emerging') verdict = t('patterns')[w.pattern] || t('patterns').no_pattern;
    else verdict = w.bin ? confOf(w.bin) + ' ' + (w.bin > 0 ? t('hot') : t('cold')) : t('why_not_sig');
    const unit = (t('why_unit') || {})[w.level] || '';
    let say = '';
    if (w.local !== null && w.expected !== null && w.ratio !== null) {
      say = fmt(w.ratio >= 1 ? t('why_say') : t('why_say_low'), { local: w.local, exp: fmtNum(w.expected, 1), ratio: fmtNum(w.ratio, 1) });
    }
    const through = w.through && w.nbMean !== null
      ? fmt(t(PER ? 'why_through_rate' : 'why_through'), { unit, own: w.count, nm: fmtNum(w.nbMean, 1) }) : '';
    const cell = (k, v, small) => '<div><dt>' + esc(k) + '</dt><dd>' + esc(v) + (small ? '<small>' + esc(small) + '</small>' : '') + '</dd></div>';
    let grid = cell(t('why_obs'), String(w.count));
    if (w.local !== null) grid += cell(t('why_local'), String(w.local), w.neighbours !== null ? fmt(t('why_nb'), { unit, n: w.neighbours }) : '');
    if (w.expected !== null) grid += cell(t('why_expected'), fmtNum(w.expected, 1));
    if (w.ratio !== null) grid += cell(t('why_ratio'), fmtNum(w.ratio, 1) + '×');
    grid += cell('z', fmtNum(w.z, 2));
    grid += w.q !== null && w.q !== undefined ? cell(t('why_q'), fmtP(w.q)) : cell(t('why_p'), fmtP(w.p));
    if (mode === 'emerging' && isTrend(w.pattern) && typeof w.trend_z === 'number') {
      grid += cell(t('why_trend'), (w.trend_z > 0 ? '↑ ' : w.trend_z < 0 ? '↓ ' : '') + fmtNum(w.trend_z, 2), typeof w.trend_p === 'number' ? 'p ' + fmtP(w.trend_p) : '');
    }
    const fp = footprintLines(w.footprint);
    const canDrill = w.level !== 'hex' && kidsOf(w.code).length > 0;
    return '<div class="hs-co-head"><i style="background:' + color + '"></i><b>' + esc(nm.name) + '</b></div>' +
      (nm.chain.length ? '<div class="hs-co-chain">' + esc(nm.chain.join(' › ')) + '</div>' : '') +
      '<div class="hs-co-verdict' + (sig > 0 ? ' hot' : sig < 0 ? ' cold' : '') + '" style="--sig:' + color + '">' + esc(verdict) + '</div>' +
      (say ? '<div class="hs-co-say">' + esc(say) + '</div>' : '') +
      (through ? '<div class="hs-co-say nb">' + esc(through) + '</div>' : '') +
      '<dl class="hs-co-grid">' + grid + '</dl>' +
      (fp.length ? '<div class="hs-co-fp"><em>' + esc(t('fp_head')) + '</em>' + fp.map((x) => '<span>' + x + '</span>').join('') + '</div>' : '') +
      (state.pin === w.code ? '<div class="hs-co-actions control">' + (canDrill ? '<button type="button" class="hs-btn" data-act="drill">' + esc(t('drill_into')) + '</button>' : '') +
        '<button type="button" class="hs-btn hs-co-close" data-act="close" aria-label="close">' + esc(t('close')) + '</button></div>' : '');
  }

  // footprintLines says where a significant place is at the other levels of the same study
  // (the reply's why.footprint): the region or grid holding it, the significant grids or hex
  // cells inside it. HTML, each swatch in its bin's colour.
  function footprintLines(fp) {
    const out = [];
    if (!fp || typeof fp !== 'object') return out;
    const sw = (bin) => '<i style="background:' + BIN_COLORS[clampBin(bin)] + '"></i>';
    const conf = (bin) => (clampBin(bin) ? confOf(bin) + ' ' + (bin > 0 ? t('hot') : t('cold')) : t('not_sig'));
    for (const k of ['child', 'grid']) {
      const r = fp[k];
      if (r && r.code) out.push(sw(r.bin) + esc(fmt(t('fp_in'), { kind: t('fp_kind')[k], name: state.tree.name(r.code), conf: conf(num(r.bin)) })));
    }
    for (const k of ['grids', 'hex']) {
      const set = fp[k];
      if (!set || typeof set !== 'object') continue;
      const bins = Object.values(set.bins || {}).map(num);
      const top = bins.length ? bins.reduce((a, b) => (Math.abs(b) > Math.abs(a) ? b : a), 0) : 0;
      out.push(sw(top) + esc(fmt(t('fp_set'), { n: num(set.cells), k: bins.filter((b) => b !== 0).length, unit: t('fp_unit')[k] })));
    }
    return out;
  }

  // drawFootprint outlines the place explained at the other levels: the region or grid holding
  // it (dashed, in its bin's colour, white when not significant), and fills the significant
  // grids or hex cells inside it (hex outlines are fetched when not yet known).
  function drawFootprint(ctx, fp, project) {
    let drawn = 0;
    if (!fp || typeof fp !== 'object') return drawn;
    ctx.save();
    for (const k of ['child', 'grid']) {
      const r = fp[k] && state.tree.regions.get(fp[k].code);
      if (!r) continue;
      const bin = clampBin(fp[k].bin);
      ctx.beginPath();
      tracePolys(ctx, r.polys, project);
      ctx.setLineDash([12, 7]);
      ctx.lineWidth = 4;
      ctx.strokeStyle = bin ? BIN_COLORS[bin] : 'rgba(255, 255, 255, 0.8)';
      ctx.stroke();
      drawn++;
    }
    ctx.setLineDash([]);
    const grids = fp.grids && fp.grids.bins;
    for (const code in grids || {}) {
      const r = state.tree.regions.get(code);
      if (!r) continue;
      ctx.beginPath();
      tracePolys(ctx, r.polys, project);
      ctx.fillStyle = BIN_COLORS[clampBin(grids[code])];
      ctx.fill('evenodd');
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = '#ffffff';
      ctx.stroke();
      drawn++;
    }
    const hex = fp.hex && fp.hex.bins;
    const missing = {};
    for (const id in hex || {}) {
      const g = state.hexGeo.get(id);
      if (!g) {
        missing[id] = 1;
        continue;
      }
      const hp = hexPath(g, project, 2.5);
      ctx.beginPath();
      traceHex(ctx, hp);
      ctx.fillStyle = BIN_COLORS[clampBin(hex[id])];
      ctx.fill();
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = '#ffffff';
      ctx.stroke();
      drawn++;
    }
    ctx.restore();
    if (Object.keys(missing).length) ensureHex(missing);
    return drawn;
  }

  // placeCallout shows the explanation of the cell pinned (or under the pointer) beside it,
  // joined to it by a leader line, where it covers no overlay and no significant disc when it
  // can; it returns its box {x, y, w, h, leader} in canvas pixels, or null.
  function placeCallout(obstacles) {
    const code = state.pin || state.hover;
    const shown = shownData();
    const w = code && proj ? whyOf(shown, code) : null;
    if (!w) {
      calloutEl.hidden = true;
      Z.callout = '';
      Z.why = null;
      return null;
    }
    const html = calloutHTML(w);
    if (calloutEl.innerHTML !== html) calloutEl.innerHTML = html;
    calloutEl.hidden = false;
    calloutEl.classList.toggle('pinned', state.pin === code);
    if (Z.callout !== code) {
      Z.callouts.push(code);
      if (Z.callouts.length > 20) Z.callouts.shift();
    }
    Z.callout = code;
    Z.why = w;
    const cw = calloutEl.offsetWidth;
    const ch = calloutEl.offsetHeight;
    // The anchor: the cell's mark, else its label point (or the hex centre).
    const m = state.marks.find((x) => x.code === code);
    let a = null;
    let rad = 0;
    if (m) {
      a = [m.x, m.y];
      rad = m.disc ? MARK_DISC / 2 + 6 : Math.min(m.w, m.h) / 2;
    } else if (shown.level === 'hex') {
      const g = state.hexGeo.get(code);
      if (g) a = proj.project(g.centre);
    } else {
      const reg = state.tree.regions.get(code);
      if (reg) {
        if (!reg.label) reg.label = labelPoint(reg.geometry);
        a = proj.project(reg.label);
      }
    }
    const W = wrap.clientWidth;
    const H = wrap.clientHeight;
    const bounds = [6, 6, W - 6, H - 6];
    let box = null;
    if (a && a[0] >= 0 && a[1] >= 0 && a[0] <= W && a[1] <= H) {
      const item = { id: 'callout', x: a[0], y: a[1], w: cw, h: ch, r: rad + 8, centre: false, leader: true, priority: 1 };
      const discs = state.marks.filter((x) => x.disc && x.code !== code).map((x) => [x.x - 10, x.y - 10, 20, 20]);
      // The place explained stays in sight: the card keeps clear of its outline's box.
      // First the card tries to leave its neighbourhood in sight too.
      const own = [];
      const around = [];
      const reg = shown.level !== 'hex' ? state.tree.regions.get(code) : null;
      if (reg) {
        const e = projExtent(reg.polys, proj.project);
        own.push([e.cx - e.w / 2, e.cy - e.h / 2, e.w, e.h]);
        for (const c of neighboursOf(shown.level, code) || []) {
          const n = state.tree.regions.get(c);
          if (!n) continue;
          const f = projExtent(n.polys, proj.project);
          around.push([f.cx - f.w / 2, f.cy - f.h / 2, f.w, f.h]);
        }
      } else if (m) own.push([m.x - m.w / 2, m.y - m.h / 2, m.w, m.h]);
      // And the other significant cells.
      for (const x of state.marks) if (!x.disc && x.code !== code) around.push([x.x - x.w / 2, x.y - x.h / 2, x.w, x.h]);
      for (const obs of [obstacles.concat(discs, own, around), obstacles.concat(discs, own), obstacles.concat(own), obstacles, []]) {
        const lay = window.Zhili.map.layoutLabels([item], { bounds, obstacles: obs, pad: 4, ringStep: 48, rings: 5 });
        if (lay.placed.length) {
          box = lay.placed[0];
          if (!box.leader) box.leader = [a[0], a[1]].concat(nearestPoint(a, box));
          box.r = m ? rad : 0;
          break;
        }
      }
    }
    if (!box) box = { x: W - cw - 12, y: H - ch - 12, w: cw, h: ch, leader: null };
    calloutEl.style.left = box.x.toFixed(1) + 'px';
    calloutEl.style.top = box.y.toFixed(1) + 'px';
    return box;
  }
  function nearestPoint(p, b) {
    return [Math.max(b.x, Math.min(p[0], b.x + b.w)), Math.max(b.y, Math.min(p[1], b.y + b.h))];
  }

  // ---------------------------------------------------------------- pointing, zoom and drill-down
  // canvasPoint converts a client position to stage pixels of the canvas.
  function canvasPoint(clientX, clientY) {
    const rect = canvas.getBoundingClientRect();
    const sx = canvas.clientWidth / (rect.width || 1);
    return [(clientX - rect.left) * sx, (clientY - rect.top) * sx];
  }
  function childAt(clientX, clientY) {
    if (!proj || !state.mapReady) return null;
    const p = canvasPoint(clientX, clientY);
    return window.Zhili.map.regionAt(proj.unproject(p[0], p[1]), state.towns);
  }
  // cellAt returns the cell of the level shown under a client position: a significant disc
  // first (they are larger than their cells), else the cell whose outline holds the point.
  function cellAt(clientX, clientY, shown) {
    if (!proj || !state.mapReady) return '';
    const p = canvasPoint(clientX, clientY);
    let best = '';
    let bd = Infinity;
    for (const m of state.marks) {
      if (!m.disc) continue;
      const d = Math.hypot(m.x - p[0], m.y - p[1]);
      if (d <= MARK_DISC / 2 + 4 && d < bd) { bd = d; best = m.code; }
    }
    if (best) return best;
    const q = proj.unproject(p[0], p[1]);
    if (shown.level === 'grid') {
      const r = window.Zhili.map.regionAt(q, state.grids);
      return r ? r.code : '';
    }
    if (shown.level === 'child') {
      const r = window.Zhili.map.regionAt(q, state.towns);
      return r ? r.code : '';
    }
    for (const id in (shown.data && shown.data.hex) || {}) {
      const g = state.hexGeo.get(id);
      if (g && window.Zhili.map.inRing(q, g.ring)) return id;
    }
    return '';
  }
  function pin(code) {
    state.pin = code || '';
    state.hover = '';
    renderer.schedule();
  }
  // A click on a significant cell explains it; elsewhere a click on a child region with
  // subdivisions drills down to it, and on any other cell explains it too.
  canvas.addEventListener('click', (ev) => {
    const shown = shownData();
    const code = cellAt(ev.clientX, ev.clientY, shown);
    const r = code ? cellsOf(shown)[code] : null;
    if (r && sigOf(r)) return pin(code);
    const child = childAt(ev.clientX, ev.clientY);
    if (child && kidsOf(child.code).length) return drill(child.code);
    pin(r ? code : '');
  });
  let hoverAt = 0;
  canvas.addEventListener('mousemove', (ev) => {
    if (KIOSK || performance.now() - hoverAt < 60) return;
    hoverAt = performance.now();
    const shown = shownData();
    const code = cellAt(ev.clientX, ev.clientY, shown);
    const r = code ? cellsOf(shown)[code] : null;
    const hov = r && sigOf(r) ? code : '';
    const child = hov ? null : childAt(ev.clientX, ev.clientY);
    canvas.style.cursor = hov || (child && kidsOf(child.code).length) ? 'pointer' : '';
    if (hov !== state.hover) {
      state.hover = hov;
      renderer.schedule();
    }
  });
  canvas.addEventListener('mouseleave', () => {
    if (state.hover) {
      state.hover = '';
      renderer.schedule();
    }
  });
  calloutEl.addEventListener('click', (ev) => {
    const b = ev.target.closest('button');
    if (!b || KIOSK) return;
    const code = state.pin;
    if (b.dataset.act === 'close') pin('');
    else if (b.dataset.act === 'drill' && code) drill(code);
  });
  document.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Escape') return;
    if (state.pin) pin('');
    else if (state.zoom) zoomOut();
  });

  // zoomTo frames a cell and its neighbourhood (what its Gi* looked at) and explains it.
  function zoomTo(code) {
    const shown = shownData();
    let b = null;
    if (shown.level === 'hex') {
      const g = state.hexGeo.get(code);
      if (g) b = window.Zhili.map.boundsOf([[g.ring]]);
    } else {
      const r = state.tree.regions.get(code);
      if (!r) return;
      const polys = [].concat(r.polys);
      for (const c of neighboursOf(shown.level, code) || []) {
        const n = state.tree.regions.get(c);
        if (n) polys.push(...n.polys);
      }
      b = window.Zhili.map.boundsOf(polys);
    }
    if (!b) return;
    // Room around it for the explanation card, and never closer than a 25th of the region shown.
    const rb = state.bounds;
    const span = Math.max(b[2] - b[0], b[3] - b[1], rb ? Math.max(rb[2] - rb[0], rb[3] - rb[1]) / 25 : 0) * (shown.level === 'hex' ? 3 : 2);
    const cx = (b[0] + b[2]) / 2;
    const cy = (b[1] + b[3]) / 2;
    state.zoom = { code, bounds: [cx - span / 2, cy - span / 2, cx + span / 2, cy + span / 2] };
    Z.zoom = { code, bounds: state.zoom.bounds.slice() };
    $('hs-zoom').hidden = false;
    pin(code);
  }
  function zoomOut() {
    state.zoom = null;
    Z.zoom = null;
    $('hs-zoom').hidden = true;
    renderer.schedule();
  }
  Z.zoomTo = zoomTo;
  Z.zoomOut = zoomOut;
  Z.pin = pin;
  $('hs-zoom').addEventListener('click', zoomOut);

  // The hot list: a row explains its place on hover and, clicked, zooms the map onto it.
  const listEl = $('hs-list');
  // The hot list and the child regions' list are fitted to their boxes when drawn; a layout
  // change between two frames of data (the alert ticker appearing at the foot of the screen, a
  // window resized) reaches them through this observer, which draws again.
  let listBoxH = -1;
  let townsBoxH = -1;
  const listBoxesFitted = () => typeof ResizeObserver !== 'function' ||
    (listBoxH === listEl.clientHeight && townsBoxH === $('hs-towns').clientHeight);
  if (typeof ResizeObserver === 'function') {
    const ro = new ResizeObserver(() => {
      if (listBoxesFitted()) return;
      listBoxH = listEl.clientHeight;
      townsBoxH = $('hs-towns').clientHeight;
      if (Z.ready) renderer.schedule(); // before, the first drawing measures them
    });
    ro.observe(listEl);
    ro.observe($('hs-towns'));
  }
  listEl.addEventListener('click', (ev) => {
    const li = ev.target.closest('li[data-code]');
    if (li && !KIOSK) zoomTo(li.dataset.code);
  });
  listEl.addEventListener('mouseover', (ev) => {
    if (KIOSK) return;
    const li = ev.target.closest('li[data-code]');
    const code = li ? li.dataset.code : '';
    if (code !== state.hover) {
      state.hover = code;
      renderer.schedule();
    }
  });
  listEl.addEventListener('mouseleave', () => {
    if (state.hover) {
      state.hover = '';
      renderer.schedule();
    }
  });

  // Kiosk screens explain the top hot spots in turn, one at a time.
  let kioskIdx = -1;
  function kioskTurn() {
    const top = state.view === 'playback' ? [] : Z.hotGrids.slice(0, CALLOUT_TOP);
    if (!top.length) {
      if (state.pin) pin('');
      return;
    }
    kioskIdx = (kioskIdx + 1) % top.length;
    pin(top[kioskIdx]);
  }
  let kioskTimer = 0;
  function startKioskTurns() {
    if (!KIOSK || kioskTimer) return;
    kioskTimer = setInterval(kioskTurn, CALLOUT_MS);
    setTimeout(kioskTurn, 1000);
  }

  // pointOf returns the client position of a child region's label point (tests click there).
  Z.pointOf = (code) => {
    const r = state.tree.regions.get(code);
    if (!r || !proj) return null;
    const p = proj.project(r.label || labelPoint(r.geometry));
    const rect = canvas.getBoundingClientRect();
    const s = rect.width / (canvas.clientWidth || 1);
    return { x: rect.left + p[0] * s, y: rect.top + p[1] * s };
  };
  // markPoint returns the client position of a cell's mark (tests click there).
  Z.markPoint = (code) => {
    const m = state.marks.find((x) => x.code === code);
    if (!m) return null;
    const rect = canvas.getBoundingClientRect();
    const s = rect.width / (canvas.clientWidth || 1);
    return { x: rect.left + m.x * s, y: rect.top + m.y * s };
  };

  function drill(code) {
    if (!state.tree.regions.has(code) || code === state.cur) return;
    setRegion(code);
  }
  function up() {
    const r = state.tree.regions.get(state.cur);
    if (!r || !r.parent) return;
    if (state.tree.regions.has(r.parent)) {
      setRegion(r.parent);
      return;
    }
    // Above the loaded tree: load the parent's (a token limited to a subtree is refused).
    getJSON(apiURL('/api/v1/regions?root=' + encodeURIComponent(r.parent) + '&depth=-1', TOKEN)).then((fc) => {
      state.tree = window.Zhili.map.regionTree(fc);
      setRegion(r.parent, true);
    }).catch((err) => console.warn('regions:', err));
  }
  Z.drill = drill;
  Z.up = up;

  // setRegion switches the region shown: topic, URL, map, period views.
  function setRegion(code, force) {
    if (code === state.cur && !force) return;
    const next = code === state.startCode ? REGION : code;
    if (next !== topicRegion) {
      topicRegion = next;
      retopic();
    }
    showRegion(code);
    syncURL();
    if (state.view === 'rest') fetchRest();
    if (state.view === 'playback') startPlayback(state.pb.from, state.pb.to, state.pb.step, state.pb.index);
  }

  function renderCrumbs() {
    const path = [];
    for (let r = state.tree.regions.get(state.cur); r; r = state.tree.regions.get(r.parent)) path.unshift(r);
    let html = path.map((r, i) => (i < path.length - 1
      ? '<button type="button" class="hs-crumb" data-code="' + esc(r.code) + '">' + esc(r.name) + '</button><i>›</i>'
      : '<b>' + esc(r.name) + '</b>')).join('');
    const cur = state.tree.regions.get(state.cur);
    const canUp = cur && cur.parent && (state.tree.regions.has(cur.parent) || !KIOSK);
    if (canUp) html += '<button type="button" id="hs-up" class="control hs-btn hs-up">' + esc(t('back')) + '</button>';
    if (Z.drillable.length) html += '<span class="control hs-hint">' + esc(t('drill_hint')) + '</span>';
    const el = $('hs-crumbs');
    if (el.innerHTML !== html) el.innerHTML = html;
  }
  $('hs-crumbs').addEventListener('click', (ev) => {
    const b = ev.target.closest('button');
    if (!b) return;
    if (b.id === 'hs-up') up();
    else if (b.dataset.code) setRegion(b.dataset.code);
  });

  // ---------------------------------------------------------------- hex outlines
  // Outlines of the topic's hex cells come from GET /api/v1/hexes, in batches, and are kept.
  function ensureHex(hex) {
    const want = Object.keys(hex).filter((id) => !state.hexGeo.has(id) && !state.hexPending.has(id) && !state.hexFailed.has(id));
    for (let i = 0; i < want.length; i += HEX_BATCH) {
      const batch = want.slice(i, i + HEX_BATCH);
      batch.forEach((id) => state.hexPending.add(id));
      fetch(apiURL('/api/v1/hexes?ids=' + batch.map(encodeURIComponent).join(','), TOKEN), { credentials: 'same-origin' })
        .then((r) => r.json().then((body) => {
          if (!r.ok) throw new Error((body.error && body.error.message) || 'HTTP ' + r.status);
          return body;
        }))
        .then((body) => {
          for (const c of body.cells || []) state.hexGeo.set(c.id, { ring: c.boundary, centre: c.centre });
          batch.forEach((id) => { state.hexPending.delete(id); if (!state.hexGeo.has(id)) state.hexFailed.add(id); });
          renderer.schedule();
        })
        .catch((err) => {
          console.warn('hexes:', err);
          batch.forEach((id) => { state.hexPending.delete(id); state.hexFailed.add(id); });
          // A failed batch is tried again later (a malformed id stays failed: the server names it).
          setTimeout(() => { batch.forEach((id) => state.hexFailed.delete(id)); renderer.schedule(); }, 10000);
        });
    }
  }
  // ---------------------------------------------------------------- what is shown
  // shownData returns the data of the view (live topic, REST view or playback frame) and the
  // level drawn, with a note when the level asked for is not available there.
  function hasPatterns(cells) {
    for (const k in cells) if (cells[k] && cells[k].pattern) return true;
    return false;
  }
  function shownData() {
    let data = null;
    if (state.view === 'live') data = state.data;
    else if (state.view === 'rest') data = state.rest && state.rest.data;
    else if (state.pb) {
      const f = state.pb.frames[state.pb.index];
      data = f && f.data ? f.data : null;
      // Emerging classes are the whole period's (from the plan query).
      if (data && mode === 'emerging' && state.pb.patterns) data = Object.assign({}, data, { grids: state.pb.patterns.grids, children: state.pb.patterns.children });
    }
    let lv = level;
    let note = '';
    if (lv === 'hex' && state.view !== 'live') { lv = 'grid'; note = t('note_hex_rest'); }
    if (mode === 'emerging') {
      if (lv === 'hex') { lv = 'grid'; note = t('note_emerging_grid'); }
      else if (lv === 'child' && data && !hasPatterns(data.children || {})) { lv = 'grid'; note = t('note_emerging_grid'); }
      if (state.view === 'playback' && !note) note = t('note_emerging_period');
    }
    return { data, level: lv, note };
  }
  function cellsOf(shown) {
    const d = shown.data || {};
    return shown.level === 'hex' ? d.hex || {} : shown.level === 'child' ? d.children || {} : d.grids || {};
  }
  function degenerateOf(shown) {
    const d = shown.data || {};
    return d[(shown.level === 'hex' ? 'hex' : shown.level === 'child' ? 'children' : 'grids') + '_degenerate'] || '';
  }

  // ---------------------------------------------------------------- side panel and legend
  let legendKey = '';
  function renderHotLegend(shown, cells) {
    let items;
    if (mode === 'emerging') {
      // Counted as the map draws them: with too little data every cell is "not enough data".
      const n = {};
      for (const k in cells) if (cells[k]) n[patternOf(cells[k])] = (n[patternOf(cells[k])] || 0) + 1;
      const order = PATTERNS.filter((p) => p.endsWith('_hot')).concat(['no_pattern'], PATTERNS.filter((p) => p.endsWith('_cold')), ['insufficient_data']);
      items = order.map((p) => ({ color: PATTERN_COLORS[p], text: t('patterns')[p], n: n[p] || 0,
        cls: p.endsWith('_cold') ? 'cold' : p === 'no_pattern' ? 'ns' : p === 'insufficient_data' ? 'insufficient' : 'hot' }));
    } else {
      items = [3, 2, 1, 0, -1, -2, -3].map((bin) => ({ color: BIN_COLORS[bin],
        text: bin === 0 ? t('legend_ns') : confOf(bin) + ' ' + (bin > 0 ? t('legend_hot') : t('legend_cold')) }));
    }
    const key = L.lang + mode + JSON.stringify(items);
    if (key === legendKey) return;
    legendKey = key;
    Z.legend = items.map((i) => i.text);
    const el = $('hs-legend');
    el.classList.toggle('emerging', mode === 'emerging');
    el.innerHTML = items.map((i) => '<span class="hs-legend-item' + (i.cls ? ' ' + i.cls : '') + (i.n === 0 ? ' zero' : '') + '"><i style="background-color:' + i.color + '"></i>' +
      esc(i.text) + (i.n !== undefined ? '<em>' + i.n + '</em>' : '') + '</span>').join('');
  }

  function renderPanels(shown) {
    const data = shown.data || {};
    const cells = cellsOf(shown);
    const counts = { 3: 0, 2: 0, 1: 0, '-1': 0, '-2': 0, '-3': 0 };
    const hot = [];
    let n = 0;
    let cases = 0;
    for (const code of Object.keys(cells)) {
      const r = cells[code];
      if (!r) continue;
      n++;
      cases += num(r.count);
      const bin = clampBin(r.bin);
      if (bin !== 0) counts[bin]++;
      if (bin > 0) hot.push({ code, count: num(r.count), z: num(r.z), bin });
    }
    hot.sort((a, b) => b.z - a.z || b.count - a.count || (a.code < b.code ? -1 : 1));
    Z.hot = hot.length;
    Z.hotGrids = hot.slice(0, 100).map((g) => g.code);
    Z.cold = counts[-1] + counts[-2] + counts[-3];
    Z.grids = Object.keys(data.grids || {}).length;
    Z.cases = cases;
    Z.levelShown = shown.level;
    Z.degenerate = data.grids_degenerate || '';
    Z.cellIds = () => Object.keys(cells); // locations of the level shown
    Z.counts = () => Object.fromEntries(Object.keys(cells).map((k) => [k, num(cells[k] && cells[k].count)])); // their cases
    Z.range = { from: data.from || '', to: data.to || '', seeded: data.seeded !== false };
    if (shown.level === 'hex') {
      Z.hexListed = Object.keys(cells).length;
      ensureHex(cells);
    } else Z.hexListed = 0;

    const suffix = shown.level === 'grid' ? '' : '_' + shown.level;
    setText($('hs-map-title'), (mode === 'emerging' ? t('map_title_emerging') : t('map_title' + suffix)) +
      (PER ? ' · ' + t('per_' + PER) : ''));
    setText(document.querySelector('.hs-panel-counts .panel-title'), t('counts_title' + suffix));
    setText(document.querySelector('.hs-panel-list .panel-title'), t('list_title' + suffix));
    setText(document.querySelector('.hs-list-head span:nth-child(2)'), t('unit_' + shown.level).replace(/^./, (c) => c.toUpperCase()));
    const kinds = state.towns.map((x) => x.kind);
    const kind = kinds.length && kinds.every((k) => k === kinds[0]) ? kinds[0] : '';
    setText(document.querySelector('.hs-panel-towns .panel-title'), (t('kind_titles') || {})[kind] || t('towns_title'));

    let rows = '';
    for (const sign of [1, -1]) {
      rows += '<tr class="' + (sign > 0 ? 'hot' : 'cold') + '"><td>' + esc(sign > 0 ? t('hot') : t('cold')) + '</td>';
      for (const lvl of [3, 2, 1]) {
        rows += '<td><i style="background:' + BIN_COLORS[sign * lvl] + '"></i><b>' + counts[sign * lvl] + '</b></td>';
      }
      rows += '<td class="sum"><b>' + (sign > 0 ? Z.hot : Z.cold) + '</b></td></tr>';
    }
    const tbody = $('hs-counts');
    if (tbody.innerHTML !== rows) tbody.innerHTML = rows;

    const summary = shown.data
      ? fmt(t('summary'), { unit: t('unit_' + shown.level), n, c: cases, fdr: data.fdr === false ? t('fdr_off') : t('fdr_on') })
      : state.view === 'live' ? t('waiting') : t('view_loading');
    setText($('hs-summary'), summary);

    let list = '';
    $('hs-list-empty').hidden = hot.length > 0;
    const trends = mode === 'emerging' && trendsShown();
    const rowsShown = [];
    // Gi* weighs a cell with its neighbours: a cell unremarkable by itself, with fewer cases than
    // the cells around it, is hot through them. Such a row is marked, and the note says why.
    // The server decides (why.through_neighbours, geo.Local.ThroughNeighbours): every hot cell
    // carries its why.
    const through = (g) => { const r = cells[g.code]; return !!(r && r.why && r.why.through_neighbours === true); };
    let flagged = 0;
    // The note takes its room from the list: the rows that fit are counted with the note in
    // place when a row it explains is among them, so that no row is cut.
    const nbNote = $('hs-list-note');
    setText(nbNote, fmt(t('nb_note'), { unit: t('unit_' + shown.level) }));
    const fit = (note) => {
      nbNote.hidden = !note;
      return Math.max(1, Math.floor(listEl.clientHeight / ROW_H));
    };
    let rowsFit = fit(false);
    if (hot.slice(0, rowsFit).some(through)) rowsFit = fit(true);
    hot.slice(0, rowsFit).forEach((g, i) => {
      const nb = through(g);
      if (nb) flagged++;
      const nm = nameOf(g.code, shown.level, cells[g.code]);
      const pat = trends ? patternOf(cells[g.code]) : '';
      const cf = pat && isTrend(pat)
        ? '<span class="cf pat"><i style="background:' + PATTERN_COLORS[pat] + '"></i>' + esc(t('patterns')[pat]) + '</span>'
        : '<span class="cf"><i style="background:' + BIN_COLORS[g.bin] + '"></i>' + confOf(g.bin) + '</span>';
      rowsShown.push({ code: g.code, name: nm.name, chain: nm.chain, count: g.count, neighbour: nb });
      list += '<li class="b' + g.bin + (state.pin === g.code ? ' on' : '') + '" data-code="' + esc(g.code) + '"><span class="no">' + (i + 1) + '</span>' +
        '<span class="nm"><b>' + esc(nm.name) + '</b>' + (nm.chain.length ? '<small>' + esc(nm.chain.join(' › ')) + '</small>' : '') + '</span>' +
        '<span class="ct">' + g.count + (nb ? '<small class="nb">' + esc(t('nb_tag')) + '</small>' : '') + '</span>' +
        '<span class="z">' + g.z.toFixed(2) + '</span>' + cf + '</li>';
    });
    if (listEl.innerHTML !== list) {
      listEl.innerHTML = list;
      fitNames(listEl);
    }
    Z.listRows = rowsShown;
    nbNote.hidden = !flagged;
    // A full list shares the room left under its rows among them (less than a row) instead of
    // leaving an empty band; a short one keeps the rows' own height.
    const rowH = rowsShown.length >= rowsFit ? Math.min(1.5 * ROW_H, Math.max(ROW_H, listEl.clientHeight / rowsFit)) : ROW_H;
    listEl.style.setProperty('--hs-row-h', rowH.toFixed(1) + 'px');
    Z.listFit = { h: listEl.clientHeight, rows: rowsShown.length, fit: rowsFit, rowH, note: !nbNote.hidden }; // for tests
    renderTowns(data.children || {});
    renderHotLegend(shown, cells);

    const deg = $('hs-degenerate');
    const reason = degenerateOf(shown);
    // Too little data says more (and what to do) than "no variance": one note, not two.
    if (shown.data && reason && !(Z.sufficiency && Z.sufficiency.ok === false)) {
      setText(deg, t('degenerate')[degenerateKey(reason)] || t('degenerate_other') + ' · ' + reason);
      deg.hidden = false;
    } else deg.hidden = true;

    let range = '';
    if (state.view === 'live' || (state.view === 'rest' && !state.rest.custom)) {
      const withDate = win !== '1h';
      // The window's last bucket ends ahead of now: the data end now, and the header says so.
      const end = Math.min(Date.parse(data.to || ''), clock.now());
      const r = data.from && Number.isFinite(end) ? clock.shortTime(data.from, withDate) + ' – ' + clock.shortTime(new Date(end).toISOString(), withDate) : '';
      range = t('window')[win] + (r ? ' · ' + r : '');
      // The window starts before the history of reports: its first part holds nothing, said.
      if (data.history_begins) range += ' · ' + fmt(t('history_from'), { t: clock.shortTime(data.history_begins, true) });
    } else if (state.view === 'rest') {
      range = periodText(state.rest.custom.from, state.rest.custom.to, ' – ');
      if (data.history_begins) range += ' · ' + fmt(t('history_from'), { t: clock.shortTime(data.history_begins, true) });
    } else if (state.pb) {
      range = state.pb.frames.length ? frameLabel(state.pb.index) : '';
    }
    setText($('hs-range'), range);
    const windowed = state.view === 'live' || (state.view === 'rest' && !state.rest.custom);
    for (const b of document.querySelectorAll('#hs-windows button')) b.classList.toggle('on', windowed && b.dataset.window === win);
    for (const b of document.querySelectorAll('#hs-levels button')) b.classList.toggle('on', b.dataset.level === level);
    for (const b of document.querySelectorAll('#hs-modes button')) b.classList.toggle('on', b.dataset.mode === mode);
    $('hs-live').hidden = state.view === 'live' || (state.view === 'rest' && !state.rest.custom);

    const note = $('hs-note');
    note.hidden = !shown.note;
    setText(note, shown.note);
    renderViewLabel();
    return hot;
  }

  // fitNames keeps every name of the hot list whole: a name too long for its column is set
  // smaller (down to 70 %), then wrapped to a second line; never cut off.
  function fitNames(el) {
    for (const n of el.querySelectorAll('.nm b, .nm small')) {
      n.style.fontSize = '';
      n.classList.remove('wrap');
      if (n.scrollWidth <= n.clientWidth + 1) continue;
      const base = parseFloat(getComputedStyle(n).fontSize) || 20;
      n.style.fontSize = Math.max(base * 0.7, (base * n.clientWidth) / n.scrollWidth - 0.2).toFixed(1) + 'px';
      if (n.scrollWidth > n.clientWidth + 1) n.classList.add('wrap');
    }
  }

  // renderTowns lists the child regions by z (Gi* among the children).
  function renderTowns(children) {
    const towns = state.towns.map((town) => {
      const ch = children[town.code];
      return { code: town.code, count: num(ch && ch.count), z: num(ch && ch.z), bin: ch ? clampBin(ch.bin) : 0, has: !!ch };
    });
    towns.sort((a, b) => b.z - a.z || b.count - a.count || (a.code < b.code ? -1 : 1));
    const el = $('hs-towns');
    const rowsFit = Math.max(1, Math.floor(el.clientHeight / TOWN_ROW_H));
    let html = '';
    towns.slice(0, rowsFit).forEach((c, i) => {
      const conf = c.bin ? confOf(c.bin) + ' ' + (c.bin > 0 ? t('hot') : t('cold')) : t('not_sig');
      html += '<li class="b' + c.bin + (kidsOf(c.code).length ? ' drill' : '') + '" data-code="' + esc(c.code) + '"><span class="no">' + (i + 1) + '</span>' +
        '<span class="nm"><b>' + esc(state.tree.name(c.code)) + '</b></span>' +
        '<span class="ct">' + c.count + '</span>' +
        '<span class="z">' + (c.has ? c.z.toFixed(2) : '—') + '</span>' +
        '<span class="cf"><i style="background:' + BIN_COLORS[c.bin] + '"></i>' + esc(conf) + '</span></li>';
    });
    if (el.innerHTML !== html) el.innerHTML = html;
  }
  $('hs-towns').addEventListener('click', (ev) => {
    const li = ev.target.closest('li.drill');
    if (li && !KIOSK) drill(li.dataset.code);
  });

  // renderViewLabel says which data is shown when it is not the whole live topic.
  function renderViewLabel() {
    const el = $('hs-view');
    let text = '';
    let cls = '';
    const cat = category ? ' · ' + L.cat(category) : '';
    if (state.view === 'rest') {
      const r = state.rest;
      if (r.custom) text = fmt(t('view_custom'), { period: periodText(r.custom.from, r.custom.to), cat });
      else text = fmt(t('view_filtered'), { cat: L.cat(category), win: t('window')[win], at: clock.timeOf(r.at) });
    } else if (state.view === 'live' && category) {
      text = fmt(t('view_filtered_live'), { cat: L.cat(category), win: t('window')[win] }) +
        (state.data && state.data.seeded === false ? ' · ' + t('view_seeding') : '');
    } else if (state.view === 'playback' && state.pb) {
      const p = state.pb;
      text = fmt(t('view_playback'), { period: periodText(p.from, p.to), step: t('step_name')[p.step] || p.step, cat });
    }
    const err = state.view === 'rest' ? state.rest.error : state.view === 'playback' && state.pb ? state.pb.error : '';
    if (err) {
      text += ' · ' + fmt(t('view_failed'), { e: err });
      cls = ' error';
    } else if (state.view === 'rest' && state.rest.loading && !state.rest.data) text += ' · ' + t('view_loading');
    el.hidden = !text;
    el.className = 'hs-view ' + state.view + cls;
    setText(el, text);
  }

  // ---------------------------------------------------------------- data sufficiency
  // The emerging classes rest on the time steps of the view (the live window's buckets, or the
  // steps of a REST query), the bins on the events of the window: with cases in only a few
  // steps every cell with one report would come out "new", with a handful of events any map of
  // significance is noise. Every reply says whether it had enough (`sufficiency`: ok, reasons,
  // steps_with_data / steps_needed, events / events_needed, advice; docs/HOTSPOTS.md, "Data
  // sufficiency"): the topic per level and for the emerging classes, a REST reply for its level.
  function textIn(lang, key) {
    const v = TEXT[lang] && TEXT[lang][key];
    return v !== undefined ? v : TEXT.zh[key];
  }
  function sufficiencyOf(shown) {
    if (!shown.data) return null;
    const d = shown.data;
    const key = shown.level === 'child' ? 'children' : shown.level === 'hex' ? 'hex' : 'grids';
    // A reply of one level has {ok, …}; the topic has one per level and one for the emerging
    // classes ({grids, children, hex, emerging}).
    const all = d[key + '_sufficiency'] || d.sufficiency;
    const s = all && typeof all === 'object' && !('ok' in all) ? all[mode === 'emerging' ? 'emerging' : key] : all;
    if (s && typeof s === 'object') {
      const out = Object.assign({}, s, { ok: s.ok !== false, source: 'reply' });
      // Confidence bins do not use time steps: only the other reasons withhold them.
      if (mode !== 'emerging' && !out.ok) {
        out.reasons = (Array.isArray(s.reasons) ? s.reasons : []).filter((r) => r !== 'too_few_steps');
        if (!out.reasons.length) return Object.assign(out, { ok: true });
      }
      return out;
    }
    return null;
  }
  function nextWindow() {
    const i = WINDOWS.indexOf(win);
    return i >= 0 && i < WINDOWS.length - 1 ? WINDOWS[i + 1] : '';
  }
  function prevWindow() {
    const i = WINDOWS.indexOf(win);
    return i > 0 ? WINDOWS[i - 1] : '';
  }
  // sufficiencyText says, in one language, what is missing and what to do.
  function sufficiencyText(s, lang) {
    const T = (k) => textIn(lang, k);
    const windowed = state.view === 'live' || (state.view === 'rest' && state.rest && !state.rest.custom);
    const span = windowed ? T('suff_span_window')[win] : T('suff_span_period');
    const reasons = Array.isArray(s.reasons) ? s.reasons : [];
    const parts = [];
    const has = (k) => typeof s[k] === 'number';
    if ((reasons.includes('too_few_steps') || !reasons.length) && has('steps_with_data') && has('steps_needed')) {
      parts.push(fmt(T('suff_steps'), { span, k: s.steps_with_data, n: s.steps_needed }));
    }
    if (reasons.includes('too_few_events') && has('events') && has('events_needed')) {
      parts.push(fmt(T('suff_events'), { span, k: s.events, n: s.events_needed }));
    }
    if (!parts.length) parts.push(fmt(T('suff_other'), { span }));
    const advice = (Array.isArray(s.advice) ? s.advice : s.advice ? [s.advice] : []).map((a) => {
      const code = typeof a === 'string' ? a : (a && (a.code || a.kind)) || '';
      const given = a && typeof a === 'object' && a.window;
      if (code === 'longer_window' || code === 'shorter_window') {
        const w = given || (windowed ? (code === 'longer_window' ? nextWindow() : prevWindow()) : '');
        if (!w) return T('advice')[code === 'longer_window' ? 'longer_period' : 'shorter_period'];
        return fmt(T('advice')[code], { w: T('advice_window')[w] || w });
      }
      return T('advice')[code] || code;
    }).filter(Boolean);
    // "a, b or c"
    const alt = advice.length > 1 ? advice.slice(0, -1).join(T('suff_and')) + T('suff_or') + advice[advice.length - 1] : advice[0] || '';
    const sep = lang === 'zh' ? '，' : '; ';
    return T('suff_head') + (lang === 'zh' ? '：' : ': ') + parts.join(sep) +
      (alt ? ' · ' + fmt(T('suff_advice'), { a: alt }) : '');
  }
  // renderSufficiency shows the banner over the map when the classes are not painted: Chinese
  // first, English under it.
  function renderSufficiency() {
    const el = $('hs-suff');
    const s = Z.sufficiency;
    if (!s || s.ok !== false) {
      el.hidden = true;
      return;
    }
    const html = '<b>' + esc(sufficiencyText(s, 'zh')) + '</b><span>' + esc(sufficiencyText(s, 'en')) + '</span>';
    if (el.innerHTML !== html) el.innerHTML = html;
    el.hidden = false;
  }

  // ---------------------------------------------------------------- rendering
  function renderHotspots() {
    const t0 = performance.now();
    try {
      if (state.dirtyLang) {
        state.dirtyLang = false;
        bar.applyLang();
      }
      const shown = shownData();
      Z.sufficiency = sufficiencyOf(shown);
      // Panels first: the degenerate note and the sufficiency banner take room from the map.
      const hot = renderPanels(shown);
      renderSufficiency(shown);
      renderPlayback();
      const ctx = drawHotspotMap(shown);
      drawHotspotLabels(shown, ctx, hot);
    } catch (err) {
      console.error('render:', err);
    }
    Z.renderMs = Math.round((performance.now() - t0) * 10) / 10; // the last render, for tests
    if (!Z.ready && state.mapReady && state.data) {
      Z.ready = true;
      Z.readyAt = performance.now();
      document.body.dataset.ready = '1';
      live.checkStale();
      startKioskTurns();
    }
  }

  // settled reports whether everything received is drawn (screenshots of tests wait for it).
  Z.settled = () => listBoxesFitted() && !renderer.pending() && state.hexPending.size === 0;
  // ---------------------------------------------------------------- REST views
  // hotspotsQuery returns GET /api/v1/hotspots for the region shown.
  function hotspotsQuery(from, to, lv, extra) {
    let q = '/api/v1/hotspots?region=' + encodeURIComponent(state.cur || REGION) + '&from=' + encodeURIComponent(from) +
      '&to=' + encodeURIComponent(to) + '&level=' + lv;
    if (category) q += '&category=' + encodeURIComponent(category);
    if (PER) q += '&per=' + PER;
    for (const k in extra || {}) q += '&' + k + '=' + encodeURIComponent(extra[k]);
    return apiURL(q, TOKEN);
  }
  function cellMap(rep) {
    const out = {};
    for (const c of rep.cells || []) out[c.code] = c;
    return out;
  }
  // periodData fetches the grid and child levels of a period as one object shaped like the topic.
  function periodData(from, to, step) {
    const extra = step ? { step } : null;
    return Promise.all([getJSON(hotspotsQuery(from, to, 'grid', extra)), getJSON(hotspotsQuery(from, to, 'child', extra))])
      .then(([g, c]) => {
        noteTz(g.from);
        return { from: g.from, to: g.to, fdr: g.fdr, steps: g.steps, grids: cellMap(g), children: cellMap(c),
          grids_degenerate: g.degenerate || '', children_degenerate: c.degenerate || '',
          grids_sufficiency: g.sufficiency || null, children_sufficiency: c.sufficiency || null };
      });
  }

  let restTimer = 0;
  // enterRest shows the REST view: a custom period ({from, to}) or, without one, the window
  // ending now (category filter), refreshed every 30 s.
  function enterRest(custom) {
    stopPlayback();
    state.view = 'rest';
    state.rest = { custom: custom || null, data: null, error: '', loading: false, at: '', seq: 0 };
    Z.view = 'rest';
    clearInterval(restTimer);
    restTimer = setInterval(() => {
      if (state.view === 'rest' && (!state.rest.custom || Date.parse(state.rest.custom.to) > Date.now() + state.skewMs)) fetchRest();
    }, REST_EVERY_MS);
    syncURL();
    fetchRest();
  }
  function fetchRest() {
    const r = state.rest;
    if (!r) return;
    const seq = ++r.seq;
    let from, to;
    if (r.custom) {
      from = r.custom.from;
      to = r.custom.to;
    } else {
      const now = Date.now() + state.skewMs;
      to = time.isoSec(now);
      from = time.isoSec(now - WINDOW_MS[win]);
    }
    let step = '';
    if (mode === 'emerging') step = r.custom ? stepFor(from, to) : WINDOW_STEP[win];
    r.loading = true;
    renderer.schedule();
    periodData(from, to, step).then((data) => {
      if (state.rest !== r || seq !== r.seq) return;
      r.data = data;
      r.error = '';
      r.loading = false;
      r.at = new Date(Date.now() + state.skewMs).toISOString();
      const cells = {};
      let total = 0;
      for (const code in data.grids) {
        cells[code] = data.grids[code].count;
        total += data.grids[code].count;
      }
      Z.rest = { region: state.cur, from, to, category, step, at: r.at, cells, total };
      renderer.schedule();
    }).catch((err) => {
      if (state.rest !== r || seq !== r.seq) return;
      r.error = err.message || String(err);
      r.loading = false;
      renderer.schedule();
    });
  }
  Z.refresh = () => { if (state.view === 'rest') fetchRest(); };
  // stepFor picks the emerging step of a custom period: about 10 to 100 steps.
  function stepFor(from, to) {
    const span = Date.parse(to) - Date.parse(from);
    if (!(span > 0) || span <= 2 * 86400e3) return '1h';
    if (span <= 20 * 86400e3) return '6h';
    return '1d';
  }

  function leaveRest() {
    clearInterval(restTimer);
    restTimer = 0;
    state.rest = null;
    Z.rest = null;
  }
  // goLive returns to the window ending now: the topic (with the category filter, if any).
  function goLive() {
    stopPlayback();
    leaveRest();
    state.view = 'live';
    Z.view = 'live';
    syncURL();
    renderer.schedule();
  }

  // ---------------------------------------------------------------- playback
  let chart = null;
  let chartDpr = 0;
  let chartKey = '';
  let pbTimer = 0;

  // startPlayback plans the frames of [from, to) with GET /api/v1/hotspots?step= (the server
  // aligns the steps in the deployment's zone), then prefetches every frame.
  function startPlayback(from, to, step, at) {
    stopPlayback();
    leaveRest();
    if (!STEPS[step]) step = '1d';
    const pb = { from, to, step, frames: [], index: Math.max(0, at || 0), playing: true, error: '', patterns: null,
      speed: state.pb ? state.pb.speed : clampNum(params.get('speed'), 1, 0.25, 8), shown: [], gen: {} };
    state.pb = pb;
    state.view = 'playback';
    Z.view = 'playback';
    syncURL();
    renderer.schedule();
    periodData(from, to, step).then((plan) => {
      if (state.pb !== pb) return;
      const steps = plan.steps || [];
      if (steps.length > MAX_FRAMES) throw new Error(steps.length + ' > ' + MAX_FRAMES + ' frames');
      pb.patterns = { grids: plan.grids, children: plan.children };
      pb.frames = steps.map((s, i) => ({
        from: i === 0 ? plan.from : s,
        to: i === steps.length - 1 ? plan.to : steps[i + 1],
        data: null, cases: 0, state: '',
      }));
      if (pb.index >= pb.frames.length) pb.index = 0;
      prefetch(pb);
      tickPlayback(pb);
      renderer.schedule();
    }).catch((err) => {
      if (state.pb !== pb) return;
      pb.error = err.message || String(err);
      renderer.schedule();
    });
  }
  function stopPlayback() {
    clearTimeout(pbTimer);
    pbTimer = 0;
    if (state.pb) state.pb.stopped = true;
    state.pb = null;
    Z.playback = null;
  }
  // prefetch loads the frames from the current one on, one at a time: a frame is two history
  // queries, and the server runs at most three of a token at once (more get 429 busy), which
  // the other screens of a wall may share. getJSON already waits out busy replies (kit.js,
  // fetchRetryBusy); one still busy after its retries is tried again later without an error on
  // the screen; other errors are shown until a frame loads again.
  function prefetch(pb) {
    const order = pb.frames.map((f, i) => (i + pb.index) % pb.frames.length);
    let running = 0;
    const next = () => {
      if (state.pb !== pb) return;
      while (running < 1) {
        const i = order.find((j) => pb.frames[j].state === '');
        if (i === undefined) return;
        const f = pb.frames[i];
        f.state = 'loading';
        running++;
        periodData(f.from, f.to, '').then((data) => {
          f.data = data;
          f.state = 'done';
          f.cases = Object.values(data.grids).reduce((s, c) => s + num(c.count), 0);
          pb.error = '';
          running--;
          next();
        }).catch((err) => {
          f.state = '';
          if (err.status === 429) pb.busy = (pb.busy || 0) + 1;
          else pb.error = err.message || String(err);
          setTimeout(() => { running--; next(); }, err.status === 429 ? Math.max(1, err.retryAfter) * 1000 : 5000);
        }).finally(() => renderer.schedule());
      }
    };
    next();
  }
  // tick advances one frame per FRAME_MS / speed while playing, waiting for frames not loaded.
  function tickPlayback(pb) {
    clearTimeout(pbTimer);
    pbTimer = setTimeout(() => {
      if (state.pb !== pb) return;
      if (pb.playing && pb.frames.length) {
        const n = (pb.index + 1) % pb.frames.length;
        if (pb.frames[pb.index].state === 'done' && pb.frames[n].state === 'done') {
          pb.index = n;
          renderer.schedule();
        }
      }
      tickPlayback(pb);
    }, FRAME_MS / pb.speed);
  }
  function seek(i) {
    const pb = state.pb;
    if (!pb || !pb.frames.length) return;
    pb.index = Math.max(0, Math.min(pb.frames.length - 1, i));
    tickPlayback(pb); // a full frame on the new position
    renderer.schedule();
  }
  Z.seek = seek;

  // frameLabel names frame i: its day, or its hours.
  function frameLabel(i) {
    const pb = state.pb;
    const f = pb && pb.frames[i];
    if (!f) return '';
    const a = Date.parse(f.from);
    if (pb.step === '1d') return clock.dayOf(a) + ' ' + t('weekdays')[clock.parts(a)[3]];
    const b = Date.parse(f.to);
    const pa = clock.parts(a);
    const pbp = clock.parts(b);
    return pad2(pa[1] + 1) + '-' + pad2(pa[2]) + ' ' + pad2(pa[4]) + ':' + pad2(pa[5]) + '–' + pad2(pbp[4]) + ':' + pad2(pbp[5]);
  }
  function axisLabel(i) {
    const f = state.pb.frames[i];
    const p = clock.parts(Date.parse(f.from));
    return state.pb.step === '1d' ? pad2(p[1] + 1) + '-' + pad2(p[2]) : (p[4] === 0 ? pad2(p[1] + 1) + '-' + pad2(p[2]) + ' ' : '') + pad2(p[4]) + ':00';
  }

  function renderPlayback() {
    const pb = state.pb;
    const box = $('hs-playback');
    const big = $('hs-frame-big');
    const on = state.view === 'playback' && !!pb;
    if (box.hidden === on) box.hidden = !on;
    document.body.classList.toggle('playback', on);
    if (!on) {
      big.hidden = true;
      return;
    }
    const n = pb.frames.length;
    const loaded = pb.frames.filter((f) => f.state === 'done').length;
    const label = n ? frameLabel(pb.index) : '';
    if (label && pb.shown[pb.shown.length - 1] !== label) {
      pb.shown.push(label);
      if (pb.shown.length > 50) pb.shown.shift();
    }
    Z.playback = { frames: n, index: pb.index, loaded, playing: pb.playing, speed: pb.speed, label, shown: pb.shown.slice(),
      error: pb.error, busy: pb.busy || 0,
      from: n ? pb.frames[pb.index].from : '', to: n ? pb.frames[pb.index].to : '', cases: n ? pb.frames[pb.index].cases : 0 };
    const counter = n ? fmt(t('frame_of'), { i: pb.index + 1, n }) + (loaded < n ? ' · ' + fmt(t('frame_loading'), { k: loaded, n }) : '') : t('view_loading');
    setText($('hs-frame'), counter);
    big.hidden = !label;
    const bigHTML = '<b>' + esc(label) + '</b><span>' + esc(n ? fmt(t('frame_of'), { i: pb.index + 1, n }) : '') + '</span>';
    if (big.innerHTML !== bigHTML) big.innerHTML = bigHTML;
    setText($('hs-play'), pb.playing ? '❚❚' : '▶');
    for (const b of document.querySelectorAll('#hs-speeds button')) b.classList.toggle('on', Number(b.dataset.speed) === pb.speed);
    const scrub = $('hs-scrub');
    if (scrub.max !== String(Math.max(0, n - 1))) scrub.max = String(Math.max(0, n - 1));
    if (document.activeElement !== scrub && scrub.value !== String(pb.index)) scrub.value = String(pb.index);
    renderTimeline(pb);
  }

  // renderTimeline draws cases per frame as bars (ECharts), the current frame marked.
  function renderTimeline(pb) {
    const el = $('hs-timeline');
    if (!window.echarts || !el.clientWidth) return;
    if (!chart) {
      chartDpr = Z.layout.dpr;
      chart = echarts.init(el, null, { renderer: 'canvas', devicePixelRatio: chartDpr });
      chart.on('click', (p) => { if (!KIOSK && typeof p.dataIndex === 'number') seek(p.dataIndex); });
      chartKey = '';
    }
    const key = L.lang + pb.index + '|' + pb.frames.map((f) => f.state + f.cases).join(',') + '|' + el.clientWidth;
    if (key === chartKey) return;
    chartKey = key;
    const labels = pb.frames.map((f, i) => axisLabel(i));
    chart.setOption({
      animation: false,
      grid: { left: 56, right: 18, top: 14, bottom: 30 },
      tooltip: { show: false },
      xAxis: { type: 'category', data: labels, axisTick: { show: false },
        axisLine: { lineStyle: { color: 'rgba(143, 178, 214, 0.5)' } },
        axisLabel: { color: '#8fb2d6', fontSize: 15, hideOverlap: true } },
      yAxis: { type: 'value', minInterval: 1, splitNumber: 2, name: '', axisLabel: { color: '#8fb2d6', fontSize: 14 },
        splitLine: { lineStyle: { color: 'rgba(64, 170, 255, 0.15)' } } },
      series: [{
        type: 'bar', name: t('chart_cases'), barCategoryGap: '25%',
        data: pb.frames.map((f, i) => ({ value: f.state === 'done' ? f.cases : 0,
          itemStyle: { color: i === pb.index ? '#ffd23f' : f.state === 'done' ? 'rgba(47, 211, 255, 0.6)' : 'rgba(143, 178, 214, 0.18)' } })),
        label: { show: pb.frames.length <= 48, position: 'top', color: '#dcefff', fontSize: 14,
          formatter: (p) => (pb.frames[p.dataIndex].state === 'done' && p.value ? String(p.value) : '') },
        markLine: pb.frames.length ? { symbol: 'none', silent: true, animation: false, label: { show: false },
          lineStyle: { color: '#ffd23f', width: 2, type: 'solid' }, data: [{ xAxis: pb.index }] } : undefined,
      }],
    }, { notMerge: true });
  }
  $('hs-play').addEventListener('click', () => {
    if (!state.pb) return;
    state.pb.playing = !state.pb.playing;
    renderer.schedule();
  });
  for (const b of document.querySelectorAll('#hs-speeds button')) {
    b.addEventListener('click', () => {
      if (!state.pb) return;
      state.pb.speed = Number(b.dataset.speed);
      tickPlayback(state.pb);
      syncURL();
      renderer.schedule();
    });
  }
  $('hs-scrub').addEventListener('input', (ev) => seek(Number(ev.target.value)));

  // ---------------------------------------------------------------- controls
  function syncURL() {
    const u = new URL(location.href);
    const set = (k, v) => (v ? u.searchParams.set(k, v) : u.searchParams.delete(k));
    set('window', win);
    set('region', topicRegion === 'root' ? '' : topicRegion);
    set('level', level === 'grid' ? '' : level);
    set('mode', mode === 'gi' ? '' : mode);
    set('category', category);
    const custom = state.view === 'rest' && state.rest && state.rest.custom;
    set('from', custom ? custom.from : '');
    set('to', custom ? custom.to : '');
    set('playback', state.view === 'playback' && state.pb ? state.pb.from + ',' + state.pb.to : '');
    set('step', state.view === 'playback' && state.pb ? state.pb.step : '');
    set('speed', state.view === 'playback' && state.pb && state.pb.speed !== 1 ? String(state.pb.speed) : '');
    try { history.replaceState(null, '', u.toString()); } catch (e) { /* ignore */ }
  }

  function setLevel(lv) {
    if (!LEVELS.includes(lv)) return;
    level = lv;
    Z.level = lv;
    state.pin = '';
    state.hover = '';
    syncURL();
    renderer.schedule();
  }
  function setMode(m) {
    if (!MODES.includes(m) || m === mode) return;
    mode = m;
    Z.mode = m;
    syncURL();
    if (state.view === 'rest') fetchRest(); // emerging classes need step=
    renderer.schedule();
  }
  function setCategory(c) {
    c = catCodes().includes(c) || c === category ? c : '';
    if (c === category) return;
    category = c;
    Z.category = c;
    $('hs-category').value = c;
    // The live view filters on the topic (cat=); a period or a playback asks the REST API.
    retopic();
    if (state.view === 'playback') startPlayback(state.pb.from, state.pb.to, state.pb.step, state.pb.index);
    else if (state.view === 'rest' && state.rest.custom) enterRest(state.rest.custom);
    else goLive();
  }
  Z.setLevel = setLevel;
  Z.setMode = setMode;
  Z.setCategory = setCategory;
  for (const b of document.querySelectorAll('#hs-levels button')) b.addEventListener('click', () => setLevel(b.dataset.level));
  for (const b of document.querySelectorAll('#hs-modes button')) b.addEventListener('click', () => setMode(b.dataset.mode));
  $('hs-category').addEventListener('change', (ev) => setCategory(ev.target.value));
  function fillCategories() {
    const sel = $('hs-category');
    const codes = catCodes();
    if (category && !codes.includes(category)) codes.push(category);
    const html = '<option value="">' + esc(t('cat_all')) + '</option>' +
      codes.map((c) => '<option value="' + esc(c) + '">' + esc(L.cat(c)) + '</option>').join('');
    if (sel.innerHTML !== html) sel.innerHTML = html;
    sel.value = category;
  }

  // The date fields: from and to are whole days, to inclusive (the query's end is the next day).
  function readPeriod() {
    const f = $('hs-from').value;
    const tv = $('hs-to').value;
    if (!f || !tv || f > tv) {
      alert(t('bad_period')); // eslint-disable-line no-alert
      return null;
    }
    return { from: f, to: time.addDays(tv, 1) };
  }
  // fillWindowDays sets the date fields to the days the window w touches, ending today.
  let filledDay = ''; // the deployment's day the live window's fields were filled on
  function fillWindowDays(w) {
    const now = clock.now();
    filledDay = state.tzMin === null ? '' : clock.dayOf(now);
    fillPeriod(clock.dayOf(now - WINDOW_MS[w]), time.addDays(clock.dayOf(now), 1));
  }
  function fillPeriod(from, to) {
    $('hs-from').value = /^\d{4}-\d\d-\d\d/.test(from) ? from.slice(0, 10) : '';
    $('hs-to').value = /^\d{4}-\d\d-\d\d$/.test(to) ? time.addDays(to, -1) : /^\d{4}-\d\d-\d\d/.test(to) ? to.slice(0, 10) : '';
  }
  $('hs-apply').addEventListener('click', () => {
    const p = readPeriod();
    if (p) enterRest(p);
  });
  $('hs-play-start').addEventListener('click', () => {
    const p = readPeriod();
    if (p) startPlayback(p.from, p.to, $('hs-step').value, 0);
  });
  $('hs-live').addEventListener('click', goLive);
  Z.enterPeriod = (from, to) => enterRest({ from, to });
  Z.startPlayback = startPlayback;

  // ---------------------------------------------------------------- title bar, clock, language
  const bar = window.Zhili.chrome.frame({
    L, clock, Z,
    title: () => (state.rootName || '') + t('title_suffix'),
    lastDataAt: () => state.lastDataAt,
    onLang() {
      fillCategories();
      legendKey = '';
      chartKey = '';
      renderCrumbs();
    },
    onSwitch() {
      state.dirtyLang = true;
      renderer.schedule();
    },
  });

  // ---------------------------------------------------------------- window switch
  // retopic moves the subscription to the topic of the region, window and category shown.
  function retopic() {
    const next = topicOf(win);
    if (next === Z.topic) return;
    send({ op: 'unsub', topic: Z.topic });
    state.topics.delete(Z.topic);
    Z.topic = next;
    state.topics.set(next, { seq: null, resyncAt: 0 });
    state.data = null;
    state.topicError = '';
    send({ op: 'sub', topic: next });
  }
  function setWindow(w) {
    if (!WINDOWS.includes(w)) return;
    if (w !== win) {
      win = w;
      Z.window = w;
      retopic();
    }
    fillWindowDays(w);
    // A window is "ending now": it leaves a custom period or playback.
    if (state.view === 'playback' || (state.view === 'rest' && state.rest.custom)) goLive();
    else if (state.view === 'rest') fetchRest();
    syncURL();
    renderer.schedule();
  }
  for (const b of document.querySelectorAll('#hs-windows button')) {
    b.addEventListener('click', () => setWindow(b.dataset.window));
  }
  Z.setWindow = setWindow;

  // ---------------------------------------------------------------- WebSocket (live.js)
  const live = window.ZhiliLive({
    state, Z, t, token: TOKEN, wsPath: '/ws', staleMs: STALE_MS, graceMs: DOWN_GRACE_MS, pingMs: PING_MS,
    backoffMin: BACKOFF_MIN, backoffMax: BACKOFF_MAX,
    apply(m) {
      state.data = m.op === 'snapshot'
        ? (m.data && typeof m.data === 'object' ? m.data : {})
        : mergePatch(state.data || {}, m.data || {});
    },
    onChange() { renderer.schedule(); },
    onTime(at, tzChanged) {
      if (tzChanged) bar.updateClock();
      bar.noteData(at);
      // A live window's date fields follow the deployment's day: known from the first message
      // (the browser's own zone may differ), and turning at midnight.
      if (state.view === 'live' && clock.dayOf(clock.now()) !== filledDay) fillWindowDays(win);
    },
  });
  const send = live.send;

  // ---------------------------------------------------------------- start
  if (KIOSK) document.body.classList.add('kiosk');
  bar.applyLang();
  window.Zhili.fitStage(stage, STAGE_W, STAGE_H, (scale, dpr) => {
    // The canvas draws at the scaled resolution, so 3840×2160 is as sharp as 1920×1080.
    Z.layout.scale = scale;
    Z.layout.dpr = dpr;
    if (chart && Math.abs(chartDpr - dpr) > 0.01) { chart.dispose(); chart = null; }
    renderer.schedule();
  });
  fillWindowDays(win);
  loadTree(REGION, () => {
    state.startCode = state.tree.top;
    showRegion(state.tree.top);
    // Start views from the URL once the region is known.
    const pbp = (params.get('playback') || '').split(',');
    const from = params.get('from') || '';
    const to = params.get('to') || '';
    if (pbp.length === 2 && PERIOD_RE.test(pbp[0]) && PERIOD_RE.test(pbp[1])) {
      fillPeriod(pbp[0], pbp[1]);
      if (STEPS[params.get('step')]) $('hs-step').value = params.get('step');
      startPlayback(pbp[0], pbp[1], params.get('step') || '1d', 0);
    } else if (PERIOD_RE.test(from) && PERIOD_RE.test(to)) {
      fillPeriod(from, to);
      enterRest({ from, to });
    }
  });
  live.connect();
  bar.startClock(live.checkStale);
})();
