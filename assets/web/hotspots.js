/* Zhili hotspot screen (热点追踪): one WebSocket, hotspots:<region>:<window>, drawn on a canvas.
 *
 * Page parameters:
 *   ?token=   viewer token (sent to /ws and the REST API)
 *   ?kiosk=1  hide every control (window switch, language switch, cursor)
 *   ?window=  1h, 24h (default), 7d or 30d
 *   ?stale=   seconds without any message (pongs count) before the feed is shown as lost; default 30
 *   ?lang=en  start in English (the 中/EN switch also remembers the choice)
 *   ?region=  region code to show (a token limited to a subtree needs its own region); default root
 *
 * The grids (deepest regions) are coloured by their Gi* bin; township outlines and labels are
 * drawn on top. The connection logic is the overview screen's: snapshot then merge-patch
 * deltas, array frames, a seq gap re-subscribes with since, reconnects back off with jitter.
 *
 * For tests the page exposes window.__zhili (see the object Z) and sets
 * document.body.dataset.ready = "1" after the first full render (map drawn, snapshot in).
 */
(function () {
  'use strict';
  const { clampNum, storageGet, storageSet, $, esc, num, pad2 } = window.ZhiliLive.util;

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
  const REGION = /^[A-Za-z0-9._-]{1,64}$/.test(params.get('region') || '') ? params.get('region') : 'root';
  const ROW_H = 42; // height of a row of the hot grid list (hotspots.css)
  const TOWN_ROW_H = 36; // height of a row of the township list (hotspots.css)

  // Diverging palette by Gi* bin (reds hot, blues cold, neutral grey-blue not significant);
  // hotspots.css repeats these colours for the legend.
  const BIN_COLORS = {
    3: '#e3262f', 2: '#f26b43', 1: '#f7ac74',
    0: '#34465f',
    '-1': '#9fcdf0', '-2': '#5b9fe3', '-3': '#2f63cf',
  };
  const NO_DATA_COLOR = '#1b2a42';

  // ---------------------------------------------------------------- texts
  const TEXT = {
    zh: {
      title_suffix: '热点追踪 · Hotspots',
      updated: '数据更新于',
      map_title: '网格热点分布 · Gi*', map_loading: '地图加载中…', map_failed: '地图加载失败，正在重试…',
      counts_title: '显著网格 · 按置信度', confidence: '置信度', hot: '热点', cold: '冷点',
      list_title: '热点网格 · 按 z 值排序', towns_title: '乡镇（街道）· Gi*', not_sig: '不显著', rank_no: '排名', grid: '网格', count: '案件', conf_short: '置信',
      no_hot: '暂无显著热点',
      legend_hot: '热点', legend_cold: '冷点', legend_ns: '不显著', legend_conf: '置信度',
      window: { '1h': '近1小时', '24h': '近24小时', '7d': '近7天', '30d': '近30天' },
      summary: '网格 {n} 个 · 案件 {c} 件 · {fdr}',
      fdr_on: 'FDR 校正', fdr_off: '未校正',
      degenerate: { no_variance: '样本无差异 · 各网格案件数相同，无法识别热点', too_few: '网格少于 3 个 · 无法识别热点' },
      degenerate_other: '无法计算统计量', total: '合计',
      waiting: '等待数据…',
      stale: '数据已中断 · 正在重新连接…', stale_for: '已 {n} 秒无数据', no_token: '缺少访问令牌（?token=）',
      refused: '服务器拒绝了数据订阅',
      lang_switch: 'EN',
      weekdays: ['星期日', '星期一', '星期二', '星期三', '星期四', '星期五', '星期六'],
    },
    en: {
      title_suffix: ' · Hotspot Tracking',
      updated: 'Data as of',
      map_title: 'Grid hot spots · Gi*', map_loading: 'Loading map…', map_failed: 'Map failed to load, retrying…',
      counts_title: 'Significant grids by confidence', confidence: 'Confidence', hot: 'Hot', cold: 'Cold',
      list_title: 'Hot grids by z-score', towns_title: 'Townships · Gi*', not_sig: 'n.s.', rank_no: 'No.', grid: 'Grid', count: 'Cases', conf_short: 'Conf.',
      no_hot: 'No significant hot spot',
      legend_hot: 'hot', legend_cold: 'cold', legend_ns: 'Not significant', legend_conf: 'Confidence',
      window: { '1h': 'last hour', '24h': 'last 24 h', '7d': 'last 7 days', '30d': 'last 30 days' },
      summary: '{n} grids · {c} cases · {fdr}',
      fdr_on: 'FDR corrected', fdr_off: 'uncorrected',
      degenerate: { no_variance: 'No variance · every grid has the same count, no hot spot can be found', too_few: 'Fewer than 3 grids · no statistic' },
      degenerate_other: 'No statistic could be formed', total: 'Total',
      waiting: 'Waiting for data…',
      stale: 'Feed lost — reconnecting…', stale_for: 'no data for {n} s', no_token: 'No access token (?token=)',
      refused: 'The server refused the subscription',
      lang_switch: '中',
      weekdays: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'],
    },
  };

  let lang = params.get('lang') || storageGet('zhili.lang') || 'zh';
  if (!TEXT[lang]) lang = 'zh';
  const t = (key) => (TEXT[lang][key] !== undefined ? TEXT[lang][key] : TEXT.zh[key]);

  let win = WINDOWS.includes(params.get('window')) ? params.get('window') : '24h';
  const topicOf = (w) => 'hotspots:' + REGION + ':' + w;

  // ---------------------------------------------------------------- state exposed for tests
  const Z = {
    ready: false, // map drawn and the first snapshot rendered
    readyAt: null, // performance.now() when ready became true
    lastFrameAt: 0, // Date.now() of the last WebSocket frame
    frames: 0, // WebSocket frames received
    hot: 0, // grids with bin > 0
    hotGrids: [], // codes of the hot grids by z, highest first (at most 100)
    cold: 0, // grids with bin < 0
    grids: 0, // grids in the topic
    window: win, // the window shown
    topic: topicOf(win),
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
    regions: new Map(), // code -> {code, name, parent, level}
    rootName: '',
    root: null, // the root feature
    towns: [], // level-1 features
    grids: [], // deepest-level features
    bounds: null, // [minX, minY, maxX, maxY]
    aspect: 1, // cos(mid latitude)
    skewMs: 0,
    tzMin: null,
    lastDataAt: '',
    lastMsgAt: 0,
    downSince: performance.now(),
    mapReady: false,
    topicError: '',
    dirtyLang: false, // the language changed: texts are re-applied on the next render
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
  // timeOf returns the hh:mm:ss of an RFC 3339 time in the deployment's time zone.
  function timeOf(at) {
    const ms = Date.parse(at || '');
    if (!Number.isFinite(ms)) return '--:--:--';
    const p = localParts(ms);
    return pad2(p[4]) + ':' + pad2(p[5]) + ':' + pad2(p[6]);
  }
  // shortTime returns "MM-DD hh:mm" (or "hh:mm" for the 1h and 24h windows).
  function shortTime(at, withDate) {
    const ms = Date.parse(at || '');
    if (!Number.isFinite(ms)) return '';
    const p = localParts(ms);
    const hm = pad2(p[4]) + ':' + pad2(p[5]);
    return withDate ? pad2(p[1] + 1) + '-' + pad2(p[2]) + ' ' + hm : hm;
  }
  function regionName(code) {
    const r = state.regions.get(code);
    return r ? r.name : code;
  }
  // mergePatch applies an RFC 7386 JSON merge patch and returns the result.
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

  // ---------------------------------------------------------------- stage scaling
  const stage = $('stage');
  const canvas = $('hs-map');
  const wrap = $('hs-map-wrap');

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
      if (level === deepest) state.grids.push(item);
    }
    if (state.root) state.rootName = regionName(state.root.code);
    // Name the children's level after their kind (a city's children are counties).
    if (features.some((f) => f.properties.kind === 'county' && state.regions.get(String(f.properties.code)).level === 1)) {
      Object.assign(TEXT.zh, { towns_title: '区县 · Gi*' });
      Object.assign(TEXT.en, { towns_title: 'Counties · Gi*' });
      applyLang();
    }
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
    state.mapReady = true;
    updateTitle();
  }

  function polygonsOf(g) {
    if (g.type === 'Polygon') return [g.coordinates];
    if (g.type === 'MultiPolygon') return g.coordinates;
    return [];
  }

  // labelPoint returns the centroid of the largest ring of a (Multi)Polygon, in lon/lat.
  function labelPoint(g) {
    const rings = polygonsOf(g).map((p) => p[0]);
    let best = null;
    for (const ring of rings) {
      let a = 0, cx = 0, cy = 0;
      for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        const f = ring[j][0] * ring[i][1] - ring[i][0] * ring[j][1];
        a += f;
        cx += (ring[j][0] + ring[i][0]) * f;
        cy += (ring[j][1] + ring[i][1]) * f;
      }
      if (a !== 0 && (!best || Math.abs(a) > best.a)) best = { a: Math.abs(a), p: [cx / (3 * a), cy / (3 * a)] };
    }
    return best ? best.p : rings[0][0];
  }

  // ---------------------------------------------------------------- map drawing
  let proj = null; // {k, ox, oy}: lon/lat -> stage pixels inside the canvas

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

  function drawMap() {
    const w = wrap.clientWidth;
    const h = wrap.clientHeight;
    const dpr = Z.layout.dpr;
    const pw = Math.max(1, Math.round(w * dpr));
    const ph = Math.max(1, Math.round(h * dpr));
    if (canvas.width !== pw || canvas.height !== ph) {
      canvas.width = pw;
      canvas.height = ph;
    }
    canvas.style.width = w + 'px';
    canvas.style.height = h + 'px';
    const ctx = canvas.getContext('2d');
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, pw, ph);
    if (!state.mapReady || !state.bounds) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const pad = 24;
    const bw = (state.bounds[2] - state.bounds[0]) * state.aspect || 1e-9;
    const bh = state.bounds[3] - state.bounds[1] || 1e-9;
    const k = Math.min((w - 2 * pad) / bw, (h - 2 * pad) / bh);
    proj = { k, ox: (w - bw * k) / 2, oy: (h - bh * k) / 2 };

    const grids = (state.data && state.data.grids) || {};
    // Grid fills by bin, thin borders.
    ctx.lineJoin = 'round';
    for (const g of state.grids) {
      const r = grids[g.code];
      const bin = r ? Math.max(-3, Math.min(3, Math.round(num(r.bin)))) : null;
      ctx.beginPath();
      tracePolys(ctx, g.polys);
      ctx.fillStyle = bin === null ? NO_DATA_COLOR : BIN_COLORS[bin];
      ctx.fill('evenodd');
      ctx.lineWidth = 1;
      ctx.strokeStyle = 'rgba(200, 230, 255, 0.35)';
      ctx.stroke();
    }
    // Township outlines on top.
    ctx.lineWidth = 2.5;
    ctx.strokeStyle = '#6fdcff';
    for (const town of state.towns) {
      ctx.beginPath();
      tracePolys(ctx, town.polys);
      ctx.stroke();
    }
    // The root outline with a glow.
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
    Z.layout.renderedDpr = dpr;
  }

  // Township labels: DOM above the canvas, sharp at any scale.
  const labelsEl = $('hs-labels');
  function drawLabels() {
    const children = (state.data && state.data.children) || {};
    let html = '';
    if (proj) {
      for (const town of state.towns) {
        const p = project(town.label);
        const ch = children[town.code];
        const bin = ch ? Math.round(num(ch.bin)) : 0;
        const cls = bin > 0 ? ' hot' : bin < 0 ? ' cold' : '';
        html += '<div class="hs-town' + cls + '" style="left:' + p[0].toFixed(1) + 'px;top:' + p[1].toFixed(1) + 'px">' +
          '<b>' + esc(regionName(town.code)) + '</b>' +
          '<span>' + esc(t('count')) + ' ' + num(ch && ch.count) + (bin ? ' · ' + esc((bin > 0 ? t('hot') : t('cold')) + ' ' + confOf(bin)) : '') + '</span></div>';
      }
    }
    if (labelsEl.innerHTML !== html) labelsEl.innerHTML = html;
  }

  // ---------------------------------------------------------------- side panel and legend
  function renderLegend() {
    const items = [3, 2, 1, 0, -1, -2, -3].map((bin) => {
      const text = bin === 0 ? t('legend_ns') : confOf(bin) + ' ' + (bin > 0 ? t('legend_hot') : t('legend_cold'));
      return '<span class="hs-legend-item"><i style="background:' + BIN_COLORS[bin] + '"></i>' + esc(text) + '</span>';
    });
    $('hs-legend').innerHTML = items.join('');
  }

  function renderPanels() {
    const data = state.data || {};
    const grids = data.grids || {};
    const counts = { 3: 0, 2: 0, 1: 0, '-1': 0, '-2': 0, '-3': 0 };
    const hot = [];
    let n = 0;
    let cases = 0;
    for (const code of Object.keys(grids)) {
      const r = grids[code];
      if (!r) continue;
      n++;
      cases += num(r.count);
      const bin = Math.max(-3, Math.min(3, Math.round(num(r.bin))));
      if (bin !== 0) counts[bin]++;
      if (bin > 0) hot.push({ code, count: num(r.count), z: num(r.z), bin });
    }
    hot.sort((a, b) => b.z - a.z || b.count - a.count || (a.code < b.code ? -1 : 1));
    Z.hot = hot.length;
    Z.hotGrids = hot.slice(0, 100).map((g) => g.code);
    Z.cold = counts[-1] + counts[-2] + counts[-3];
    Z.grids = n;
    Z.degenerate = data.grids_degenerate || '';

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

    const summary = state.data
      ? t('summary').replace('{n}', n).replace('{c}', cases).replace('{fdr}', data.fdr === false ? t('fdr_off') : t('fdr_on'))
      : t('waiting');
    $('hs-summary').textContent = summary;

    let list = '';
    const listEl = $('hs-list');
    $('hs-list-empty').hidden = hot.length > 0;
    const rowsFit = Math.max(1, Math.floor(listEl.clientHeight / ROW_H));
    hot.slice(0, rowsFit).forEach((g, i) => {
      const r = state.regions.get(g.code);
      const town = r && r.parent ? regionName(r.parent) : '';
      let name = regionName(g.code);
      // Grid names usually repeat their township's: show the township once, small.
      if (town && name.startsWith(town) && name.length > town.length) name = name.slice(town.length);
      list += '<li class="b' + g.bin + '"><span class="no">' + (i + 1) + '</span>' +
        '<span class="nm"><b>' + esc(name) + '</b><small>' + esc(town) + '</small></span>' +
        '<span class="ct">' + g.count + '</span>' +
        '<span class="z">' + g.z.toFixed(2) + '</span>' +
        '<span class="cf"><i style="background:' + BIN_COLORS[g.bin] + '"></i>' + confOf(g.bin) + '</span></li>';
    });
    if (listEl.innerHTML !== list) listEl.innerHTML = list;
    renderTowns(data.children || {});

    const deg = $('hs-degenerate');
    const reason = data.grids_degenerate || '';
    if (state.data && reason) {
      deg.textContent = t('degenerate')[degenerateKey(reason)] || t('degenerate_other') + ' · ' + reason;
      deg.hidden = false;
    } else deg.hidden = true;

    const withDate = win === '7d' || win === '30d';
    const range = data.from && data.to ? shortTime(data.from, withDate) + ' – ' + shortTime(data.to, withDate) : '';
    $('hs-range').textContent = t('window')[win] + (range ? ' · ' + range : '');
    for (const b of document.querySelectorAll('#hs-windows button')) b.classList.toggle('on', b.dataset.window === win);
  }

  // renderTowns lists the level-1 regions by z (Gi* among the townships).
  function renderTowns(children) {
    const towns = state.towns.map((town) => {
      const ch = children[town.code];
      return { code: town.code, count: num(ch && ch.count), z: num(ch && ch.z), bin: ch ? Math.max(-3, Math.min(3, Math.round(num(ch.bin)))) : 0, has: !!ch };
    });
    towns.sort((a, b) => b.z - a.z || b.count - a.count || (a.code < b.code ? -1 : 1));
    const el = $('hs-towns');
    const rowsFit = Math.max(1, Math.floor(el.clientHeight / TOWN_ROW_H));
    let html = '';
    towns.slice(0, rowsFit).forEach((c, i) => {
      const conf = c.bin ? confOf(c.bin) + ' ' + (c.bin > 0 ? t('hot') : t('cold')) : t('not_sig');
      html += '<li class="b' + c.bin + '"><span class="no">' + (i + 1) + '</span>' +
        '<span class="nm"><b>' + esc(regionName(c.code)) + '</b></span>' +
        '<span class="ct">' + c.count + '</span>' +
        '<span class="z">' + (c.has ? c.z.toFixed(2) : '—') + '</span>' +
        '<span class="cf"><i style="background:' + BIN_COLORS[c.bin] + '"></i>' + esc(conf) + '</span></li>';
    });
    if (el.innerHTML !== html) el.innerHTML = html;
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
      // Panels first: the degenerate note takes room from the map.
      renderPanels();
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

  // settled reports whether everything received is drawn (screenshots of tests wait for it).
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
    // Without a region name (map not loaded yet) the English suffix loses its leading separator.
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

  // ---------------------------------------------------------------- window switch
  function setWindow(w) {
    if (!WINDOWS.includes(w) || w === win) return;
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
    const u = new URL(location.href);
    u.searchParams.set('window', w);
    try { history.replaceState(null, '', u.toString()); } catch (e) { /* ignore */ }
    scheduleRender();
  }
  for (const b of document.querySelectorAll('#hs-windows button')) {
    b.addEventListener('click', () => setWindow(b.dataset.window));
  }
  Z.setWindow = setWindow;

  // ---------------------------------------------------------------- clock and stale banner
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
    },
    onChange() { scheduleRender(); },
    onTime(at, tzChanged) {
      if (tzChanged) updateClock();
      $('updated-at').textContent = timeOf(at);
    },
  });
  const connect = live.connect;
  const send = live.send;
  function checkStale() { live.checkStale(); }

  // ---------------------------------------------------------------- start
  if (KIOSK) document.body.classList.add('kiosk');
  applyLang();
  fit();
  loadRegions();
  connect();
  setInterval(() => { updateClock(); checkStale(); }, 1000);
  updateClock();
  checkStale();
})();
