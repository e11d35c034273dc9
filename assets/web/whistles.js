/* Zhili whistle board (吹哨报到): one WebSocket topic, whistles:<region>, drawn as a map of the
 * whistles' case points with flow lines to the county departments, a board of the active
 * whistles with each summoned department's stages and countdowns, the totals and the
 * departments' evaluation scores.
 *
 * Map: a marker per active whistle at its case's point, late ones (red) drawn last, larger and
 * ringed, the others small and dim beneath them; a line from each whistle to the node of each
 * department it summoned. Departments meet where they belong by level (sideOf: the catalogue's
 * region of the department, else its kind, 市直部门 a city's and 县直部门 a county's, matched
 * with the region kinds of the whistle's path): those of the board's own region, or of none
 * told, in a node over the map named by their kind; those of a region below it (each county's
 * 县直部门 on a city's board) in a node inside that region. Region names are placed by
 * Zhili.map.layoutLabels clear of the markers and nodes.
 *
 * Board: every active whistle, late ones first, then by the nearest open deadline, shown a page
 * at a time (as many whole cards as the board fits); the pages turn every ?boardpage= seconds,
 * "第 1/8 页" says which (a click on it turns the page) and the line beside it which whistles
 * of how many are shown.
 *
 * Page parameters:
 *   ?token=   viewer token (sent to /ws and the REST API)
 *   ?kiosk=1  hide every control (language switch, cursor)
 *   ?boardpage= seconds each page of the board shows before the next; default 15 (3 to 600); in a
 *             wall playlist (kit-chrome's ?playlist=) the board resumes at its page of the last visit
 *   ?stale=   seconds without any message (pongs count) before the feed is shown as lost; default 30
 *   ?lang=en  start in English (the 中/EN switch also remembers the choice)
 *   ?region=  region code of the topic (a token limited to a subtree needs its own region); default root
 *
 * Countdowns: the server's left_min (whole minutes, working time for working-day clocks) is
 * authoritative at each message; between messages the page counts down locally every second
 * from the deadline and the server clock (live.js keeps the skew), never below the last
 * left_min, so a paused working-day clock (night, weekend) holds instead of running on.
 *
 * For tests the page exposes window.__zhili (see the object Z) and sets
 * document.body.dataset.ready = "1" after the first full render (map drawn, snapshot in).
 */
(function () {
  'use strict';
  const { clampNum, $, esc, num, mergePatch } = window.Zhili;
  const { tracePolys, labelPoint, canvasFor, strokeEach, glowOutline } = window.Zhili.map;

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
  const REGION = /^[A-Za-z0-9._-]{1,64}$/.test(params.get('region') || '') ? params.get('region') : 'root';
  const TOPIC = 'whistles:' + REGION;
  const STAGES = ['signed', 'contacted', 'arrived'];
  const SCORE_ROW_H = 40; // height of a row of the score list (whistles.css)
  // The fewest evaluations for a department's mean score to be shown and ranked: ?min_sample=,
  // else the topic's min_sample (the audits' minimum sample): a list must not be topped by one
  // evaluation. 0: none (a server that does not send it).
  const SCORE_MIN = params.get('min_sample') ? clampNum(params.get('min_sample'), 10, 1, 1000) : 0;
  const BOARD_PAGE_MS = clampNum(params.get('boardpage'), 15, 3, 600) * 1000;
  // Heights of a board card (whistles.css .wh: padding 8 + 8 and borders 1 + 1 around the 46-pixel
  // head, then 54 pixels a department row) and the gap between cards.
  const CARD_BASE = 64;
  const CARD_ROW = 54;
  const CARD_GAP = 12;
  // Marker radii by light (stage pixels): late ones large, the others small beneath them.
  const MARK_R = { done: 5, green: 5, amber: 6.5, red: 9 };

  // Lights: whistles.css repeats these for the chips and badges.
  const LIGHT_COLORS = { green: '#2ee59d', amber: '#ffb020', red: '#ff3b4e', done: '#4aa8ff' };
  const LIGHT_RANK = { done: 0, green: 1, amber: 2, red: 3 };

  // ---------------------------------------------------------------- texts
  const TEXT = {
    zh: {
      title_suffix: '吹哨报到 · Whistle board',
      active: '在办哨', late: '超时', resolved_today: '今日办结',
      overdue_n: '仍超时 {n}', overdue_title: '其中仍有环节过了时限未完成的哨令（已超时报到的不计）',
      map_title: '哨源分布 · 乡镇吹哨 部门报到',
      hub_default: '职能部门', whistle_n: (n) => n + ' 哨', late_n: (n) => '超时 ' + n,
      hub_in: (k, county) => k + (county ? '（在各县区）' : '（在所属区域）'),
      board_title: '哨令看板 · 超时优先', shown: '第 {a}–{b} 条 · 共 {n} 条', page: '第 {p}/{n} 页',
      no_whistles: '暂无在办哨令',
      scores_title: '评哨 · 部门得分', no_scores: '暂无评价', score_n: '{n} 次', few: '样本不足', few_title: '评价 {n} 次，少于 {min} 次不排名',
      kind: { advance: '推进哨', tough: '攻坚哨', emergency: '应急哨' },
      stage: { signed: '签收', contacted: '联系', arrived: '到场' },
      light: { green: '正常', amber: '临期', red: '超时', done: '已完成' },
      blown: '吹哨', next: '下一时限', all_done: '已全部报到', unknown_kind: '未知哨种，无时限',
      left: (s) => '剩 ' + s, over: (s) => '超时 ' + s,
    },
    en: {
      title_suffix: ' · Whistle Board',
      active: 'Active', late: 'Late', resolved_today: 'Resolved today',
      overdue_n: '{n} still open', overdue_title: 'of them, whistles with a stage past its deadline and not yet done (late answers given are not counted)',
      map_title: 'Whistles · townships summon departments',
      hub_default: 'Departments', whistle_n: (n) => n + (n === 1 ? ' whistle' : ' whistles'), late_n: (n) => n + ' late',
      hub_in: (k, county) => k + (county ? ' (in each county)' : ' (in their region)'),
      board_title: 'Active whistles · late first', shown: '{a}–{b} of {n}', page: 'Page {p}/{n}',
      no_whistles: 'No active whistle',
      scores_title: 'Evaluations · by department', no_scores: 'No evaluation yet', score_n: '{n}×', few: 'Too few', few_title: 'Evaluations: {n}; fewer than {min} are not ranked',
      kind: { advance: 'Advance', tough: 'Tough', emergency: 'Emergency' },
      stage: { signed: 'Signed', contacted: 'Contacted', arrived: 'Arrived' },
      light: { green: 'on time', amber: 'due soon', red: 'late', done: 'done' },
      blown: 'Blown', next: 'Next deadline', all_done: 'All reported', unknown_kind: 'Unknown kind, no clock',
      left: (s) => s + ' left', over: (s) => s + ' overdue',
    },
  };

  const L = window.Zhili.texts.i18n(TEXT);
  const t = L.t;

  // ---------------------------------------------------------------- state exposed for tests
  const Z = {
    ready: false, // map drawn and the first snapshot rendered
    readyAt: null, // performance.now() when ready became true
    lastFrameAt: 0, // Date.now() of the last WebSocket frame
    frames: 0, // WebSocket frames received
    topic: TOPIC,
    active: 0, // active whistles in the data
    overdue: null, // totals.overdue as shown (null: not sent)
    board: [], // ids of the whistles shown on the board's page, in order
    page: { page: 0, pages: 0, first: 0, last: 0, total: 0 }, // the board's page (1-based) and the whistles on it (1-based)
    markers: 0, // whistle markers drawn on the map
    marks: [], // the markers in drawing order: {id, light, x, y, r} (map pixels)
    hubs: [], // the departments' nodes: {kind (its text), region ('' over the map), x, y, lines}
    names: [], // region names on the map: {code, x, y, w, h, leader} (map pixels)
    stale: true,
    connected: false,
    reconnects: 0,
    seq: {}, // last applied seq per topic
    errors: [], // last few {topic, code, message} errors from the server (bounded)
    layout: { scale: 1, dpr: 1, renderedDpr: 0 },
  };
  window.__zhili = Z;

  const state = {
    topics: new Map([[TOPIC, { seq: null, resyncAt: 0 }]]),
    data: null, // the topic's current state (snapshot with deltas applied)
    anchors: new Map(), // "<whistle>|<dept>|<stage>" -> {left, at (ms, server time of the message that set it)}
    tree: window.Zhili.map.regionTree(null), // the region tree (Zhili.map.regionTree)
    rootName: '',
    root: null, // the root feature
    towns: [], // level-1 features
    grids: [], // deepest-level features
    bounds: null,
    skewMs: 0,
    tzMin: null,
    lastDataAt: '',
    lastMsgAt: 0,
    downSince: performance.now(),
    mapReady: false,
    topicError: '',
    dirtyLang: false,
  };

  // ---------------------------------------------------------------- helpers
  const clock = window.Zhili.time.clock(state);
  const renderer = window.Zhili.scheduler(() => renderWhistleBoard());
  const lightOf = (l) => (LIGHT_RANK[l] !== undefined ? l : 'green');

  // ---------------------------------------------------------------- countdowns
  // noteAnchors records, for every open stage whose left_min is new or changed, the message
  // time it came with: the local countdown starts from there.
  function noteAnchors(at) {
    const atMs = Date.parse(at || '');
    const base = Number.isFinite(atMs) ? atMs : clock.now();
    const seen = new Set();
    const ws = (state.data && state.data.whistles) || {};
    for (const id of Object.keys(ws)) {
      const w = ws[id];
      if (!w || !Array.isArray(w.depts)) continue;
      for (const d of w.depts) {
        if (!d || !Array.isArray(d.stages)) continue;
        for (const s of d.stages) {
          if (!s || typeof s.left_min !== 'number' || s.reached) continue;
          const k = id + '|' + d.dept + '|' + s.stage;
          seen.add(k);
          const a = state.anchors.get(k);
          if (!a || a.left !== s.left_min || a.deadline !== s.deadline) {
            state.anchors.set(k, { left: s.left_min, deadline: s.deadline, at: base });
          }
        }
      }
    }
    for (const k of state.anchors.keys()) if (!seen.has(k)) state.anchors.delete(k);
  }

  // secondsLeft returns the seconds to the stage's deadline now (negative when late), or null
  // when the stage is closed.
  function secondsLeft(wid, dept, s) {
    if (!s || s.reached || typeof s.left_min !== 'number') return null;
    const L = s.left_min * 60;
    const a = state.anchors.get(wid + '|' + dept + '|' + s.stage);
    const dl = Date.parse(s.deadline || '');
    if (!a || !Number.isFinite(dl)) return L;
    // The seconds within the minute follow the wall clock (working-time spans are whole
    // minutes); never below the last left_min until the server says the minute passed.
    const wallAtAnchor = Math.floor((dl - a.at) / 1000);
    const phase = ((wallAtAnchor % 60) + 60) % 60;
    const elapsed = Math.max(0, Math.floor((clock.now() - a.at) / 1000));
    return Math.max(L, L + phase - elapsed);
  }

  function fmtLeft(secs) {
    const txt = window.Zhili.time.duration(secs, L.lang);
    return secs < 0 ? t('over')(txt) : t('left')(txt);
  }

  // nextOpen returns the dept's open stage with the earliest deadline (and its stage object).
  function nextOpen(d) {
    let best = null;
    for (const s of (d && Array.isArray(d.stages) ? d.stages : [])) {
      if (!s || s.reached || typeof s.left_min !== 'number') continue;
      if (!best || Date.parse(s.deadline) < Date.parse(best.deadline)) best = s;
    }
    return best;
  }

  // countdowns: data-k of a countdown element -> () => seconds or null.
  let countdowns = new Map();
  function tickCountdowns() {
    for (const el of document.querySelectorAll('[data-cd]')) {
      const f = countdowns.get(el.dataset.cd);
      const secs = f ? f() : null;
      const txt = secs === null ? el.dataset.fallback || '' : fmtLeft(secs);
      if (el.textContent !== txt) el.textContent = txt;
      if (secs !== null) el.classList.toggle('over', secs < 0);
    }
  }

  // ---------------------------------------------------------------- stage scaling
  const stage = $('stage');
  const canvas = $('wh-map');
  const wrap = $('wh-map-wrap');


  // ---------------------------------------------------------------- regions
  // placeRegions keeps the region tree: the root, its children (townships), its deepest level
  // (grids) and the bounds of all.
  function placeRegions(fc) {
    const tree = window.Zhili.map.regionTree(fc);
    const all = Array.from(tree.regions.values());
    state.tree = tree;
    state.root = tree.regions.get(tree.top) || null;
    state.towns = all.filter((r) => r.level === 1);
    state.grids = all.filter((r) => r.level === tree.deepest && r.level > 1);
    if (state.root) state.rootName = state.root.name;
    state.bounds = window.Zhili.map.boundsOf([].concat(...all.map((r) => r.polys)));
    for (const town of state.towns) town.label = labelPoint(town.geometry);
    if (state.root) state.root.label = labelPoint(state.root.geometry);
    state.mapReady = true;
    bar.updateTitle();
  }

  // pathAt returns the region of a whistle's path at a level of the map's tree ('' when none):
  // the path starts at the deployment's root, the tree at the board's region.
  function pathAt(w, level) {
    const path = Array.isArray(w.region) ? w.region.map(String) : [];
    for (const c of path) {
      const r = state.tree.regions.get(c);
      if (r && r.level === level) return c;
    }
    return '';
  }
  // townOfWhistle returns the code of the map's child region (township, or county below a city)
  // holding a whistle: the second element of its path until the tree is in.
  function townOfWhistle(w) {
    const c = pathAt(w, 1);
    if (c) return c;
    const path = Array.isArray(w.region) ? w.region : [];
    return path.length > 1 ? String(path[1]) : path.length ? String(path[0]) : '';
  }

  // ---------------------------------------------------------------- the summoned side
  // Levels of departments: the region kinds (GeoJSON property kind) and catalogue kinds of each,
  // and the kind a department of such a region is called by.
  const LEVELS = [
    { level: 'city', region: /^(city|prefecture|市|地级市)$/i, kind: /市直|市级/, name: '市直部门' },
    { level: 'county', region: /^(county|district|县|区|县级市|县区)$/i, kind: /县直|区直|县区直|县级/, name: '县直部门' },
  ];

  // levelOf returns the level ('city', 'county' or '') of a region of the tree.
  function levelOf(code) {
    const r = state.tree.regions.get(code);
    const k = r && r.kind ? String(r.kind).trim() : '';
    const lv = k ? LEVELS.find((x) => x.region.test(k)) : null;
    return lv ? lv.level : '';
  }
  // kindOfRegion is what the departments of a region of the tree are called ('' unknown).
  function kindOfRegion(code) {
    const r = state.tree.regions.get(code);
    if (r && /^(district|区)$/i.test(String(r.kind || '').trim())) return '区直部门';
    const lv = LEVELS.find((x) => x.level === levelOf(code));
    return lv ? lv.name : '';
  }

  // sideOf returns where department code, summoned by whistle w, meets: {region: a region below
  // the board's top ('' for the node over the map), kind: the department's kind ('' unknown)}.
  // The catalogue's region of the department places it; else its kind's level is looked for
  // on the whistle's path (a county's 县直部门 meets in the county of the whistle). A department
  // the catalogue does not hold is taken as one of the board's own region; until the catalogue
  // is in (or when the token may not read it) departments meet over the map, unnamed by level.
  function sideOf(w, code) {
    if (!window.Zhili.texts.catalogLoaded()) return { region: '', kind: '' };
    const e = window.Zhili.texts.departmentInfo(code);
    const regions = state.tree.regions;
    const top = state.tree.top;
    let region = '';
    let kind = (e && e.kind) || '';
    if (e && e.region) {
      if (regions.has(String(e.region))) {
        region = String(e.region);
        if (!kind) kind = kindOfRegion(region);
      }
    } else if (e) {
      const lv = LEVELS.find((x) => x.kind.test(kind));
      const path = Array.isArray(w.region) ? w.region.map(String) : [];
      if (lv) region = path.find((c) => regions.has(c) && levelOf(c) === lv.level) || '';
    } else {
      kind = kindOfRegion(top);
    }
    if (region === top) region = '';
    return { region, kind };
  }

  // regionPoint returns a region's label point (lon/lat), computed once.
  function regionPoint(code) {
    const r = state.tree.regions.get(code);
    if (!r) return null;
    if (!r.label) r.label = labelPoint(r.geometry);
    return r.label;
  }

  // ---------------------------------------------------------------- map drawing
  let proj = null;
  let mapCtx = null;
  const ANCHOR_H = 96; // room above the region for the nodes of the departments (stage pixels)
  const HUB_Y = 48; // the top nodes' point (under their names)

  // activeWhistles returns [id, whistle] of the unresolved whistles.
  function activeWhistles() {
    const ws = (state.data && state.data.whistles) || {};
    return Object.keys(ws).filter((id) => ws[id] && !ws[id].resolved).map((id) => [id, ws[id]]);
  }

  // pointOf returns a whistle's map point: its case's, else the label point of the deepest
  // region of its path on the map.
  function pointOf(w) {
    if (Array.isArray(w.point) && w.point.length === 2 && Number.isFinite(w.point[0]) && Number.isFinite(w.point[1])) return w.point;
    const path = Array.isArray(w.region) ? w.region.map(String) : [];
    for (let i = path.length - 1; i >= 0; i--) {
      if (state.tree.regions.has(path[i])) return regionPoint(path[i]);
    }
    return null;
  }

  // hubsOf returns the departments' nodes of the active whistles (top ones first, in order of
  // first use, then those in regions) and, per whistle and department, the node it joins.
  function hubsOf(act, w) {
    const hubs = new Map();
    const joins = [];
    for (const [id, wh] of act) {
      const depts = (Array.isArray(wh.depts) ? wh.depts : []).filter(Boolean);
      depts.forEach((d, i) => {
        const side = sideOf(wh, d.dept);
        const key = side.region ? 'r|' + side.region : 't|' + side.kind;
        if (!hubs.has(key)) hubs.set(key, { kind: side.kind, region: side.region, x: 0, y: 0, lines: 0 });
        hubs.get(key).lines++;
        joins.push({ id, wh, d, i, n: depts.length, key });
      });
    }
    const tops = Array.from(hubs.values()).filter((h) => !h.region);
    tops.forEach((h, i) => {
      h.x = w * (i + 1) / (tops.length + 1);
      h.y = HUB_Y;
    });
    return { hubs, joins, tops: tops.length };
  }

  function drawWhistleMap() {
    const w = wrap.clientWidth;
    const h = wrap.clientHeight;
    const dpr = Z.layout.dpr;
    const ctx = canvasFor(canvas, w, h, dpr);
    mapCtx = null;
    Z.markers = 0;
    Z.marks = [];
    Z.hubs = [];
    if (!state.mapReady || !state.bounds) return;
    mapCtx = ctx;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const act = activeWhistles();
    const { hubs, joins, tops } = hubsOf(act, w);
    // Room above the region only for nodes over the map.
    const pad = 20;
    const above = tops ? ANCHOR_H : pad;
    proj = window.Zhili.map.projection(state.bounds, { x: pad, y: above, w: w - 2 * pad, h: h - pad - above });
    const project = proj.project;
    for (const hub of hubs.values()) {
      if (!hub.region) continue;
      const p = project(regionPoint(hub.region));
      hub.x = p[0];
      hub.y = p[1];
    }
    ctx.lineJoin = 'round';

    // Townships filled dark, grids as a faint texture, the root outline glowing.
    for (const town of state.towns) {
      ctx.beginPath();
      tracePolys(ctx, town.polys, project);
      ctx.fillStyle = 'rgba(22, 58, 110, 0.85)';
      ctx.fill('evenodd');
    }
    if (!state.towns.length && state.root) {
      ctx.beginPath();
      tracePolys(ctx, state.root.polys, project);
      ctx.fillStyle = 'rgba(22, 58, 110, 0.85)';
      ctx.fill('evenodd');
    }
    ctx.lineWidth = 0.8;
    ctx.strokeStyle = 'rgba(140, 200, 255, 0.16)';
    strokeEach(ctx, state.grids, project);
    ctx.lineWidth = 2;
    ctx.strokeStyle = 'rgba(111, 220, 255, 0.75)';
    strokeEach(ctx, state.towns, project);
    if (state.root) {
      glowOutline(ctx, state.root.polys, project, dpr);
    }

    // Flow lines, one per summoned department, coloured by the department's light: the calm
    // ones thin and dim first, the late ones last, on top.
    const rank = (j) => LIGHT_RANK[lightOf(j.d.light)];
    joins.sort((a, b) => rank(a) - rank(b));
    for (const j of joins) {
      const pt = pointOf(j.wh);
      if (!pt) continue;
      const p = project(pt);
      const hub = hubs.get(j.key);
      const light = lightOf(j.d.light);
      const col = LIGHT_COLORS[light];
      const spread = (j.i - (j.n - 1) / 2);
      let cx;
      let cy;
      let ex = hub.x;
      let ey = hub.y;
      if (!hub.region) {
        cx = (p[0] + hub.x) / 2 + spread * 46 + (p[0] - hub.x) * 0.18;
        cy = Math.min(p[1], hub.y) + Math.abs(p[1] - hub.y) * 0.25;
        ex += spread * 14;
      } else {
        // A short bow, the departments of one whistle fanned.
        const dx = hub.x - p[0];
        const dy = hub.y - p[1];
        cx = (p[0] + hub.x) / 2 - dy * (0.18 + spread * 0.12);
        cy = (p[1] + hub.y) / 2 + dx * (0.18 + spread * 0.12);
      }
      ctx.save();
      ctx.beginPath();
      ctx.moveTo(p[0], p[1]);
      ctx.quadraticCurveTo(cx, cy, ex, ey);
      ctx.lineWidth = light === 'red' ? 3 : light === 'amber' ? 2 : 1.4;
      ctx.strokeStyle = col;
      ctx.globalAlpha = light === 'red' ? 0.9 : light === 'amber' ? 0.6 : 0.35;
      ctx.setLineDash(light === 'done' ? [] : [10, 7]);
      if (light === 'red') {
        ctx.shadowColor = col;
        ctx.shadowBlur = 6 * dpr;
      }
      ctx.stroke();
      ctx.restore();
    }
    // The nodes: a dot under each top one's name, a diamond in each region's.
    for (const hub of hubs.values()) {
      ctx.save();
      ctx.beginPath();
      if (hub.region) {
        ctx.moveTo(hub.x, hub.y - 9);
        ctx.lineTo(hub.x + 9, hub.y);
        ctx.lineTo(hub.x, hub.y + 9);
        ctx.lineTo(hub.x - 9, hub.y);
        ctx.closePath();
      } else {
        ctx.arc(hub.x, hub.y, 8, 0, Math.PI * 2);
      }
      ctx.fillStyle = '#2fd3ff';
      ctx.shadowColor = 'rgba(47, 211, 255, 0.9)';
      ctx.shadowBlur = 14 * dpr;
      ctx.fill();
      ctx.shadowBlur = 0;
      ctx.lineWidth = 2;
      ctx.strokeStyle = '#021025';
      ctx.stroke();
      ctx.restore();
      Z.hubs.push({ kind: hub.kind, region: hub.region, x: hub.x, y: hub.y, lines: hub.lines });
    }
    // Markers (drawn by drawMarkers, after the names' leader lines): the calm ones first, the
    // late ones last.
    const sorted = act.slice().sort((a, b) => LIGHT_RANK[lightOf(a[1].light)] - LIGHT_RANK[lightOf(b[1].light)]);
    for (const [id, wh] of sorted) {
      const pt = pointOf(wh);
      if (!pt) continue;
      const p = project(pt);
      const light = lightOf(wh.light);
      Z.marks.push({ id, light, x: p[0], y: p[1], r: MARK_R[light] });
    }
    Z.layout.renderedDpr = dpr;
  }

  // drawMarkers draws the markers of Z.marks in order: the calm ones small and dim, then amber,
  // then the late ones large and ringed, so that nothing covers them.
  function drawMarkers() {
    const ctx = mapCtx;
    if (!ctx) return;
    const dpr = Z.layout.dpr;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    for (const { light, x, y, r } of Z.marks) {
      const col = LIGHT_COLORS[light];
      const p = [x, y];
      ctx.save();
      if (light === 'red') {
        ctx.beginPath();
        ctx.arc(p[0], p[1], r + 8, 0, Math.PI * 2);
        ctx.fillStyle = col;
        ctx.globalAlpha = 0.3;
        ctx.fill();
        ctx.globalAlpha = 1;
        ctx.shadowColor = col;
        ctx.shadowBlur = 10 * dpr;
      } else {
        ctx.globalAlpha = light === 'amber' ? 0.95 : 0.8;
      }
      ctx.beginPath();
      ctx.arc(p[0], p[1], r, 0, Math.PI * 2);
      ctx.fillStyle = col;
      ctx.fill();
      ctx.shadowBlur = 0;
      ctx.lineWidth = light === 'red' ? 2.5 : 1;
      ctx.strokeStyle = light === 'red' ? '#fff' : 'rgba(2, 16, 37, 0.8)';
      ctx.stroke();
      ctx.restore();
      Z.markers++;
    }
  }

  // Labels: DOM above the canvas: the top nodes' names, and the region names with their
  // whistle counts, placed by layoutLabels clear of the markers and the nodes (a name that
  // finds no room near its region moves out on a leader line).
  const labelsEl = $('wh-labels');
  function drawWhistleLabels() {
    let html = '';
    const items = [];
    if (proj) {
      const project = proj.project;
      const perTown = new Map();
      for (const [, wh] of activeWhistles()) {
        const c = perTown.get(townOfWhistle(wh)) || { n: 0, late: 0 };
        c.n++;
        if (wh.late) c.late++;
        perTown.set(townOfWhistle(wh), c);
      }
      for (const hub of Z.hubs) {
        if (hub.region) continue;
        const kind = hub.kind || t('hub_default');
        html += '<div class="wh-anchor" data-id="hub|' + esc(kind) + '" style="left:' + hub.x.toFixed(1) + 'px">' +
          esc(window.Zhili.texts.departmentKind(kind, L.lang)) + '</div>';
      }
      const area = (r) => Math.max(0, (r.bbox[2] - r.bbox[0]) * (r.bbox[3] - r.bbox[1]));
      const biggest = Math.max(1e-12, ...state.towns.map(area));
      for (const town of state.towns) {
        const p = project(town.label);
        const c = perTown.get(town.code) || { n: 0, late: 0 };
        html += '<div class="wh-town' + (c.n ? ' has' : '') + '" data-id="' + esc(town.code) + '">' +
          '<b>' + esc(state.tree.name(town.code)) + '</b>' +
          (c.n ? '<span>' + esc(t('whistle_n')(c.n)) + (c.late ? '<em>' + esc(t('late_n')(c.late)) + '</em>' : '') + '</span>' : '') + '</div>';
        items.push({ id: town.code, x: p[0], y: p[1], leader: true, r: 10, priority: c.late * 1000 + c.n * 10 + 9 * area(town) / biggest });
      }
    }
    if (labelsEl.innerHTML !== html) labelsEl.innerHTML = html;
    Z.names = [];
    if (!proj) return;
    const els = new Map();
    for (const el of labelsEl.querySelectorAll('.wh-town')) els.set(el.dataset.id, el);
    for (const it of items) {
      const el = els.get(it.id);
      it.w = el ? el.offsetWidth : 0;
      it.h = el ? el.offsetHeight : 0;
    }
    // What names keep clear of: the top nodes' names, the nodes, the late markers (always),
    // then the other markers when there is room.
    const must = [];
    // (.wh-anchor is centred on its left by a transform, which offsetLeft leaves out.)
    for (const el of labelsEl.querySelectorAll('.wh-anchor')) must.push([el.offsetLeft - el.offsetWidth / 2, el.offsetTop, el.offsetWidth, el.offsetHeight]);
    for (const hub of Z.hubs) must.push([hub.x - 11, hub.y - 11, 22, 22]);
    const calm = [];
    for (const m of Z.marks) {
      if (m.light === 'red') must.push([m.x - m.r - 3, m.y - m.r - 3, 2 * m.r + 6, 2 * m.r + 6]);
      else calm.push([m.x - m.r - 1, m.y - m.r - 1, 2 * m.r + 2, 2 * m.r + 2]);
    }
    const bounds = [4, 4, wrap.clientWidth - 4, wrap.clientHeight - 4];
    const layout = window.Zhili.map.layoutLabels;
    const placed = [];
    const boxesOf = (list) => list.map((b) => [b.x - 3, b.y - 3, b.w + 6, b.h + 6]);
    let rest = items;
    for (const [obstacles, rings] of [[must.concat(calm), 3], [must, 3], [must, 6]]) {
      if (!rest.length) break;
      const lay = layout(rest, { bounds, obstacles: obstacles.concat(boxesOf(placed)), pad: 3, ringStep: 24, rings });
      placed.push(...lay.placed);
      const dropped = new Set(lay.dropped);
      rest = rest.filter((it) => dropped.has(it.id));
    }
    const shown = new Set();
    for (const b of placed) {
      const el = els.get(b.id);
      if (!el) continue;
      shown.add(b.id);
      el.style.left = b.x.toFixed(1) + 'px';
      el.style.top = b.y.toFixed(1) + 'px';
      el.style.visibility = 'visible';
      Z.names.push({ code: b.id, x: b.x, y: b.y, w: b.w, h: b.h, leader: !!b.leader });
    }
    for (const [id, el] of els) if (!shown.has(id)) el.style.visibility = 'hidden';
    // Leader lines, on the canvas under the names.
    if (mapCtx) {
      mapCtx.save();
      mapCtx.setTransform(Z.layout.dpr, 0, 0, Z.layout.dpr, 0, 0);
      mapCtx.strokeStyle = 'rgba(191, 228, 255, 0.7)';
      mapCtx.lineWidth = 1.5;
      for (const b of placed) {
        if (!b.leader) continue;
        const [ax, ay, bx, by] = b.leader;
        mapCtx.beginPath();
        mapCtx.moveTo(ax, ay);
        mapCtx.lineTo(bx, by);
        mapCtx.stroke();
      }
      mapCtx.restore();
    }
  }

  function renderLights() {
    const items = ['green', 'amber', 'red', 'done'].map((l) =>
      '<span class="wh-legend-item"><i style="background:' + LIGHT_COLORS[l] + '"></i>' + esc(t('light')[l]) + '</span>');
    // The nodes inside regions, named by their departments' kind.
    const kinds = new Map();
    for (const hub of Z.hubs) {
      if (!hub.region) continue;
      const k = hub.kind || t('hub_default');
      kinds.set(k, (kinds.has(k) ? kinds.get(k) : true) && levelOf(hub.region) === 'county');
    }
    for (const [k, county] of kinds) {
      items.push('<span class="wh-legend-item wh-legend-hub" data-kind="' + esc(k) + '"><i></i>' +
        esc(t('hub_in')(window.Zhili.texts.departmentKind(k, L.lang), county)) + '</span>');
    }
    const html = items.join('');
    if ($('wh-legend').innerHTML !== html) $('wh-legend').innerHTML = html;
  }

  // ---------------------------------------------------------------- board
  function renderTotals() {
    const tot = (state.data && state.data.totals) || {};
    const set = (id, v) => {
      const b = document.querySelector('#' + id + ' b');
      const txt = state.data ? String(num(v)) : '–';
      if (b.textContent !== txt) b.textContent = txt;
    };
    set('total-active', tot.active);
    set('total-late', tot.late);
    set('total-resolved', tot.resolved_today);
    $('total-late').classList.toggle('on', num(tot.late) > 0);
    // 仍超时: the late whistles still waiting for an answer past its deadline (a server that
    // sends totals.overdue); the others were answered, late.
    const od = $('total-overdue');
    const hasOD = !!state.data && typeof tot.overdue === 'number';
    const odText = hasOD ? t('overdue_n').replace('{n}', String(tot.overdue)) : '';
    od.hidden = !hasOD;
    if (od.textContent !== odText) od.textContent = odText;
    od.title = hasOD ? t('overdue_title') : '';
    Z.overdue = hasOD ? tot.overdue : null;
  }

  function sortedActive() {
    const list = activeWhistles();
    const dl = (w) => {
      const ms = Date.parse(w.next_deadline || '');
      return Number.isFinite(ms) ? ms : Infinity;
    };
    list.sort((a, b) => (b[1].late ? 1 : 0) - (a[1].late ? 1 : 0) || dl(a[1]) - dl(b[1]) ||
      String(a[1].blown).localeCompare(String(b[1].blown)) || (a[0] < b[0] ? -1 : 1));
    return list;
  }

  function chipHTML(s) {
    const light = lightOf(s.light);
    let sub;
    if (s.reached) sub = '✓ ' + clock.shortTime(s.reached, clock.now());
    else sub = clock.shortTime(s.deadline, clock.now());
    return '<span class="chip l-' + light + (s.late ? ' late' : '') + '" data-stage="' + esc(s.stage) + '" data-light="' + light + '">' +
      '<b>' + esc(t('stage')[s.stage] || s.stage) + '</b><small>' + esc(sub) + '</small></span>';
  }

  const boardEl = $('wh-board');
  const pageEl = $('wh-pager');
  const pageBarEl = $('wh-page-bar');
  // In a wall playlist (?playlist=) the screen is left and loaded again every interval: the
  // board resumes at the page it was on (kept for the browser tab), so every page comes in turn
  // however many pages and however short the visits.
  const IN_PLAYLIST = (params.get('playlist') || '').split(',').filter(Boolean).length > 1;
  const PAGE_KEY = 'zhili.whistles.page:' + REGION;
  function savedPage() {
    try { return IN_PLAYLIST ? Math.max(0, Math.floor(Number(sessionStorage.getItem(PAGE_KEY)) || 0)) : 0; } catch (e) { return 0; }
  }
  function savePage() {
    try { if (IN_PLAYLIST) sessionStorage.setItem(PAGE_KEY, String(board.page)); } catch (e) { /* storage may be forbidden */ }
  }
  const board = { page: savedPage(), pages: 1, timer: 0 };

  // cardHeight is the height of a whistle's card on the board (whistles.css).
  function cardHeight(w) {
    return CARD_BASE + CARD_ROW * (Array.isArray(w.depts) ? w.depts.filter(Boolean).length : 0);
  }

  // paginate cuts the sorted list into pages of as many whole cards as a board of height boxH
  // holds (a card taller than the board has a page of its own).
  function paginate(list, boxH) {
    const pages = [];
    let cur = [];
    let used = 0;
    for (const item of list) {
      const h = cardHeight(item[1]);
      if (cur.length && used + CARD_GAP + h > boxH) {
        pages.push(cur);
        cur = [];
        used = 0;
      }
      used += (cur.length ? CARD_GAP : 0) + h;
      cur.push(item);
    }
    if (cur.length) pages.push(cur);
    return pages;
  }

  // turnPage shows the next page (or the one step away), and the one after it BOARD_PAGE_MS later.
  function turnPage(step) {
    clearTimeout(board.timer);
    if (board.pages > 1) board.page = (board.page + (step === undefined ? 1 : step) + board.pages) % board.pages;
    renderBoard();
    savePage();
    restartPageBar();
    board.timer = setTimeout(() => turnPage(1), BOARD_PAGE_MS);
  }
  // restartPageBar runs the bar that fills until the next page.
  function restartPageBar() {
    const bar = pageBarEl.firstElementChild;
    bar.style.animation = 'none';
    void bar.offsetWidth;
    // important: a still screen (html.still) stops other animations, not this one.
    bar.style.setProperty('animation', 'wh-page-fill ' + BOARD_PAGE_MS + 'ms steps(' + Math.round(BOARD_PAGE_MS / 1000) + ') forwards', 'important');
  }

  function renderBoard() {
    const list = sortedActive();
    const boxH = boardEl.clientHeight || Infinity;
    const pages = paginate(list, boxH);
    board.pages = Math.max(1, pages.length);
    // (Before the first snapshot and the board's layout the number of pages is unknown: a
    // resumed page waits for them.)
    if (board.page >= board.pages && state.data && boardEl.clientHeight > 0) board.page = 0;
    let first = 0;
    for (let i = 0; i < board.page && i < pages.length; i++) first += pages[i].length;
    const onPage = pages[board.page] || [];
    const cds = new Map();
    let html = '';
    for (const [id, w] of onPage) {
      const depts = Array.isArray(w.depts) ? w.depts : [];
      const light = lightOf(w.light);
      const wkey = 'w|' + id;
      cds.set(wkey, () => {
        let best = null;
        for (const d of depts) {
          const s = nextOpen(d);
          const v = s ? secondsLeft(id, d.dept, s) : null;
          if (v !== null && (best === null || v < best)) best = v;
        }
        return best;
      });
      let rows = '';
      for (const d of depts) {
        if (!d) continue;
        const dl = lightOf(d.light);
        let chips;
        let cd = '';
        if (d.error) {
          chips = '<span class="wh-err">' + esc(t('unknown_kind')) + '</span>';
        } else {
          const stages = Array.isArray(d.stages) ? d.stages.slice() : [];
          stages.sort((a, b) => STAGES.indexOf(a.stage) - STAGES.indexOf(b.stage));
          chips = stages.map(chipHTML).join('');
          const s = nextOpen(d);
          const k = 'd|' + id + '|' + d.dept;
          if (s) {
            cds.set(k, () => secondsLeft(id, d.dept, s));
            cd = '<span class="cd l-' + dl + '"><small>' + esc(t('stage')[s.stage] || s.stage) + '</small><em data-cd="' + esc(k) + '"></em></span>';
          } else {
            cd = '<span class="cd l-done"><em>' + esc(t('all_done')) + '</em></span>';
          }
        }
        const sc = typeof d.score === 'number' ? '<span class="sc">★' + d.score + '</span>' : '<span class="sc"></span>';
        rows += '<div class="wh-dept l-' + dl + '" data-dept="' + esc(d.dept) + '" data-light="' + dl + '">' +
          '<span class="dn"><i></i>' + esc(L.dept(d.dept)) + '</span>' +
          '<span class="chips">' + chips + '</span>' + cd + sc + '</div>';
      }
      const town = townOfWhistle(w);
      // Where the map's children are counties (a city's board), the township too.
      let place = town ? state.tree.name(town) : '';
      const sub = state.tree.deepest >= 3 ? pathAt(w, 2) : '';
      if (sub) place += ' · ' + state.tree.name(sub);
      html += '<li class="wh l-' + light + (w.late ? ' late' : '') + '" data-id="' + esc(id) + '" data-light="' + light + '">' +
        '<div class="wh-head">' +
        '<span class="kind k-' + esc(w.kind) + '">' + esc(t('kind')[w.kind] || w.kind || '?') + '</span>' +
        '<b class="town">' + esc(place) + '</b>' +
        '<span class="cat">' + esc(L.cat(w.category)) + '</span>' +
        '<span class="blown">' + esc(t('blown')) + ' ' + esc(clock.shortTime(w.blown, clock.now())) + '</span>' +
        '<span class="wcd"><em data-cd="' + esc(wkey) + '" data-fallback="' + esc(t('all_done')) + '"></em></span>' +
        '</div>' + rows + '</li>';
    }
    countdowns = cds;
    if (boardEl.innerHTML !== html) boardEl.innerHTML = html;
    Z.board = onPage.map(([id]) => id);
    Z.active = list.length;
    Z.page = { page: board.page + 1, pages: pages.length, first: onPage.length ? first + 1 : 0, last: first + onPage.length, total: list.length };
    $('wh-board-empty').hidden = list.length > 0;
    $('wh-board-empty').textContent = state.data ? t('no_whistles') : t('waiting');
    const shown = list.length ? t('shown').replace('{a}', first + 1).replace('{b}', first + onPage.length).replace('{n}', list.length) : '';
    if ($('wh-shown').textContent !== shown) $('wh-shown').textContent = shown;
    const pg = t('page').replace('{p}', board.page + 1).replace('{n}', board.pages);
    if (pageEl.textContent !== pg) pageEl.textContent = pg;
    pageEl.hidden = board.pages < 2;
    pageBarEl.hidden = board.pages < 2;
    tickCountdowns();
  }

  function renderScores() {
    const ws = (state.data && state.data.whistles) || {};
    const per = new Map();
    for (const id of Object.keys(ws)) {
      const w = ws[id];
      for (const d of (w && Array.isArray(w.depts) ? w.depts : [])) {
        if (!d || typeof d.score !== 'number') continue;
        const e = per.get(d.dept) || { dept: d.dept, sum: 0, n: 0 };
        e.sum += d.score;
        e.n++;
        per.set(d.dept, e);
      }
    }
    // Departments with enough evaluations by mean score, then the others by count, their mean
    // not shown (样本不足).
    const minN = SCORE_MIN || num(state.data && state.data.min_sample);
    const rows = Array.from(per.values()).map((e) => ({ dept: e.dept, mean: e.sum / e.n, n: e.n, few: e.n < minN }));
    rows.sort((a, b) => (a.few - b.few) || (a.few ? 0 : b.mean - a.mean) || b.n - a.n || (a.dept < b.dept ? -1 : 1));
    const el = $('wh-scores');
    const fitN = Math.max(1, Math.floor(el.clientHeight / SCORE_ROW_H)) * 2; // two columns
    let html = '';
    for (const r of rows.slice(0, fitN)) {
      const n = esc(t('score_n').replace('{n}', r.n));
      if (r.few) {
        html += '<li data-dept="' + esc(r.dept) + '" class="few" title="' + esc(t('few_title').replace('{n}', r.n).replace('{min}', minN)) + '">' +
          '<span class="nm">' + esc(L.dept(r.dept)) + '</span><span class="st">' + esc(t('few')) + '</span><b>—</b><small>' + n + '</small></li>';
        continue;
      }
      const full = Math.round(r.mean);
      const stars = '★'.repeat(full) + '<s>' + '★'.repeat(Math.max(0, 5 - full)) + '</s>';
      html += '<li data-dept="' + esc(r.dept) + '"><span class="nm">' + esc(L.dept(r.dept)) + '</span>' +
        '<span class="st">' + stars + '</span><b>' + r.mean.toFixed(1) + '</b>' +
        '<small>' + n + '</small></li>';
    }
    if (el.innerHTML !== html) el.innerHTML = html;
    $('wh-scores-empty').hidden = rows.length > 0;
    Z.scores = rows.length;
    Z.scoresFew = rows.filter((r) => r.few).length;
  }

  // ---------------------------------------------------------------- rendering
  function renderWhistleBoard() {
    try {
      if (state.dirtyLang) {
        state.dirtyLang = false;
        bar.applyLang();
      }
      renderTotals();
      renderBoard();
      renderScores();
      drawWhistleMap();
      drawWhistleLabels();
      drawMarkers();
      renderLights();
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

  Z.settled = () => !renderer.pending();

  // ---------------------------------------------------------------- title bar, clock, language
  const bar = window.Zhili.chrome.frame({
    L, clock, Z,
    title: () => (state.rootName || '') + t('title_suffix'),
    lastDataAt: () => state.lastDataAt,
    onLang: renderLights,
    onSwitch() {
      state.dirtyLang = true;
      renderer.schedule();
    },
  });

  // ---------------------------------------------------------------- WebSocket (live.js)
  const live = window.ZhiliLive({
    state, Z, t, token: TOKEN, wsPath: '/ws', staleMs: STALE_MS, graceMs: DOWN_GRACE_MS, pingMs: PING_MS,
    backoffMin: BACKOFF_MIN, backoffMax: BACKOFF_MAX,
    apply(m) {
      state.data = m.op === 'snapshot'
        ? (m.data && typeof m.data === 'object' ? m.data : {})
        : mergePatch(state.data || {}, m.data || {});
      noteAnchors(m.at);
    },
    onChange() { renderer.schedule(); },
    onTime(at, tzChanged) {
      if (tzChanged) bar.updateClock();
      bar.noteData(at);
    },
  });

  // ---------------------------------------------------------------- start
  if (KIOSK) document.body.classList.add('kiosk');
  bar.applyLang();
  window.Zhili.fitStage(stage, STAGE_W, STAGE_H, (scale, dpr) => {
    // The canvas draws at the scaled resolution, so 3840×2160 is as sharp as 1920×1080.
    Z.layout.scale = scale;
    Z.layout.dpr = dpr;
    renderer.schedule();
  });
  window.Zhili.map.loadRegionTree(REGION, TOKEN, BACKOFF_MAX, (fc) => {
    placeRegions(fc);
    $('map-status').hidden = true;
    renderer.schedule();
  }, () => bar.setI18n($('map-status'), 'map_failed'));
  pageEl.addEventListener('click', () => turnPage(1));
  board.timer = setTimeout(() => turnPage(1), BOARD_PAGE_MS);
  live.connect();
  bar.startClock(() => {
    live.checkStale();
    tickCountdowns();
  });
})();
