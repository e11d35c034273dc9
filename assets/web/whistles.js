/* Zhili whistle board (吹哨报到): one WebSocket topic, whistles:<region>, drawn as a map of the
 * whistles' case points with flow lines to the county departments, a board of the active
 * whistles with each summoned department's stages and countdowns, the totals and the
 * departments' evaluation scores.
 *
 * Page parameters:
 *   ?token=   viewer token (sent to /ws and the REST API)
 *   ?kiosk=1  hide every control (language switch, cursor)
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

  // Lights: whistles.css repeats these for the chips and badges.
  const LIGHT_COLORS = { green: '#2ee59d', amber: '#ffb020', red: '#ff3b4e', done: '#4aa8ff' };
  const LIGHT_RANK = { done: 0, green: 1, amber: 2, red: 3 };

  // ---------------------------------------------------------------- texts
  const TEXT = {
    zh: {
      title_suffix: '吹哨报到 · Whistle board',
      active: '在办哨', late: '超时', resolved_today: '今日办结',
      map_title: '哨源分布 · 乡镇吹哨 部门报到',
      anchor: '县直部门', whistle_n: (n) => n + ' 哨',
      board_title: '哨令看板 · 超时优先', more: '另有 {n} 条未显示',
      no_whistles: '暂无在办哨令',
      scores_title: '评哨 · 部门得分', no_scores: '暂无评价', score_n: '{n} 次',
      kind: { advance: '推进哨', tough: '攻坚哨', emergency: '应急哨' },
      stage: { signed: '签收', contacted: '联系', arrived: '到场' },
      light: { green: '正常', amber: '临期', red: '超时', done: '已完成' },
      blown: '吹哨', next: '下一时限', all_done: '已全部报到', unknown_kind: '未知哨种，无时限',
      left: (s) => '剩 ' + s, over: (s) => '超时 ' + s,
      d: '天', h: '时', m: '分', s: '秒',
    },
    en: {
      title_suffix: ' · Whistle Board',
      active: 'Active', late: 'Late', resolved_today: 'Resolved today',
      map_title: 'Whistles · townships summon departments',
      anchor: 'County departments', whistle_n: (n) => n + (n === 1 ? ' whistle' : ' whistles'),
      board_title: 'Active whistles · late first', more: '{n} more not shown',
      no_whistles: 'No active whistle',
      scores_title: 'Evaluations · by department', no_scores: 'No evaluation yet', score_n: '{n}×',
      kind: { advance: 'Advance', tough: 'Tough', emergency: 'Emergency' },
      stage: { signed: 'Signed', contacted: 'Contacted', arrived: 'Arrived' },
      light: { green: 'on time', amber: 'due soon', red: 'late', done: 'done' },
      blown: 'Blown', next: 'Next deadline', all_done: 'All reported', unknown_kind: 'Unknown kind, no clock',
      left: (s) => s + ' left', over: (s) => s + ' overdue',
      d: 'd ', h: 'h ', m: 'm ', s: 's',
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
    board: [], // ids of the whistles shown on the board, in order
    markers: 0, // whistle markers drawn on the map
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
    const txt = window.Zhili.time.duration(secs, { d: t('d'), h: t('h'), m: t('m'), s: t('s') });
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

  // townOfWhistle returns the township code of a whistle: the second element of its region path.
  function townOfWhistle(w) {
    const path = Array.isArray(w.region) ? w.region : [];
    return path.length > 1 ? String(path[1]) : path.length ? String(path[0]) : '';
  }

  // ---------------------------------------------------------------- map drawing
  let proj = null;
  const ANCHOR_H = 96; // room above the region for the departments' node (stage pixels)

  // activeWhistles returns [id, whistle] of the unresolved whistles.
  function activeWhistles() {
    const ws = (state.data && state.data.whistles) || {};
    return Object.keys(ws).filter((id) => ws[id] && !ws[id].resolved).map((id) => [id, ws[id]]);
  }

  // pointOf returns a whistle's map point: its case's, else its township's label point.
  function pointOf(w) {
    if (Array.isArray(w.point) && w.point.length === 2 && Number.isFinite(w.point[0]) && Number.isFinite(w.point[1])) return w.point;
    const town = state.towns.find((x) => x.code === townOfWhistle(w));
    return town ? town.label : null;
  }

  function drawWhistleMap() {
    const w = wrap.clientWidth;
    const h = wrap.clientHeight;
    const dpr = Z.layout.dpr;
    const ctx = canvasFor(canvas, w, h, dpr);
    Z.markers = 0;
    if (!state.mapReady || !state.bounds) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const pad = 20;
    proj = window.Zhili.map.projection(state.bounds, { x: pad, y: ANCHOR_H, w: w - 2 * pad, h: h - pad - ANCHOR_H });
    const project = proj.project;
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

    // The county departments' node, top centre.
    const anchor = [w / 2, 34];
    const act = activeWhistles();
    // Flow lines: one per summoned department, fanned, coloured by the department's light.
    for (const [, wh] of act) {
      const pt = pointOf(wh);
      if (!pt) continue;
      const p = project(pt);
      const depts = Array.isArray(wh.depts) ? wh.depts : [];
      const n = Math.max(1, depts.length);
      depts.forEach((d, i) => {
        const spread = (i - (n - 1) / 2) * 46;
        const cx = (p[0] + anchor[0]) / 2 + spread + (p[0] - anchor[0]) * 0.18;
        const cy = Math.min(p[1], anchor[1]) + Math.abs(p[1] - anchor[1]) * 0.25;
        const col = LIGHT_COLORS[lightOf(d && d.light)];
        ctx.save();
        ctx.beginPath();
        ctx.moveTo(p[0], p[1]);
        ctx.quadraticCurveTo(cx, cy, anchor[0] + spread * 0.3, anchor[1] + 14);
        ctx.lineWidth = 3;
        ctx.strokeStyle = col;
        ctx.globalAlpha = 0.85;
        ctx.setLineDash(d && d.light === 'done' ? [] : [10, 7]);
        ctx.shadowColor = col;
        ctx.shadowBlur = 6 * dpr;
        ctx.stroke();
        ctx.restore();
      });
    }
    // Anchor node.
    ctx.save();
    ctx.beginPath();
    ctx.arc(anchor[0], anchor[1] + 14, 9, 0, Math.PI * 2);
    ctx.fillStyle = '#2fd3ff';
    ctx.shadowColor = 'rgba(47, 211, 255, 0.9)';
    ctx.shadowBlur = 16 * dpr;
    ctx.fill();
    ctx.restore();
    // Markers: most urgent drawn last (on top).
    const sorted = act.slice().sort((a, b) => LIGHT_RANK[lightOf(a[1].light)] - LIGHT_RANK[lightOf(b[1].light)]);
    for (const [, wh] of sorted) {
      const pt = pointOf(wh);
      if (!pt) continue;
      const p = project(pt);
      const col = LIGHT_COLORS[lightOf(wh.light)];
      ctx.save();
      ctx.beginPath();
      ctx.arc(p[0], p[1], 20, 0, Math.PI * 2);
      ctx.fillStyle = col;
      ctx.globalAlpha = 0.25;
      ctx.fill();
      ctx.restore();
      ctx.beginPath();
      ctx.arc(p[0], p[1], 10, 0, Math.PI * 2);
      ctx.fillStyle = col;
      ctx.fill();
      ctx.lineWidth = 2.5;
      ctx.strokeStyle = '#fff';
      ctx.stroke();
      Z.markers++;
    }
    Z.layout.renderedDpr = dpr;
  }

  // Labels: DOM above the canvas (township names with their whistle counts, the departments' node).
  const labelsEl = $('wh-labels');
  function drawWhistleLabels() {
    let html = '';
    if (proj) {
      const project = proj.project;
      const perTown = new Map();
      for (const [, wh] of activeWhistles()) perTown.set(townOfWhistle(wh), (perTown.get(townOfWhistle(wh)) || 0) + 1);
      for (const town of state.towns) {
        const p = project(town.label);
        const n = perTown.get(town.code) || 0;
        html += '<div class="wh-town' + (n ? ' has' : '') + '" style="left:' + p[0].toFixed(1) + 'px;top:' + p[1].toFixed(1) + 'px">' +
          '<b>' + esc(state.tree.name(town.code)) + '</b>' +
          (n ? '<span>' + esc(t('whistle_n')(n)) + '</span>' : '') + '</div>';
      }
      for (const [, wh] of activeWhistles().sort((a, b) => LIGHT_RANK[lightOf(a[1].light)] - LIGHT_RANK[lightOf(b[1].light)])) {
        const pt = pointOf(wh);
        if (!pt) continue;
        const p = project(pt);
        html += '<i class="wh-mk l-' + lightOf(wh.light) + '" style="left:' + p[0].toFixed(1) + 'px;top:' + p[1].toFixed(1) + 'px"></i>';
      }
      html += '<div class="wh-anchor" style="left:' + (wrap.clientWidth / 2).toFixed(1) + 'px">' + esc(t('anchor')) + '</div>';
    }
    if (labelsEl.innerHTML !== html) labelsEl.innerHTML = html;
  }

  function renderLights() {
    const items = ['green', 'amber', 'red', 'done'].map((l) =>
      '<span class="wh-legend-item"><i style="background:' + LIGHT_COLORS[l] + '"></i>' + esc(t('light')[l]) + '</span>');
    $('wh-legend').innerHTML = items.join('');
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
  const MAX_CARDS = 40;
  function renderBoard() {
    const list = sortedActive();
    const cds = new Map();
    let html = '';
    // A wall shows a dozen cards at most: build no more than could fit, whatever the backlog.
    for (const [id, w] of list.slice(0, MAX_CARDS)) {
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
      // Below a city root the second element is a county: name the township (third) too.
      const path = Array.isArray(w.region) ? w.region.map(String) : [];
      let place = town ? state.tree.name(town) : '';
      if (path.length >= 4 && state.tree.regions.has(path[2])) place += ' · ' + state.tree.name(path[2]);
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
    // Hide the cards that do not fit (whole cards only) and say how many.
    const boxH = boardEl.clientHeight;
    let shown = 0;
    for (const li of boardEl.children) {
      li.hidden = false;
    }
    for (const li of boardEl.children) {
      if (li.offsetTop + li.offsetHeight > boxH + 1) li.hidden = true;
      else shown++;
    }
    Z.board = Array.from(boardEl.children).filter((li) => !li.hidden).map((li) => li.dataset.id);
    Z.active = list.length;
    $('wh-board-empty').hidden = list.length > 0;
    $('wh-board-empty').textContent = state.data ? t('no_whistles') : t('waiting');
    const more = list.length - shown;
    $('wh-more').textContent = more > 0 ? t('more').replace('{n}', more) : '';
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
    const rows = Array.from(per.values()).map((e) => ({ dept: e.dept, mean: e.sum / e.n, n: e.n }));
    rows.sort((a, b) => b.mean - a.mean || b.n - a.n || (a.dept < b.dept ? -1 : 1));
    const el = $('wh-scores');
    const fitN = Math.max(1, Math.floor(el.clientHeight / SCORE_ROW_H)) * 2; // two columns
    let html = '';
    for (const r of rows.slice(0, fitN)) {
      const full = Math.round(r.mean);
      const stars = '★'.repeat(full) + '<s>' + '★'.repeat(Math.max(0, 5 - full)) + '</s>';
      html += '<li data-dept="' + esc(r.dept) + '"><span class="nm">' + esc(L.dept(r.dept)) + '</span>' +
        '<span class="st">' + stars + '</span><b>' + r.mean.toFixed(1) + '</b>' +
        '<small>' + esc(t('score_n').replace('{n}', r.n)) + '</small></li>';
    }
    if (el.innerHTML !== html) el.innerHTML = html;
    $('wh-scores-empty').hidden = rows.length > 0;
    Z.scores = rows.length;
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
  live.connect();
  bar.startClock(() => {
    live.checkStale();
    tickCountdowns();
  });
})();
