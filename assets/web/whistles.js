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
  const { clampNum, storageGet, storageSet, $, esc, num, pad2, polygonsOf, labelPoint, canvasFor } = window.ZhiliLive.util;

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
      updated: '数据更新于',
      active: '在办哨', late: '超时', resolved_today: '今日办结',
      map_title: '哨源分布 · 乡镇吹哨 部门报到', map_loading: '地图加载中…', map_failed: '地图加载失败，正在重试…',
      anchor: '县直部门', whistle_n: (n) => n + ' 哨',
      board_title: '哨令看板 · 超时优先', more: '另有 {n} 条未显示',
      no_whistles: '暂无在办哨令', waiting: '等待数据…',
      scores_title: '评哨 · 部门得分', no_scores: '暂无评价', score_n: '{n} 次',
      kind: { advance: '推进哨', tough: '攻坚哨', emergency: '应急哨' },
      stage: { signed: '签收', contacted: '联系', arrived: '到场' },
      light: { green: '正常', amber: '临期', red: '超时', done: '已完成' },
      blown: '吹哨', next: '下一时限', all_done: '已全部报到', unknown_kind: '未知哨种，无时限',
      left: (s) => '剩 ' + s, over: (s) => '超时 ' + s,
      d: '天', h: '时', m: '分', s: '秒',
      dept: {
        'county.urban-mgmt': '城管局', 'county.eco-env': '生态环境局', 'county.housing': '住建局',
        'county.market-reg': '市场监管局', 'county.public-security': '公安局', 'county.emergency': '应急管理局',
        'county.water': '水利局',
      },
      cat: {
        dispute: '矛盾纠纷', security: '治安隐患', safety: '安全生产', environment: '环境卫生',
        cityorder: '市容秩序', livelihood: '民生服务', petition: '信访',
      },
      stale: '数据已中断 · 正在重新连接…', stale_for: '已 {n} 秒无数据', no_token: '缺少访问令牌（?token=）',
      refused: '服务器拒绝了数据订阅',
      lang_switch: 'EN',
      weekdays: ['星期日', '星期一', '星期二', '星期三', '星期四', '星期五', '星期六'],
    },
    en: {
      title_suffix: ' · Whistle Board',
      updated: 'Data as of',
      active: 'Active', late: 'Late', resolved_today: 'Resolved today',
      map_title: 'Whistles · townships summon departments', map_loading: 'Loading map…', map_failed: 'Map failed to load, retrying…',
      anchor: 'County departments', whistle_n: (n) => n + (n === 1 ? ' whistle' : ' whistles'),
      board_title: 'Active whistles · late first', more: '{n} more not shown',
      no_whistles: 'No active whistle', waiting: 'Waiting for data…',
      scores_title: 'Evaluations · by department', no_scores: 'No evaluation yet', score_n: '{n}×',
      kind: { advance: 'Advance', tough: 'Tough', emergency: 'Emergency' },
      stage: { signed: 'Signed', contacted: 'Contacted', arrived: 'Arrived' },
      light: { green: 'on time', amber: 'due soon', red: 'late', done: 'done' },
      blown: 'Blown', next: 'Next deadline', all_done: 'All reported', unknown_kind: 'Unknown kind, no clock',
      left: (s) => s + ' left', over: (s) => s + ' overdue',
      d: 'd ', h: 'h ', m: 'm ', s: 's',
      dept: {
        'county.urban-mgmt': 'Urban Mgmt', 'county.eco-env': 'Eco-Environment', 'county.housing': 'Housing',
        'county.market-reg': 'Market Reg.', 'county.public-security': 'Public Security', 'county.emergency': 'Emergency Mgmt',
        'county.water': 'Water Resources',
      },
      cat: {
        dispute: 'Disputes', security: 'Security', safety: 'Work safety', environment: 'Sanitation',
        cityorder: 'City order', livelihood: 'Livelihood', petition: 'Petitions',
      },
      stale: 'Feed lost — reconnecting…', stale_for: 'no data for {n} s', no_token: 'No access token (?token=)',
      refused: 'The server refused the subscription',
      lang_switch: '中',
      weekdays: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'],
    },
  };

  let lang = params.get('lang') || storageGet('zhili.lang') || 'zh';
  if (!TEXT[lang]) lang = 'zh';
  const t = (key) => (TEXT[lang][key] !== undefined ? TEXT[lang][key] : TEXT.zh[key]);
  const deptName = (code) => t('dept')[code] || code;
  const kindName = (k) => t('kind')[k] || k || '?';
  const catName = (c) => t('cat')[c] || c || '';

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
    regions: new Map(), // code -> {code, name, parent, level}
    rootName: '',
    root: null, // the root feature
    towns: [], // level-1 features
    grids: [], // deepest-level features
    bounds: null,
    aspect: 1,
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
  function localParts(ms) {
    if (state.tzMin === null) {
      const d = new Date(ms);
      return [d.getFullYear(), d.getMonth(), d.getDate(), d.getDay(), d.getHours(), d.getMinutes(), d.getSeconds()];
    }
    const d = new Date(ms + state.tzMin * 60000);
    return [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCDay(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()];
  }
  function timeOf(at) {
    const ms = Date.parse(at || '');
    if (!Number.isFinite(ms)) return '--:--:--';
    const p = localParts(ms);
    return pad2(p[4]) + ':' + pad2(p[5]) + ':' + pad2(p[6]);
  }
  // shortTime returns "hh:mm" for today (server clock), "MM-DD hh:mm" otherwise.
  function shortTime(at) {
    const ms = Date.parse(at || '');
    if (!Number.isFinite(ms)) return '';
    const p = localParts(ms);
    const n = localParts(Date.now() + state.skewMs);
    const hm = pad2(p[4]) + ':' + pad2(p[5]);
    return p[0] === n[0] && p[1] === n[1] && p[2] === n[2] ? hm : pad2(p[1] + 1) + '-' + pad2(p[2]) + ' ' + hm;
  }
  function regionName(code) {
    const r = state.regions.get(code);
    return r ? r.name : code;
  }
  function mergePatch(target, patch) {
    if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
    const out = target !== null && typeof target === 'object' && !Array.isArray(target) ? target : {};
    for (const k of Object.keys(patch)) {
      const v = patch[k];
      if (v === null) delete out[k];
      else out[k] = mergePatch(out[k], v);
    }
    return out;
  }
  const serverNow = () => Date.now() + state.skewMs;
  const lightOf = (l) => (LIGHT_RANK[l] !== undefined ? l : 'green');

  // ---------------------------------------------------------------- countdowns
  // noteAnchors records, for every open stage whose left_min is new or changed, the message
  // time it came with: the local countdown starts from there.
  function noteAnchors(at) {
    const atMs = Date.parse(at || '');
    const base = Number.isFinite(atMs) ? atMs : serverNow();
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
    const elapsed = Math.max(0, Math.floor((serverNow() - a.at) / 1000));
    return Math.max(L, L + phase - elapsed);
  }

  function fmtLeft(secs) {
    const a = Math.abs(secs);
    const d = Math.floor(a / 86400);
    const h = Math.floor((a % 86400) / 3600);
    const m = Math.floor((a % 3600) / 60);
    const s = a % 60;
    let txt;
    if (d > 0) txt = d + t('d') + h + t('h');
    else if (h > 0) txt = h + t('h') + m + t('m');
    else txt = m + t('m') + pad2(s) + t('s');
    txt = txt.trim();
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
  function tick() {
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

  function fit() {
    window.ZhiliLive.util.fitStage(stage, STAGE_W, STAGE_H, (scale, dpr) => {
      // The canvas draws at the scaled resolution, so 3840×2160 is as sharp as 1920×1080.
      Z.layout.scale = scale;
      Z.layout.dpr = dpr;
      scheduleRender();
    });
  }

  // ---------------------------------------------------------------- regions

  function loadRegions() {
    window.ZhiliLive.util.loadRegions(REGION, TOKEN, BACKOFF_MAX, (fc) => {
      buildMap(fc);
      $('map-status').hidden = true;
      scheduleRender();
    }, () => setI18n($('map-status'), 'map_failed'));
  }

  function buildMap(fc) {
    const features = ((fc && fc.features) || []).filter((f) => f && f.geometry && f.properties &&
      (f.geometry.type === 'Polygon' || f.geometry.type === 'MultiPolygon'));
    let top = Infinity;
    let deepest = 0;
    for (const f of features) top = Math.min(top, Number(f.properties.level) || 0);
    state.regions.clear();
    for (const f of features) {
      const p = f.properties;
      const code = String(p.code);
      const level = (Number(p.level) || 0) - top;
      deepest = Math.max(deepest, level);
      state.regions.set(code, { code, name: p.name || code, parent: p.parent || '', level });
    }
    state.root = null;
    state.towns = [];
    state.grids = [];
    for (const f of features) {
      const level = state.regions.get(String(f.properties.code)).level;
      const item = { code: String(f.properties.code), polys: polygonsOf(f.geometry), geometry: f.geometry };
      if (level === 0 && !state.root) state.root = item;
      if (level === 1) state.towns.push(item);
      if (level === deepest && level > 1) state.grids.push(item);
    }
    if (state.root) state.rootName = regionName(state.root.code);
    let minX = 180, minY = 90, maxX = -180, maxY = -90;
    for (const f of features) {
      for (const poly of polygonsOf(f.geometry)) {
        for (const ring of poly) {
          for (const c of ring) {
            minX = Math.min(minX, c[0]); maxX = Math.max(maxX, c[0]);
            minY = Math.min(minY, c[1]); maxY = Math.max(maxY, c[1]);
          }
        }
      }
    }
    if (minX <= maxX) {
      state.bounds = [minX, minY, maxX, maxY];
      state.aspect = Math.cos(((minY + maxY) / 2) * Math.PI / 180) || 1;
    }
    for (const town of state.towns) town.label = labelPoint(town.geometry);
    if (state.root) state.root.label = labelPoint(state.root.geometry);
    state.mapReady = true;
    updateTitle();
  }

  // townOf returns the township code of a whistle: the second element of its region path.
  function townOf(w) {
    const path = Array.isArray(w.region) ? w.region : [];
    return path.length > 1 ? String(path[1]) : path.length ? String(path[0]) : '';
  }

  // ---------------------------------------------------------------- map drawing
  let proj = null;
  const ANCHOR_H = 96; // room above the region for the departments' node (stage pixels)

  function project(c) {
    return [proj.ox + (c[0] - state.bounds[0]) * proj.k * state.aspect, proj.oy + (state.bounds[3] - c[1]) * proj.k];
  }

  function tracePolys(ctx, polys) {
    for (const poly of polys) {
      for (const ring of poly) {
        for (let i = 0; i < ring.length; i++) {
          const p = project(ring[i]);
          if (i === 0) ctx.moveTo(p[0], p[1]);
          else ctx.lineTo(p[0], p[1]);
        }
        ctx.closePath();
      }
    }
  }

  // activeWhistles returns [id, whistle] of the unresolved whistles.
  function activeWhistles() {
    const ws = (state.data && state.data.whistles) || {};
    return Object.keys(ws).filter((id) => ws[id] && !ws[id].resolved).map((id) => [id, ws[id]]);
  }

  // pointOf returns a whistle's map point: its case's, else its township's label point.
  function pointOf(w) {
    if (Array.isArray(w.point) && w.point.length === 2 && Number.isFinite(w.point[0]) && Number.isFinite(w.point[1])) return w.point;
    const town = state.towns.find((x) => x.code === townOf(w));
    return town ? town.label : null;
  }

  function drawMap() {
    const w = wrap.clientWidth;
    const h = wrap.clientHeight;
    const dpr = Z.layout.dpr;
    const ctx = canvasFor(canvas, w, h, dpr);
    Z.markers = 0;
    if (!state.mapReady || !state.bounds) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const pad = 20;
    const bw = (state.bounds[2] - state.bounds[0]) * state.aspect || 1e-9;
    const bh = state.bounds[3] - state.bounds[1] || 1e-9;
    const k = Math.min((w - 2 * pad) / bw, (h - pad - ANCHOR_H) / bh);
    proj = { k, ox: (w - bw * k) / 2, oy: ANCHOR_H + (h - pad - ANCHOR_H - bh * k) / 2 };
    ctx.lineJoin = 'round';

    // Townships filled dark, grids as a faint texture, the root outline glowing.
    for (const town of state.towns) {
      ctx.beginPath();
      tracePolys(ctx, town.polys);
      ctx.fillStyle = 'rgba(22, 58, 110, 0.85)';
      ctx.fill('evenodd');
    }
    if (!state.towns.length && state.root) {
      ctx.beginPath();
      tracePolys(ctx, state.root.polys);
      ctx.fillStyle = 'rgba(22, 58, 110, 0.85)';
      ctx.fill('evenodd');
    }
    ctx.lineWidth = 0.8;
    ctx.strokeStyle = 'rgba(140, 200, 255, 0.16)';
    for (const g of state.grids) {
      ctx.beginPath();
      tracePolys(ctx, g.polys);
      ctx.stroke();
    }
    ctx.lineWidth = 2;
    ctx.strokeStyle = 'rgba(111, 220, 255, 0.75)';
    for (const town of state.towns) {
      ctx.beginPath();
      tracePolys(ctx, town.polys);
      ctx.stroke();
    }
    if (state.root) {
      ctx.save();
      ctx.beginPath();
      tracePolys(ctx, state.root.polys);
      ctx.lineWidth = 3.5;
      ctx.strokeStyle = '#8cf0ff';
      ctx.shadowColor = 'rgba(47, 211, 255, 0.9)';
      ctx.shadowBlur = 18 * dpr;
      ctx.stroke();
      ctx.restore();
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
  function drawLabels() {
    let html = '';
    if (proj) {
      const perTown = new Map();
      for (const [, wh] of activeWhistles()) perTown.set(townOf(wh), (perTown.get(townOf(wh)) || 0) + 1);
      for (const town of state.towns) {
        const p = project(town.label);
        const n = perTown.get(town.code) || 0;
        html += '<div class="wh-town' + (n ? ' has' : '') + '" style="left:' + p[0].toFixed(1) + 'px;top:' + p[1].toFixed(1) + 'px">' +
          '<b>' + esc(regionName(town.code)) + '</b>' +
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

  function renderLegend() {
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
    if (s.reached) sub = '✓ ' + shortTime(s.reached);
    else sub = shortTime(s.deadline);
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
          '<span class="dn"><i></i>' + esc(deptName(d.dept)) + '</span>' +
          '<span class="chips">' + chips + '</span>' + cd + sc + '</div>';
      }
      const town = townOf(w);
      // Below a city root the second element is a county: name the township (third) too.
      const path = Array.isArray(w.region) ? w.region.map(String) : [];
      let place = town ? regionName(town) : '';
      if (path.length >= 4 && state.regions.has(path[2])) place += ' · ' + regionName(path[2]);
      html += '<li class="wh l-' + light + (w.late ? ' late' : '') + '" data-id="' + esc(id) + '" data-light="' + light + '">' +
        '<div class="wh-head">' +
        '<span class="kind k-' + esc(w.kind) + '">' + esc(kindName(w.kind)) + '</span>' +
        '<b class="town">' + esc(place) + '</b>' +
        '<span class="cat">' + esc(catName(w.category)) + '</span>' +
        '<span class="blown">' + esc(t('blown')) + ' ' + esc(shortTime(w.blown)) + '</span>' +
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
    tick();
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
      html += '<li data-dept="' + esc(r.dept) + '"><span class="nm">' + esc(deptName(r.dept)) + '</span>' +
        '<span class="st">' + stars + '</span><b>' + r.mean.toFixed(1) + '</b>' +
        '<small>' + esc(t('score_n').replace('{n}', r.n)) + '</small></li>';
    }
    if (el.innerHTML !== html) el.innerHTML = html;
    $('wh-scores-empty').hidden = rows.length > 0;
    Z.scores = rows.length;
  }

  // ---------------------------------------------------------------- rendering
  // Hoisted (var) so that a render requested during start-up finds it.
  var renderer; // eslint-disable-line no-var
  function scheduleRender() {
    if (!renderer) renderer = window.ZhiliLive.util.scheduler(render);
    renderer.schedule();
  }

  function render() {
    try {
      if (state.dirtyLang) {
        state.dirtyLang = false;
        applyLang();
      }
      renderTotals();
      renderBoard();
      renderScores();
      drawMap();
      drawLabels();
    } catch (err) {
      console.error('render:', err);
    }
    if (!Z.ready && state.mapReady && state.data) {
      Z.ready = true;
      Z.readyAt = performance.now();
      document.body.dataset.ready = '1';
      checkStale();
    }
  }

  Z.settled = () => !(renderer && renderer.pending());

  // ---------------------------------------------------------------- language
  function setI18n(el, key) {
    el.dataset.i18n = key;
    el.textContent = t(key);
  }
  function applyLang() {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    document.body.classList.toggle('lang-en', lang === 'en');
    for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
    $('lang-switch').textContent = t('lang_switch');
    renderLegend();
    updateTitle();
    updateClock();
  }
  function updateTitle() {
    const title = ((state.rootName || '') + t('title_suffix')).trim().replace(/^·\s*/, '');
    $('title').textContent = title;
    document.title = title;
  }
  $('lang-switch').addEventListener('click', () => {
    lang = lang === 'zh' ? 'en' : 'zh';
    storageSet('zhili.lang', lang);
    state.dirtyLang = true;
    scheduleRender();
  });

  // ---------------------------------------------------------------- clock
  function updateClock() {
    const p = localParts(Date.now() + state.skewMs);
    $('clock-time').textContent = pad2(p[4]) + ':' + pad2(p[5]) + ':' + pad2(p[6]);
    $('clock-date').textContent = p[0] + '-' + pad2(p[1] + 1) + '-' + pad2(p[2]) + ' ' + t('weekdays')[p[3]];
    $('updated-at').textContent = state.lastDataAt ? timeOf(state.lastDataAt) : '--:--:--';
  }

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
    onChange() { scheduleRender(); },
    onTime(at, tzChanged) {
      if (tzChanged) updateClock();
      $('updated-at').textContent = timeOf(at);
    },
  });
  const connect = live.connect;
  function checkStale() { live.checkStale(); }

  // ---------------------------------------------------------------- start
  if (KIOSK) document.body.classList.add('kiosk');
  applyLang();
  fit();
  loadRegions();
  connect();
  setInterval(() => { updateClock(); checkStale(); tick(); }, 1000);
  updateClock();
  checkStale();
})();
