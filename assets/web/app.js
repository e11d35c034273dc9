/* Zhili wall screen (一张屏): one WebSocket, overview:<region> + cases:<region>, drawn with ECharts.
 *
 * Page parameters:
 *   ?token=   viewer token (sent to /ws and the REST API)
 *   ?kiosk=1  hide every control (language switch, cursor)
 *   ?stale=   seconds without any message (pongs count) before the feed is shown as lost; default 30
 *   ?lang=en  start in English (the 中/EN switch also remembers the choice)
 *   ?markers= minutes a case marker stays on the map; default 10
 *   ?region=  region code to show (a token limited to a subtree needs its own region); default root
 *
 * Screens run for weeks: every collection below is bounded, every timer is created once, and a
 * reconnect detaches the old socket's handlers before a new socket is opened.
 *
 * For tests the page exposes window.__zhili (see the object Z) and sets
 * document.body.dataset.ready = "1" after the first full render (map drawn, both snapshots in).
 */
(function () {
  'use strict';
  const { clampNum, storageGet, storageSet, $, esc, num, pad2 } = window.ZhiliLive.util;

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
  const MAX_FEED = 40; // cases kept for the feed list (the panel shows what fits)
  const MAX_SEEN = 4000; // event ids remembered to drop duplicates after a resync
  const STAGE_W = 1920;
  const STAGE_H = 1080;
  const REGION = /^[A-Za-z0-9._-]{1,64}$/.test(params.get('region') || '') ? params.get('region') : 'root';
  const TOPIC_OVERVIEW = 'overview:' + REGION;
  const TOPIC_CASES = 'cases:' + REGION;

  const CATEGORY_COLORS = {
    dispute: '#ff8a3d',
    security: '#ff4d6d',
    safety: '#ffd23f',
    environment: '#2ee59d',
    cityorder: '#3fa7ff',
    livelihood: '#b07cff',
    petition: '#ff7ad9',
  };
  const OTHER_COLORS = ['#5fd3c6', '#c0d860', '#e07b91', '#7fa0ff', '#d89b5b', '#9ab0c8'];
  // Choropleth stops (0 → max open cases), blues only so that the category-colored and red
  // urgent markers stand out on every township; the legend bar in style.css uses the same colors.
  const SCALE = ['#0c2754', '#12468c', '#1769b8', '#1e94d2', '#47c6ec'];

  // ---------------------------------------------------------------- texts
  const TEXT = {
    zh: {
      title_suffix: '社会治理指挥中心 · 一张屏',
      updated: '数据更新于',
      new_today: '今日新增', open: '在办', overdue: '超期', resolved_today: '今日办结',
      flows_title: '三流联动 · 今日',
      up: '上行', up_sub: '群众与网格上报', down: '下行', down_sub: '派单与部门应哨',
      horizontal: '横向', horizontal_sub: '12345 热线联动',
      cat_title: '一模块 · 今日新增分类', cat_total: '今日新增', no_data: '暂无数据', other: '其他',
      rates_title: '三率 · 今日', response: '响应率', resolution: '解决率', satisfaction: '满意率',
      map_title: '一网格 · 在办案件分布', map_loading: '地图加载中…', map_failed: '地图加载失败，正在重试…',
      legend_open: '在办', legend_new: '新案件', legend_urgent: '紧急/特急', unlocated_today: '今日未定位',
      rank_title: '乡镇街道排名 · 今日', rank_no: '排名', rank_name: '乡镇（街道）',
      rank_new: '新增', rank_open: '在办', rank_overdue: '超期',
      feed_title: '实时案件', feed_empty: '暂无案件', unlocated: '未定位',
      stale: '数据已中断 · 正在重新连接…', stale_for: '已 {n} 秒无数据', no_token: '缺少访问令牌（?token=）',
      refused: '服务器拒绝了数据订阅',
      lang_switch: 'EN',
      weekdays: ['星期日', '星期一', '星期二', '星期三', '星期四', '星期五', '星期六'],
      cat: {
        dispute: '矛盾纠纷', security: '治安隐患', safety: '安全生产', environment: '环境卫生',
        cityorder: '市容秩序', livelihood: '民生服务', petition: '信访',
      },
      status: {
        reported: '已上报', accepted: '已受理', dispatched: '已派单', signed: '已签收', returned: '已退单',
        resolved: '已办结', closed: '已结案', reopened: '重新办理', duplicate: '重复件',
      },
      prio: { urgent: '紧急', critical: '特急' },
    },
    en: {
      title_suffix: ' Social Governance Command Center · One Screen',
      updated: 'Data as of',
      new_today: 'New today', open: 'Open', overdue: 'Overdue', resolved_today: 'Resolved today',
      flows_title: 'Three flows · today',
      up: 'Upward', up_sub: 'Citizen & grid reports', down: 'Downward', down_sub: 'Dispatches & answers',
      horizontal: 'Horizontal', horizontal_sub: '12345 hotline linkage',
      cat_title: 'Cases by module · new today', cat_total: 'New today', no_data: 'No data', other: 'Other',
      rates_title: 'Three rates · today', response: 'Response', resolution: 'Resolution', satisfaction: 'Satisfaction',
      map_title: 'Grids · open cases', map_loading: 'Loading map…', map_failed: 'Map failed to load, retrying…',
      legend_open: 'Open', legend_new: 'New case', legend_urgent: 'Urgent', unlocated_today: 'Unlocated today',
      rank_title: 'Townships · today', rank_no: 'No.', rank_name: 'Township',
      rank_new: 'New', rank_open: 'Open', rank_overdue: 'Late',
      feed_title: 'Live cases', feed_empty: 'No cases yet', unlocated: 'Unlocated',
      stale: 'Feed lost — reconnecting…', stale_for: 'no data for {n} s', no_token: 'No access token (?token=)',
      refused: 'The server refused the subscription',
      lang_switch: '中',
      weekdays: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'],
      cat: {
        dispute: 'Disputes', security: 'Security', safety: 'Work safety', environment: 'Sanitation',
        cityorder: 'City order', livelihood: 'Livelihood', petition: 'Petitions',
      },
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

  let lang = params.get('lang') || storageGet('zhili.lang') || 'zh';
  if (!TEXT[lang]) lang = 'zh';
  const t = (key) => (TEXT[lang][key] !== undefined ? TEXT[lang][key] : TEXT.zh[key]);

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
    errors: [], // last few {topic, code, message} errors from the server (bounded)
    layout: { scale: 1, dpr: 1, renderedDpr: 0 }, // stage scale; chart pixel ratio; ratio of the last map render
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
    feed: new Map(), // case_id -> entry, oldest first
    markers: [], // {id, lon, lat, cat, urgent, at(ms)}, oldest first
    seen: new Map(), // event id -> true, oldest first
    skewMs: 0, // server clock - local clock, from message "at"
    tzMin: null, // the deployment's UTC offset in minutes, from message "at" (null: the browser's)
    lastDataAt: '', // "at" of the last snapshot or delta
    lastMsgAt: 0, // performance.now() of the last message of any kind
    downSince: performance.now(),
    mapReady: false,
    mapFailed: false,
    dirty: { overview: false, cases: false, markers: false, polygons: false, lang: false },
    pendingArrival: null, // performance.now() of the oldest frame not yet rendered
    topicError: '', // the server refused a subscription: code and message
  };

  // ---------------------------------------------------------------- helpers
  // timeOf returns the hh:mm:ss of an RFC 3339 time in the deployment's time zone (the offset
  // of the server's messages), whatever offset the source system wrote.
  function timeOf(at) {
    const ms = Date.parse(at || '');
    if (!Number.isFinite(ms)) return '--:--:--';
    if (state.tzMin === null) {
      const d = new Date(ms);
      return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds());
    }
    const d = new Date(ms + state.tzMin * 60000);
    return pad2(d.getUTCHours()) + ':' + pad2(d.getUTCMinutes()) + ':' + pad2(d.getUTCSeconds());
  }
  function catName(code) {
    const names = t('cat');
    return (names && names[code]) || TEXT.zh.cat[code] || code || '—';
  }
  const otherColors = new Map();
  function catColor(code) {
    if (CATEGORY_COLORS[code]) return CATEGORY_COLORS[code];
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

  // ---------------------------------------------------------------- stage scaling and charts
  const stage = $('stage');
  let scale = 1;
  let charts = { map: null, markers: null, cats: null };
  let chartDpr = 0;

  function fit() {
    const w = window.innerWidth;
    const h = window.innerHeight;
    scale = Math.min(w / STAGE_W, h / STAGE_H) || 1;
    const x = (w - STAGE_W * scale) / 2;
    const y = (h - STAGE_H * scale) / 2;
    stage.style.transform = 'translate(' + x + 'px,' + y + 'px) scale(' + scale + ')';
    // Charts draw at the scaled resolution, so 3840×2160 is as sharp as 1920×1080.
    const dpr = Math.max(1, (window.devicePixelRatio || 1) * scale);
    Z.layout.scale = scale;
    Z.layout.dpr = dpr;
    if (Math.abs(dpr - chartDpr) > 0.01) initCharts(dpr);
  }

  function initCharts(dpr) {
    for (const c of Object.values(charts)) if (c) c.dispose();
    chartDpr = dpr;
    const opts = { renderer: 'canvas', devicePixelRatio: dpr };
    charts = {
      map: echarts.init($('map'), null, opts),
      markers: echarts.init($('map-markers'), null, opts),
      cats: echarts.init($('chart-categories'), null, opts),
    };
    mapOptionSet = false;
    catsShown = '';
    state.dirty.overview = state.dirty.cases = state.dirty.markers = true;
    scheduleRender();
  }

  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(fit, 150);
  });

  // ---------------------------------------------------------------- regions and the map
  let mapOptionSet = false;
  let mapShown = ''; // what the polygons show: language and open cases per township
  let mapAspect = 0.85;
  let mapBounds = null;

  function apiURL(path) {
    const u = new URL(path, location.href);
    if (TOKEN) u.searchParams.set('token', TOKEN);
    return u.toString();
  }

  let regionsDelay = 1000;
  function loadRegions() {
    fetch(apiURL('api/v1/regions?root=' + encodeURIComponent(REGION) + '&depth=-1'), { cache: 'no-cache', credentials: 'same-origin' })
      .then((r) => {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.json();
      })
      .then((fc) => {
        buildMap(fc);
        state.mapFailed = false;
        $('map-status').hidden = true;
        state.dirty.overview = state.dirty.markers = true;
        scheduleRender();
      })
      .catch((err) => {
        console.warn('regions:', err);
        state.mapFailed = true;
        setI18n($('map-status'), 'map_failed');
        setTimeout(loadRegions, regionsDelay);
        regionsDelay = Math.min(BACKOFF_MAX, regionsDelay * 2);
      });
  }

  function buildMap(fc) {
    const features = ((fc && fc.features) || []).filter((f) => f && f.geometry && f.properties);
    // Levels are depths in the whole tree; the shown root may sit below the top (?region=).
    let top = Infinity;
    for (const f of features) top = Math.min(top, Number(f.properties.level) || 0);
    let root = null;
    const towns = [];
    const grids = [];
    for (const f of features) {
      const p = f.properties;
      const code = String(p.code);
      const level = (Number(p.level) || 0) - top;
      state.regions.set(code, { code, name: p.name || code, parent: p.parent || '', level });
      if (level === 0 && !root) root = f;
      else if (level === 1) towns.push(f);
      else if (level === 2) grids.push(f);
    }
    // Name the children's level after their kind (a city's children are counties).
    if (towns.some((f) => f.properties.kind === 'county')) {
      Object.assign(TEXT.zh, { rank_title: '区县排名 · 今日', rank_name: '区（县）' });
      Object.assign(TEXT.en, { rank_title: 'Counties · today', rank_name: 'County' });
      applyLang();
    }
    if (!root && features.length) root = features[0];
    if (root) {
      state.rootName = root.properties.name || '';
      updateTitle();
    }
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
    let minX = 180, minY = 90, maxX = -180, maxY = -90;
    const visit = (c) => {
      if (typeof c[0] === 'number') {
        minX = Math.min(minX, c[0]); maxX = Math.max(maxX, c[0]);
        minY = Math.min(minY, c[1]); maxY = Math.max(maxY, c[1]);
      } else for (const x of c) visit(x);
    };
    if (root && root.geometry) visit(root.geometry.coordinates);
    if (minX <= maxX) {
      mapBounds = [[minX, maxY], [maxX, minY]];
      mapAspect = Math.cos(((minY + maxY) / 2) * Math.PI / 180);
    }
    echarts.registerMap('zhili', { type: 'FeatureCollection', features: mapFeatures });
    // The marker layer's map is the root outline only: with the same boundingCoords and box it
    // projects exactly like the full map, at a fraction of the drawing cost.
    echarts.registerMap('zhili-outline', { type: 'FeatureCollection', features: mapBounds && root ? layer('R', [root]) : mapFeatures });
    state.mapReady = true;
    mapOptionSet = false;
  }

  // geoLayout is shared by the polygon and the marker charts, so both project alike.
  function geoLayout(map) {
    return {
      map,
      roam: false,
      silent: true,
      aspectScale: mapAspect,
      boundingCoords: mapBounds || undefined,
      left: 16,
      right: 16,
      top: 8,
      bottom: 56,
      itemStyle: { areaColor: 'rgba(0,0,0,0)', borderWidth: 0, borderColor: 'rgba(0,0,0,0)' },
      label: { show: false },
      emphasis: { disabled: true },
      select: { disabled: true },
      regions: [],
    };
  }

  // labelPoint returns the centroid of the largest ring of a (Multi)Polygon, in lon/lat.
  function labelPoint(g) {
    const rings = g.type === 'MultiPolygon' ? g.coordinates.map((p) => p[0]) : [g.coordinates[0]];
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
    return best ? best.p : g.coordinates[0][0];
  }

  // Township labels: placed when the map is laid out, their texts updated with the overview.
  const labelsEl = $('map-labels');
  const labelEls = new Map(); // code -> {el, text}
  function placeLabels() {
    labelsEl.textContent = '';
    labelEls.clear();
    for (const [code, p] of state.townCenters) {
      const xy = charts.map.convertToPixel({ geoIndex: 0 }, p);
      if (!xy) continue;
      const el = document.createElement('div');
      el.className = 'town-label';
      el.style.left = xy[0].toFixed(1) + 'px';
      el.style.top = xy[1].toFixed(1) + 'px';
      labelsEl.appendChild(el);
      labelEls.set(code, { el, text: '' });
    }
  }
  function updateLabels() {
    const children = (state.overview && state.overview.children) || {};
    for (const [code, l] of labelEls) {
      const ch = children[code];
      const html = '<b>' + esc(regionName(code)) + '</b><span>' + esc(t('open')) + ' ' + num(ch && ch.open) + '</span>';
      if (html !== l.text) {
        l.text = html;
        l.el.innerHTML = html;
      }
    }
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
      geo: geoLayout('zhili-outline'),
      series: [
        {
          id: 'markers', type: 'scatter', coordinateSystem: 'geo', geoIndex: 0, silent: true,
          symbolSize: 12, animation: false, z: 5, data: [],
        },
        {
          id: 'ripples', type: 'effectScatter', coordinateSystem: 'geo', geoIndex: 0, silent: true,
          symbolSize: 16, zlevel: 1, z: 6, animation: false,
          showEffectOn: 'render',
          rippleEffect: { brushType: 'stroke', scale: 4.5, period: 3, number: 2 },
          data: [],
        },
      ],
    };
  }

  function mapRegions() {
    const children = (state.overview && state.overview.children) || {};
    let max = 0;
    for (const c of state.townships) max = Math.max(max, num(children[c] && children[c].open));
    const out = [];
    for (const c of state.townships) {
      out.push({ name: 'T' + c, itemStyle: { areaColor: scaleColor(num(children[c] && children[c].open), max), opacity: 0.92 } });
    }
    for (const [code, r] of state.regions) {
      if (r.level === 2) {
        out.push({ name: 'G' + code, itemStyle: { areaColor: 'rgba(0,0,0,0)', borderColor: 'rgba(150,215,255,0.38)', borderWidth: 1, borderType: [4, 3] } });
      }
    }
    for (const c of state.townships) {
      out.push({ name: 'O' + c, itemStyle: { areaColor: 'rgba(0,0,0,0)', borderColor: '#6fdcff', borderWidth: 2 } });
    }
    for (const [code, r] of state.regions) {
      if (r.level === 0) {
        out.push({ name: 'R' + code, itemStyle: { areaColor: state.townships.length ? 'rgba(0,0,0,0)' : SCALE[1], borderColor: '#8cf0ff', borderWidth: 3.5, shadowColor: 'rgba(47,211,255,0.9)', shadowBlur: 18 } });
      }
    }
    $('legend-min').textContent = '0';
    $('legend-max').textContent = String(Math.max(max, 1));
    return out;
  }

  function markerSeries() {
    const now = Date.now() + state.skewMs;
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
      if ((m.urgent || age < RIPPLE_NEW_MS) && ripples.length < MAX_RIPPLES) ripples.push(item);
      else plain.push(item);
    }
    Z.markers = state.markers.length;
    return [{ id: 'markers', data: plain }, { id: 'ripples', data: ripples }];
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
    if (!renderer) renderer = window.ZhiliLive.util.scheduler(render);
    renderer.schedule();
  }

  function render() {
    const t0 = performance.now();
    const d = state.dirty;
    state.dirty = { overview: false, cases: false, markers: false, polygons: false, lang: false };
    try {
      if (d.lang) applyLang();
      if (d.overview || d.lang) renderOverview();
      if (d.cases || d.lang) renderFeed();
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
          const children = (state.overview && state.overview.children) || {};
          const key = lang + ':' + state.townships.map((c) => num(children[c] && children[c].open)).join(',');
          if (key !== mapShown && throttle(throttles.polygons, POLYGONS_EVERY_MS, t0, 'polygons', d.lang)) {
            mapShown = key;
            charts.map.setOption({ geo: { regions: mapRegions() } });
          }
        }
        if ((d.markers || d.cases) && throttle(throttles.markers, MARKERS_EVERY_MS, t0, 'markers', false)) {
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
      checkStale();
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
      updateTitle();
    }
    for (const key of Object.keys(flips)) {
      const v = typeof totals[key] === 'number' ? totals[key] : null;
      Z.counters[key] = v;
      flips[key].set(v);
    }
    $('counter-overdue').classList.toggle('alarm', num(totals.overdue) > 0);
    $('unlocated').textContent = String(num(totals.unlocated_today));

    const flows = o.flows || {};
    $('flow-up').textContent = String(num(flows.up));
    $('flow-down').textContent = String(num(flows.down));
    $('flow-horizontal').textContent = String(num(flows.horizontal));

    const rates = o.rates || {};
    setRate('rate-response', rates.response);
    setRate('rate-resolution', rates.resolution);
    setRate('rate-satisfaction', rates.satisfaction);

    renderCategories(o.by_category || {});
    renderRanking(o.children || {});
  }

  function setRate(id, v) {
    const el = $(id);
    const ring = el.querySelector('.ring');
    const val = el.querySelector('.rate-value');
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      val.textContent = '—';
      ring.style.setProperty('--p', '0');
      return;
    }
    const pct = Math.max(0, Math.min(100, v * 100));
    val.textContent = (pct >= 99.95 || pct === 0 ? pct.toFixed(0) : pct.toFixed(1)) + '%';
    ring.style.setProperty('--p', pct.toFixed(2));
    ring.style.setProperty('--c', pct >= 90 ? '#2ee59d' : pct >= 75 ? '#2fd3ff' : pct >= 60 ? '#ffb020' : '#ff3b4e');
  }

  let catsShown = '';
  const catList = $('cat-list');
  function renderCategories(byCat) {
    if (!charts.cats) return;
    // The known modules always, in the taxonomy's order; other codes after them by count.
    const order = Object.keys(CATEGORY_COLORS);
    const extra = Object.keys(byCat).filter((c) => !CATEGORY_COLORS[c] && num(byCat[c]) > 0);
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
    const key = lang + JSON.stringify(rows);
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
      animationDuration: 500,
      animationDurationUpdate: 300,
      textStyle: { fontFamily: getComputedStyle(document.body).fontFamily },
      title: {
        text: String(total), subtext: total ? t('cat_total') : t('no_data'),
        left: 'center', top: '37%',
        textStyle: { color: '#ffffff', fontSize: 38, fontWeight: 'bold' },
        subtextStyle: { color: '#8fb2d6', fontSize: 17 },
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

  // Ranking: townships by new today, then open; the list scrolls when it does not fit.
  const ranking = $('ranking');
  let rankShown = '';
  let rankOffset = 0;
  function renderRanking(children) {
    const rows = Object.keys(children).map((code) => ({ code, ...children[code] }));
    rows.sort((a, b) => num(b.new_today) - num(a.new_today) || num(b.open) - num(a.open) || (a.code < b.code ? -1 : 1));
    const maxNew = rows.reduce((m, r) => Math.max(m, num(r.new_today)), 0) || 1;
    const html = rows.map((r, i) => '<li' + (num(r.new_today) + num(r.open) > 0 ? ' class="active"' : '') + '>' +
      '<span class="rank-no">' + (i + 1) + '</span>' +
      '<span class="rank-name">' + esc(r.name || regionName(r.code)) + '</span>' +
      '<span class="rank-new">' + num(r.new_today) + '</span>' +
      '<span class="rank-open">' + num(r.open) + '</span>' +
      '<span class="rank-overdue' + (num(r.overdue) > 0 ? ' hot' : '') + '">' + num(r.overdue) + '</span>' +
      '<i class="bar" style="width:' + Math.round(200 * num(r.new_today) / maxNew) + 'px"></i>' +
      '</li>').join('');
    if (html !== rankShown) {
      rankShown = html;
      ranking.innerHTML = html;
    }
  }
  function scrollRanking() {
    const rows = ranking.children.length;
    const vp = ranking.parentElement.clientHeight;
    const rowH = 50;
    const visible = Math.max(1, Math.floor(vp / rowH));
    if (rows <= visible) {
      rankOffset = 0;
    } else {
      rankOffset = (rankOffset + 1) % (rows - visible + 2);
      if (rankOffset > rows - visible) rankOffset = 0; // rest one step at the end, then return
    }
    ranking.style.transform = 'translateY(' + (-rankOffset * rowH) + 'px)';
  }

  // Feed: one row per case, the newest on top. Rows are reused by case id, so an update does not
  // restart the highlight of rows that arrived a moment ago.
  const feedEl = $('feed');
  const FEED_ROWS = 12;
  const feedRows = new Map(); // case_id -> {li, html}
  function feedRowHTML(e) {
    const status = e.status || STATUS_OF_TYPE[e.type] || '';
    const statusText = (t('status')[status]) || status || '—';
    const place = e.town ? regionName(e.town) : t('unlocated');
    const prio = e.priority === 'urgent' || e.priority === 'critical'
      ? '<b class="feed-prio ' + e.priority + '">' + esc(t('prio')[e.priority]) + '</b>' : '';
    return '<span class="feed-time">' + esc(timeOf(e.at)) + '</span>' +
      '<span class="feed-cat" style="background:' + catColor(e.category) + '">' + esc(catName(e.category)) + '</span>' +
      '<span class="feed-place"><span class="nm">' + esc(place) + '</span>' + prio + '</span>' +
      '<span class="feed-status s-' + esc(status) + '">' + esc(statusText) + '</span>';
  }
  function renderFeed() {
    const items = [];
    for (const e of state.feed.values()) items.push(e);
    items.reverse();
    const shown = items.slice(0, FEED_ROWS);
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
        if (now - e.seenAt < 3000) li.className = 'fresh';
        row = { li, html: '' };
        feedRows.set(e.case_id, row);
      }
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
    updateTitle();
    updateClock();
    catsShown = '';
    rankShown = '';
  }
  function updateTitle() {
    const title = (state.rootName || '') + t('title_suffix');
    $('title').textContent = title.trim();
    document.title = title.trim();
  }
  $('lang-switch').addEventListener('click', () => {
    lang = lang === 'zh' ? 'en' : 'zh';
    storageSet('zhili.lang', lang);
    state.dirty.lang = true;
    scheduleRender();
  });

  // ---------------------------------------------------------------- clock and stale banner
  function updateClock() {
    // The clock shows the deployment's time (the offset of the server's "at"), like the data.
    const ms = Date.now() + state.skewMs;
    let y, mo, da, wd, h, mi, se;
    if (state.tzMin === null) {
      const d = new Date(ms);
      [y, mo, da, wd, h, mi, se] = [d.getFullYear(), d.getMonth(), d.getDate(), d.getDay(), d.getHours(), d.getMinutes(), d.getSeconds()];
    } else {
      const d = new Date(ms + state.tzMin * 60000);
      [y, mo, da, wd, h, mi, se] = [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCDay(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()];
    }
    $('clock-time').textContent = pad2(h) + ':' + pad2(mi) + ':' + pad2(se);
    $('clock-date').textContent = y + '-' + pad2(mo + 1) + '-' + pad2(da) + ' ' + t('weekdays')[wd];
    $('updated-at').textContent = state.lastDataAt ? timeOf(state.lastDataAt) : '--:--:--';
  }

  // ---------------------------------------------------------------- WebSocket (live.js)
  const live = window.ZhiliLive({
    state, Z, t, token: TOKEN, wsPath: 'ws', staleMs: STALE_MS, graceMs: DOWN_GRACE_MS, pingMs: PING_MS,
    backoffMin: BACKOFF_MIN, backoffMax: BACKOFF_MAX,
    apply(m) {
      if (m.topic === TOPIC_OVERVIEW) {
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
      if (tzChanged) updateClock();
      $('updated-at').textContent = timeOf(at);
    },
  });
  const connect = live.connect;
  function checkStale() { live.checkStale(); }

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
    const at = Date.parse(ev.at);
    const fresh = !Number.isFinite(at) || Date.now() + state.skewMs - at < MARKER_MS;
    if (ev.type === 'case.reported' && fresh && Array.isArray(ev.point) && ev.point.length >= 2) {
      state.markers.push({
        id: ev.id, lon: Number(ev.point[0]), lat: Number(ev.point[1]), cat: ev.category,
        urgent: ev.priority === 'urgent' || ev.priority === 'critical',
        at: Number.isFinite(at) ? at : Date.now() + state.skewMs,
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

  // updateFeed puts a case event into the feed; a new event moves its case to the top.
  function updateFeed(ev, fresh, live) {
    const id = ev.case_id || ev.id;
    if (!id) return;
    const prev = state.feed.get(id);
    const entry = {
      case_id: id,
      type: ev.type,
      status: ev.status || STATUS_OF_TYPE[ev.type] || (prev && prev.status) || '',
      category: ev.category || (prev && prev.category) || '',
      priority: ev.priority || (prev && prev.priority) || 'normal',
      town: townOf(ev.region) || (prev && prev.town) || '',
      at: ev.at || (prev && prev.at) || '',
      seenAt: fresh && live ? performance.now() : (prev ? prev.seenAt : -Infinity),
    };
    if (prev && !fresh) {
      state.feed.set(id, entry); // keep its place
      return;
    }
    state.feed.delete(id);
    state.feed.set(id, entry);
    while (state.feed.size > MAX_FEED) state.feed.delete(state.feed.keys().next().value);
  }

  // settled reports whether everything received is drawn and no finite animation runs (the
  // flip of a counter, a chart transition): screenshots of tests wait for it.
  Z.settled = () => !(renderer && renderer.pending()) && !throttles.markers.timer && !throttles.polygons.timer &&
    [charts.map, charts.cats].every((c) => c && c.getZr().animation.isFinished()) &&
    document.getAnimations().every((a) => a.playState !== 'running' ||
      (a.effect && a.effect.getTiming().iterations === Infinity));

  // ---------------------------------------------------------------- start
  if (KIOSK) document.body.classList.add('kiosk');
  fit();
  if (!charts.map) initCharts(Math.max(1, window.devicePixelRatio || 1));
  state.dirty.lang = true;
  applyLang();
  loadRegions();
  connect();
  setInterval(() => { updateClock(); checkStale(); }, 1000);
  setInterval(() => {
    if (state.markers.length) {
      state.dirty.markers = true;
      scheduleRender();
    }
  }, 5000);
  setInterval(scrollRanking, 4000);
  updateClock();
  checkStale();
})();
