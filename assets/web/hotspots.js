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
 *   ?category= one category: the page shows the REST view of the window ending now, every 30 s
 *   ?from=&to= a custom period (YYYY-MM-DD or RFC 3339, to exclusive), from the REST API
 *   ?playback=FROM,TO&step=1h|1d[&speed=1]  play the period frame by frame (TO exclusive)
 *
 * Live view: the grids (deepest regions) are coloured by their Gi* bin, or the hex cells, or the
 * child regions; child outlines and labels are drawn on top; a click on a child region with
 * subdivisions drills down to it (topic hotspots:<child>:<window>). The connection logic is the
 * overview screen's (live.js): snapshot then merge-patch deltas, seq gaps re-subscribed.
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
  const ROW_H = 42; // height of a row of the hot list (hotspots.css)
  const TOWN_ROW_H = 36; // height of a row of the child region list (hotspots.css)
  const catCodes = () => window.Zhili.texts.categories(); // the catalogue's, once it is in

  // Diverging palette by Gi* bin (reds hot, blues cold, neutral grey-blue not significant).
  const BIN_COLORS = {
    3: '#e3262f', 2: '#f26b43', 1: '#f7ac74',
    0: '#34465f',
    '-1': '#9fcdf0', '-2': '#5b9fe3', '-3': '#2f63cf',
  };
  const NO_DATA_COLOR = '#1b2a42';
  // Emerging-hotspot classes: warm hues for hot, cool hues for cold, each class its own hue.
  const PATTERNS = [
    'new_hot', 'consecutive_hot', 'intensifying_hot', 'persistent_hot', 'diminishing_hot', 'sporadic_hot', 'oscillating_hot', 'historical_hot',
    'new_cold', 'consecutive_cold', 'intensifying_cold', 'persistent_cold', 'diminishing_cold', 'sporadic_cold', 'oscillating_cold', 'historical_cold',
    'no_pattern',
  ];
  const PATTERN_COLORS = {
    new_hot: '#ff1f3d', consecutive_hot: '#ff7a1a', intensifying_hot: '#a8002a', persistent_hot: '#ff4fb0',
    diminishing_hot: '#ffb199', sporadic_hot: '#ffd23f', oscillating_hot: '#b765ff', historical_hot: '#8d5a3b',
    new_cold: '#1e8fff', consecutive_cold: '#00c9d6', intensifying_cold: '#1638c9', persistent_cold: '#7e8cff',
    diminishing_cold: '#b3e0ff', sporadic_cold: '#3ddc97', oscillating_cold: '#00887a', historical_cold: '#5d7a8c',
    no_pattern: '#34465f',
  };

  // ---------------------------------------------------------------- texts
  const TEXT = {
    zh: {
      title_suffix: '热点追踪 · Hotspots',
      map_title: '网格热点分布 · Gi*', map_title_hex: '六边形热点分布 · H3 Gi*', map_title_child: '下级区域热点分布 · Gi*',
      map_title_emerging: '时空热点模式 · Emerging',
      counts_title: '显著网格 · 按置信度', counts_title_hex: '显著六边形 · 按置信度', counts_title_child: '显著下级区域 · 按置信度',
      confidence: '置信度', hot: '热点', cold: '冷点',
      list_title: '热点网格 · 按 z 值排序', list_title_hex: '热点六边形 · 按 z 值排序', list_title_child: '热点下级区域 · 按 z 值排序',
      towns_title: '下级区域 · Gi*',
      kind_titles: { county: '区县 · Gi*', township: '乡镇（街道）· Gi*', grid: '网格 · Gi*' },
      not_sig: '不显著', rank_no: '排名', grid: '网格', count: '案件', conf_short: '置信',
      no_hot: '暂无显著热点',
      legend_hot: '热点', legend_cold: '冷点', legend_ns: '不显著', legend_conf: '置信度',
      window: { '1h': '近1小时', '24h': '近24小时', '7d': '近7天', '30d': '近30天' },
      summary: '{unit} {n} 个 · 案件 {c} 件 · {fdr}', unit_grid: '网格', unit_hex: '六边形', unit_child: '区域',
      fdr_on: 'FDR 校正', fdr_off: '未校正',
      degenerate: { no_variance: '样本无差异 · 各网格案件数相同，无法识别热点', too_few: '网格少于 3 个 · 无法识别热点' },
      degenerate_other: '无法计算统计量', total: '合计',
      level_grid: '网格', level_hex: '六边形', level_child: '下级区域',
      mode_gi: '置信度', mode_emerging: '时空模式',
      cat_all: '全部类别',
      period_from: '自', period_to: '至', apply: '查询时段', step_1h: '逐时', step_1d: '逐日', playback_btn: '回放', live_btn: '返回实时',
      view_filtered: '筛选视图 · {cat} · {win} · 每30秒刷新 · {at}',
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
        no_pattern: '无明显模式',
      },
    },
    en: {
      title_suffix: ' · Hotspot Tracking',
      map_title: 'Grid hot spots · Gi*', map_title_hex: 'Hex hot spots · H3 Gi*', map_title_child: 'Sub-region hot spots · Gi*',
      map_title_emerging: 'Emerging hot spots',
      counts_title: 'Significant grids by confidence', counts_title_hex: 'Significant hexes by confidence', counts_title_child: 'Significant sub-regions by confidence',
      confidence: 'Confidence', hot: 'Hot', cold: 'Cold',
      list_title: 'Hot grids by z-score', list_title_hex: 'Hot hexes by z-score', list_title_child: 'Hot sub-regions by z-score',
      towns_title: 'Sub-regions · Gi*',
      kind_titles: { county: 'Counties · Gi*', township: 'Townships · Gi*', grid: 'Grids · Gi*' },
      not_sig: 'n.s.', rank_no: 'No.', grid: 'Grid', count: 'Cases', conf_short: 'Conf.',
      no_hot: 'No significant hot spot',
      legend_hot: 'hot', legend_cold: 'cold', legend_ns: 'Not significant', legend_conf: 'Confidence',
      window: { '1h': 'last hour', '24h': 'last 24 h', '7d': 'last 7 days', '30d': 'last 30 days' },
      summary: '{n} {unit} · {c} cases · {fdr}', unit_grid: 'grids', unit_hex: 'hexes', unit_child: 'regions',
      fdr_on: 'FDR corrected', fdr_off: 'uncorrected',
      degenerate: { no_variance: 'No variance · every grid has the same count, no hot spot can be found', too_few: 'Fewer than 3 grids · no statistic' },
      degenerate_other: 'No statistic could be formed', total: 'Total',
      level_grid: 'Grid', level_hex: 'Hex', level_child: 'Sub-region',
      mode_gi: 'Confidence', mode_emerging: 'Emerging',
      cat_all: 'All categories',
      period_from: 'From', period_to: 'to', apply: 'Show', step_1h: 'Hourly', step_1d: 'Daily', playback_btn: 'Replay', live_btn: 'Live',
      view_filtered: 'Filtered · {cat} · {win} · refreshed every 30 s · {at}',
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
        no_pattern: 'No pattern',
      },
    },
  };

  const L = window.Zhili.texts.i18n(TEXT);
  const t = L.t;

  let win = WINDOWS.includes(params.get('window')) ? params.get('window') : '24h';
  let topicRegion = REGION; // the region part of the topic ("root" or a code)
  const topicOf = (w) => 'hotspots:' + topicRegion + ':' + w;
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
    state.mapReady = true;
    bar.updateTitle();
    renderCrumbs();
    renderer.schedule();
  }

  // ---------------------------------------------------------------- map drawing
  let proj = null; // Zhili.map.projection: lon/lat <-> stage pixels inside the canvas


  // colorOf returns the fill of a location's result in the current mode.
  function colorOf(r) {
    if (!r) return NO_DATA_COLOR;
    if (mode === 'emerging') return PATTERN_COLORS[r.pattern] || PATTERN_COLORS.no_pattern;
    return BIN_COLORS[clampBin(r.bin)];
  }

  function drawHotspotMap(shown) {
    const w = wrap.clientWidth;
    const h = wrap.clientHeight;
    const dpr = Z.layout.dpr;
    const ctx = canvasFor(canvas, w, h, dpr);
    Z.hexDrawn = 0;
    if (!state.mapReady || !state.bounds) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const pad = 24;
    proj = window.Zhili.map.projection(state.bounds, { x: pad, y: pad, w: w - 2 * pad, h: h - 2 * pad });
    const project = proj.project;
    ctx.lineJoin = 'round';

    const data = shown.data || {};
    if (shown.level === 'grid') {
      const grids = data.grids || {};
      for (const g of state.grids) {
        ctx.beginPath();
        tracePolys(ctx, g.polys, project);
        ctx.fillStyle = colorOf(grids[g.code]);
        ctx.fill('evenodd');
        ctx.lineWidth = 1;
        ctx.strokeStyle = 'rgba(200, 230, 255, 0.35)';
        ctx.stroke();
      }
    } else if (shown.level === 'child') {
      const children = data.children || {};
      for (const town of state.towns) {
        ctx.beginPath();
        tracePolys(ctx, town.polys, project);
        ctx.fillStyle = colorOf(children[town.code]);
        ctx.fill('evenodd');
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
        ctx.beginPath();
        const c = project(g.centre);
        const ext = Math.max(...g.ring.map((q) => Math.abs(project(q)[0] - c[0])));
        const grow = ext < 2.5 ? 2.5 / Math.max(ext, 0.01) : 1;
        for (let i = 0; i < g.ring.length; i++) {
          const p = project(g.ring[i]);
          const x = c[0] + (p[0] - c[0]) * grow, y = c[1] + (p[1] - c[1]) * grow;
          if (i === 0) ctx.moveTo(x, y);
          else ctx.lineTo(x, y);
        }
        ctx.closePath();
        ctx.fillStyle = BIN_COLORS[clampBin(hex[id].bin)];
        ctx.fill();
        ctx.lineWidth = 0.8;
        ctx.strokeStyle = 'rgba(2, 10, 28, 0.8)';
        ctx.stroke();
        Z.hexDrawn++;
      }
    }
    // Child outlines on top.
    ctx.lineWidth = 2.5;
    ctx.strokeStyle = '#6fdcff';
    strokeEach(ctx, state.towns, project);
    // The region outline with a glow.
    if (state.root) {
      glowOutline(ctx, state.root.polys, project, dpr);
    }
    Z.layout.renderedDpr = dpr;
  }

  // Child region labels: DOM above the canvas, sharp at any scale.
  const labelsEl = $('hs-labels');
  function drawHotspotLabels(shown) {
    const children = (shown.data && shown.data.children) || {};
    let html = '';
    if (proj && state.mapReady) {
      // Many small children (a township's grids): names only for the significant ones.
      const crowded = state.towns.length > 40;
      for (const town of state.towns) {
        const ch = children[town.code];
        const bin = ch ? clampBin(ch.bin) : 0;
        if (crowded && !bin) continue;
        const p = proj.project(town.label);
        const cls = bin > 0 ? ' hot' : bin < 0 ? ' cold' : '';
        html += '<div class="hs-town' + cls + (crowded ? ' small' : '') + '" style="left:' + p[0].toFixed(1) + 'px;top:' + p[1].toFixed(1) + 'px">' +
          '<b>' + esc(state.tree.name(town.code)) + '</b>' +
          '<span>' + esc(t('count')) + ' ' + num(ch && ch.count) + (bin ? ' · ' + esc((bin > 0 ? t('hot') : t('cold')) + ' ' + confOf(bin)) : '') + '</span></div>';
      }
    }
    if (labelsEl.innerHTML !== html) labelsEl.innerHTML = html;
  }

  // ---------------------------------------------------------------- drill-down
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
  canvas.addEventListener('click', (ev) => {
    const r = childAt(ev.clientX, ev.clientY);
    if (r && kidsOf(r.code).length) drill(r.code);
  });
  let hoverAt = 0;
  canvas.addEventListener('mousemove', (ev) => {
    if (KIOSK || performance.now() - hoverAt < 60) return;
    hoverAt = performance.now();
    const r = childAt(ev.clientX, ev.clientY);
    canvas.style.cursor = r && kidsOf(r.code).length ? 'pointer' : '';
  });
  // pointOf returns the client position of a child region's label point (tests click there).
  Z.pointOf = (code) => {
    const r = state.tree.regions.get(code);
    if (!r || !proj) return null;
    const p = proj.project(r.label || labelPoint(r.geometry));
    const rect = canvas.getBoundingClientRect();
    const s = rect.width / (canvas.clientWidth || 1);
    return { x: rect.left + p[0] * s, y: rect.top + p[1] * s };
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
      const old = topicOf(win);
      send({ op: 'unsub', topic: old });
      state.topics.delete(old);
      topicRegion = next;
      Z.topic = topicOf(win);
      state.topics.set(Z.topic, { seq: null, resyncAt: 0 });
      state.data = null;
      state.topicError = '';
      send({ op: 'sub', topic: Z.topic });
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
      const n = {};
      for (const k in cells) if (cells[k] && cells[k].pattern) n[cells[k].pattern] = (n[cells[k].pattern] || 0) + 1;
      const order = PATTERNS.filter((p) => p.endsWith('_hot')).concat(['no_pattern'], PATTERNS.filter((p) => p.endsWith('_cold')));
      items = order.map((p) => ({ color: PATTERN_COLORS[p], text: t('patterns')[p], n: n[p] || 0, cls: p.endsWith('_cold') ? 'cold' : p === 'no_pattern' ? 'ns' : 'hot' }));
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
    el.innerHTML = items.map((i) => '<span class="hs-legend-item' + (i.cls ? ' ' + i.cls : '') + (i.n === 0 ? ' zero' : '') + '"><i style="background:' + i.color + '"></i>' +
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
    if (shown.level === 'hex') {
      Z.hexListed = Object.keys(cells).length;
      ensureHex(cells);
    } else Z.hexListed = 0;

    const suffix = shown.level === 'grid' ? '' : '_' + shown.level;
    setText($('hs-map-title'), mode === 'emerging' ? t('map_title_emerging') : t('map_title' + suffix));
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
    const listEl = $('hs-list');
    $('hs-list-empty').hidden = hot.length > 0;
    const rowsFit = Math.max(1, Math.floor(listEl.clientHeight / ROW_H));
    hot.slice(0, rowsFit).forEach((g, i) => {
      let name, small = '';
      if (shown.level === 'hex') {
        const geo = state.hexGeo.get(g.code);
        const in1 = geo ? window.Zhili.map.regionAt(geo.centre, state.grids) : null;
        const town = in1 && in1.parent ? state.tree.name(in1.parent) : '';
        name = in1 ? in1.name : 'H3 ' + g.code;
        if (town && name.startsWith(town) && name.length > town.length) name = name.slice(town.length);
        small = town;
      } else {
        const r = state.tree.regions.get(g.code);
        const town = r && r.parent && r.parent !== state.cur ? state.tree.name(r.parent) : '';
        name = state.tree.name(g.code);
        // Grid names usually repeat their township's: show the township once, small.
        if (town && name.startsWith(town) && name.length > town.length) name = name.slice(town.length);
        small = town;
      }
      list += '<li class="b' + g.bin + '"><span class="no">' + (i + 1) + '</span>' +
        '<span class="nm"><b>' + esc(name) + '</b><small>' + esc(small) + '</small></span>' +
        '<span class="ct">' + g.count + '</span>' +
        '<span class="z">' + g.z.toFixed(2) + '</span>' +
        '<span class="cf"><i style="background:' + BIN_COLORS[g.bin] + '"></i>' + confOf(g.bin) + '</span></li>';
    });
    if (listEl.innerHTML !== list) listEl.innerHTML = list;
    renderTowns(data.children || {});
    renderHotLegend(shown, cells);

    const deg = $('hs-degenerate');
    const reason = degenerateOf(shown);
    if (shown.data && reason) {
      setText(deg, t('degenerate')[degenerateKey(reason)] || t('degenerate_other') + ' · ' + reason);
      deg.hidden = false;
    } else deg.hidden = true;

    let range = '';
    if (state.view === 'live' || (state.view === 'rest' && !state.rest.custom)) {
      const withDate = win !== '1h';
      const r = data.from && data.to ? clock.shortTime(data.from, withDate) + ' – ' + clock.shortTime(data.to, withDate) : '';
      range = t('window')[win] + (r ? ' · ' + r : '');
    } else if (state.view === 'rest') {
      range = periodText(state.rest.custom.from, state.rest.custom.to, ' – ');
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

  // renderViewLabel says which data is shown when it is not the live topic.
  function renderViewLabel() {
    const el = $('hs-view');
    let text = '';
    let cls = '';
    const cat = category ? ' · ' + L.cat(category) : '';
    if (state.view === 'rest') {
      const r = state.rest;
      if (r.custom) text = fmt(t('view_custom'), { period: periodText(r.custom.from, r.custom.to), cat });
      else text = fmt(t('view_filtered'), { cat: L.cat(category), win: t('window')[win], at: clock.timeOf(r.at) });
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

  // ---------------------------------------------------------------- rendering
  function renderHotspots() {
    try {
      if (state.dirtyLang) {
        state.dirtyLang = false;
        bar.applyLang();
      }
      const shown = shownData();
      // Panels first: the degenerate note takes room from the map.
      renderPanels(shown);
      renderPlayback();
      drawHotspotMap(shown);
      drawHotspotLabels(shown);
    } catch (err) {
      console.error('render:', err);
    }
    if (!Z.ready && state.mapReady && state.data) {
      Z.ready = true;
      Z.readyAt = performance.now();
      document.body.dataset.ready = '1';
      live.checkStale();
    }
  }

  // settled reports whether everything received is drawn (screenshots of tests wait for it).
  Z.settled = () => !renderer.pending() && state.hexPending.size === 0;
  // ---------------------------------------------------------------- REST views
  // hotspotsQuery returns GET /api/v1/hotspots for the region shown.
  function hotspotsQuery(from, to, lv, extra) {
    let q = '/api/v1/hotspots?region=' + encodeURIComponent(state.cur || REGION) + '&from=' + encodeURIComponent(from) +
      '&to=' + encodeURIComponent(to) + '&level=' + lv;
    if (category) q += '&category=' + encodeURIComponent(category);
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
          grids_degenerate: g.degenerate || '', children_degenerate: c.degenerate || '' };
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
  // goLive returns to the window ending now: the topic, or the filtered REST view.
  function goLive() {
    stopPlayback();
    leaveRest();
    if (category) {
      enterRest(null);
      return;
    }
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
  // prefetch loads the frames from the current one on, four at a time.
  function prefetch(pb) {
    const order = pb.frames.map((f, i) => (i + pb.index) % pb.frames.length);
    let running = 0;
    const next = () => {
      if (state.pb !== pb) return;
      while (running < 4) {
        const i = order.find((j) => pb.frames[j].state === '');
        if (i === undefined) return;
        const f = pb.frames[i];
        f.state = 'loading';
        running++;
        periodData(f.from, f.to, '').then((data) => {
          f.data = data;
          f.state = 'done';
          f.cases = Object.values(data.grids).reduce((s, c) => s + num(c.count), 0);
        }).catch((err) => {
          f.state = '';
          pb.error = err.message || String(err);
          setTimeout(next, 5000);
        }).finally(() => {
          running--;
          renderer.schedule();
          next();
        });
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
    if (state.view === 'playback') startPlayback(state.pb.from, state.pb.to, state.pb.step, state.pb.index);
    else if (state.view === 'rest' && state.rest.custom) enterRest(state.rest.custom);
    else if (c) enterRest(null);
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
  function setWindow(w) {
    if (!WINDOWS.includes(w)) return;
    if (w !== win) {
      const old = topicOf(win);
      send({ op: 'unsub', topic: old });
      state.topics.delete(old);
      win = w;
      Z.window = w;
      Z.topic = topicOf(w);
      state.topics.set(Z.topic, { seq: null, resyncAt: 0 });
      state.data = null;
      state.topicError = '';
      send({ op: 'sub', topic: Z.topic });
    }
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
  {
    const today = clock.dayOf(Date.now());
    fillPeriod(time.addDays(today, -6), time.addDays(today, 1));
  }
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
    } else if (category) enterRest(null);
  });
  live.connect();
  bar.startClock(live.checkStale);
})();
