// live.js — the live connection every wall-screen page shares: one WebSocket to /ws, topics
// subscribed and resumed by seq after a reconnect (exponential backoff with jitter), seq gaps
// re-subscribed with `since`, pings, the deployment's clock taken from message times, and the
// stale banner (#stale-banner, #stale-text, #stale-detail). Pages supply what a topic's data
// means to them.
(function () {
  'use strict';

  // ZhiliLive(o) returns {connect, send, checkStale}. o:
  //   state   {topics: Map(topic → {seq, resyncAt}), lastMsgAt, downSince, topicError,
  //            lastDataAt, skewMs, tzMin} — shared with the page
  //   Z       the page's test hooks (connected, frames, lastFrameAt, reconnects, errors, seq,
  //           stale, ready)
  //   token, wsPath, staleMs, graceMs, pingMs, backoffMin, backoffMax, t (texts)
  //   apply(m)          apply a snapshot or delta message's data (seq already checked)
  //   onChange(arrived) some topic's data changed (arrived: performance.now() of the frame)
  //   onTime(at)        a message time was noted; tzChanged when the offset changed
  window.ZhiliLive = function (o) {
    const state = o.state;
    const Z = o.Z;
    const $ = (id) => document.getElementById(id);
    let ws = null;
    let attempt = 0;
    let reconnectTimer = 0;
    let pingTimer = 0;

    function wsURL() {
      const u = new URL(o.wsPath, location.href);
      u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
      if (o.token) u.searchParams.set('token', o.token);
      return u.toString();
    }

    function connect() {
      reconnectTimer = 0;
      let sock;
      try {
        sock = new WebSocket(wsURL());
      } catch (err) {
        console.warn('ws:', err);
        scheduleReconnect();
        return;
      }
      ws = sock;
      sock.onopen = () => {
        Z.connected = true;
        state.lastMsgAt = performance.now();
        for (const [topic, ts] of state.topics) {
          const msg = { op: 'sub', topic };
          if (ts.seq !== null) msg.since = ts.seq;
          send(msg);
        }
        clearInterval(pingTimer);
        pingTimer = setInterval(() => send({ op: 'ping' }), o.pingMs);
      };
      sock.onmessage = (ev) => onFrame(ev.data);
      sock.onerror = () => { /* onclose follows */ };
      sock.onclose = () => {
        if (ws !== sock) return;
        dropSocket('closed');
      };
    }

    function dropSocket(reason) {
      const sock = ws;
      ws = null;
      if (Z.connected) state.downSince = performance.now(); // failed reconnects do not restart the grace
      Z.connected = false;
      clearInterval(pingTimer);
      if (sock) {
        sock.onopen = sock.onmessage = sock.onerror = sock.onclose = null;
        try { sock.close(); } catch (e) { /* already closed */ }
      }
      console.info('ws: ' + reason + ', reconnecting');
      scheduleReconnect();
    }

    function scheduleReconnect() {
      if (reconnectTimer) return;
      const base = Math.min(o.backoffMax, o.backoffMin * Math.pow(2, attempt));
      attempt = Math.min(attempt + 1, 10);
      const delay = Math.round(base * (0.7 + 0.6 * Math.random())); // ±30 % jitter
      Z.reconnects++;
      reconnectTimer = setTimeout(connect, Math.min(o.backoffMax, delay));
    }

    function send(msg) {
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
    }

    function onFrame(raw) {
      const arrived = performance.now();
      state.lastMsgAt = arrived;
      Z.lastFrameAt = Date.now();
      Z.frames++;
      let msgs;
      try {
        msgs = JSON.parse(raw);
      } catch (err) {
        console.warn('ws: bad frame', err);
        return;
      }
      if (!Array.isArray(msgs)) msgs = [msgs];
      let changed = false;
      for (const m of msgs) {
        if (m && typeof m === 'object' && onMessage(m)) changed = true;
      }
      attempt = 0; // the server answers: the next outage starts again at the shortest wait
      if (Z.stale) checkStale();
      if (changed) o.onChange(arrived);
    }

    // onMessage applies one message and reports whether a topic's data changed. Messages of a
    // topic the page does not (or no longer) show are ignored.
    function onMessage(m) {
      switch (m.op) {
        case 'pong':
          return false;
        case 'status':
          // The server's own live feed (its bus) is down: it keeps serving the last state.
          state.serverStale = !!m.stale;
          state.serverReason = m.reason || '';
          checkStale();
          return false;
        case 'error':
          console.warn('ws error', m.topic, m.code, m.message);
          Z.errors.push({ topic: m.topic, code: m.code, message: m.message });
          if (Z.errors.length > 10) Z.errors.shift();
          if (state.topics.has(m.topic)) {
            state.topicError = (m.code || 'error') + (m.message ? ': ' + m.message : '');
            checkStale();
          }
          return false;
        case 'snapshot': {
          const ts = state.topics.get(m.topic);
          if (!ts) return false;
          state.topicError = '';
          ts.seq = m.seq;
          ts.resyncAt = 0;
          Z.seq[m.topic] = m.seq;
          noteAt(m.at);
          o.apply(m);
          return true;
        }
        case 'delta': {
          const ts = state.topics.get(m.topic);
          if (!ts || ts.seq === null || typeof m.seq !== 'number') return false;
          if (m.seq <= ts.seq) return false; // already applied (a resumed stream may repeat)
          if (m.seq !== ts.seq + 1) {
            resync(m.topic, ts);
            return false;
          }
          ts.seq = m.seq;
          ts.resyncAt = 0;
          Z.seq[m.topic] = m.seq;
          noteAt(m.at);
          o.apply(m);
          return true;
        }
        default:
          return false;
      }
    }

    // resync asks the server to resume a topic after a seq gap; at most once per 3 s per topic.
    function resync(topic, ts) {
      const now = performance.now();
      if (ts.resyncAt && now - ts.resyncAt < 3000) return;
      ts.resyncAt = now;
      send({ op: 'sub', topic, since: ts.seq });
    }

    // noteAt keeps the server's clock (skew and UTC offset) from a message's "at".
    function noteAt(at) {
      if (!at) return;
      state.lastDataAt = at;
      const ms = Date.parse(at);
      if (Number.isFinite(ms)) state.skewMs = ms - Date.now();
      const tz = /(?:([+-])(\d\d):?(\d\d)|Z)$/.exec(at);
      const tzMin = tz ? (tz[1] ? (tz[1] === '-' ? -1 : 1) * (Number(tz[2]) * 60 + Number(tz[3])) : 0) : null;
      const tzChanged = tzMin !== null && tzMin !== state.tzMin;
      if (tzChanged) state.tzMin = tzMin;
      o.onTime(at, tzChanged);
    }

    const banner = $('stale-banner');
    function checkStale() {
      const t = o.t;
      const now = performance.now();
      const open = ws !== null && ws.readyState === WebSocket.OPEN;
      const silentMs = now - state.lastMsgAt;
      let stale;
      if (!open) stale = now - state.downSince > o.graceMs || !Z.ready;
      else stale = state.lastMsgAt === 0 || silentMs > o.staleMs || !!state.serverStale;
      if (open && state.lastMsgAt > 0 && silentMs > 2 * o.staleMs) {
        // A half-open connection: nothing, not even a pong, for twice the stale time.
        dropSocket('silent for ' + Math.round(silentMs / 1000) + ' s');
      }
      if (stale !== Z.stale) {
        Z.stale = stale;
        document.body.classList.toggle('stale', stale);
      }
      // The banner itself waits for the grace period, also at start-up. A refused subscription
      // (forbidden, unknown topic) is shown the same way: no data comes.
      const refused = !stale && state.topicError !== '';
      const show = refused || (stale && (Z.ready || now > o.graceMs * 2));
      if (banner.hidden === show) banner.hidden = !show;
      if (show) {
        if (refused) {
          $('stale-text').textContent = t('refused');
          $('stale-detail').textContent = state.topicError;
        } else {
          $('stale-text').textContent = o.token || Z.connected ? t('stale') : t('no_token');
          const since = state.lastMsgAt > 0 ? Math.round(silentMs / 1000) : null;
          let detail = since === null ? '' : t('stale_for').replace('{n}', since);
          if (open && state.serverStale) detail = '服务器实时数据中断 / server live feed down' + (state.serverReason ? ' (' + state.serverReason + ')' : '');
          $('stale-detail').textContent = detail;
        }
      }
    }

    return { connect, send, checkStale };
  };

  // Small helpers every page uses.
  window.ZhiliLive.util = {
    clampNum(v, def, min, max) {
      const n = Number(v);
      if (v === null || v === '' || !Number.isFinite(n)) return def;
      return Math.min(max, Math.max(min, n));
    },
    storageGet(k) {
      try { return localStorage.getItem(k); } catch (e) { return null; }
    },
    storageSet(k, v) {
      try { localStorage.setItem(k, v); } catch (e) { /* kiosk browsers may forbid storage */ }
    },
    $(id) { return document.getElementById(id); },
    // canvasFor sizes canvas to w×h CSS pixels drawn at dpr device pixels each, clears it and
    // returns its 2D context with the identity transform (scale by dpr to draw in CSS pixels).
    canvasFor(canvas, w, h, dpr) {
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
      return ctx;
    },
    // polygonsOf returns the polygons of a GeoJSON (Multi)Polygon geometry.
    polygonsOf(g) {
      if (g.type === 'Polygon') return [g.coordinates];
      if (g.type === 'MultiPolygon') return g.coordinates;
      return [];
    },
    // labelPoint returns the centroid of the largest outer ring of a (Multi)Polygon, in lon/lat.
    labelPoint(g) {
      const rings = window.ZhiliLive.util.polygonsOf(g).map((p) => p[0]);
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
    },
    esc(s) {
      return String(s == null ? '' : s).replace(/[&<>"']/g, (c) => ({
        '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
      })[c]);
    },
    num(v) { return typeof v === 'number' && Number.isFinite(v) ? v : 0; },
    pad2(n) { return n < 10 ? '0' + n : String(n); },

    // scheduler coalesces render requests into one call of fn per frame: requestAnimationFrame,
    // with a 250 ms timer because animation frames pause in hidden tabs.
    scheduler(fn) {
      let queued = false;
      let timer = 0;
      const run = () => {
        if (!queued) return;
        queued = false;
        clearTimeout(timer);
        fn();
      };
      return {
        schedule() {
          if (queued) return;
          queued = true;
          requestAnimationFrame(run);
          timer = setTimeout(run, 250);
        },
        pending: () => queued,
      };
    },

    // apiURL is a server-root API URL carrying the viewer token.
    apiURL(path, token) {
      const u = new URL(path, location.href);
      if (token) u.searchParams.set('token', token);
      return u.toString();
    },

    // fitStage scales a fixed-size stage (w×h) into the window, centred, on load and on resize,
    // and calls onScale(scale, dpr) so canvases can draw at the scaled resolution.
    fitStage(stage, w, h, onScale) {
      const fit = () => {
        const ww = window.innerWidth;
        const wh = window.innerHeight;
        const scale = Math.min(ww / w, wh / h) || 1;
        const x = (ww - w * scale) / 2;
        const y = (wh - h * scale) / 2;
        stage.style.transform = 'translate(' + x + 'px,' + y + 'px) scale(' + scale + ')';
        onScale(scale, Math.max(1, (window.devicePixelRatio || 1) * scale));
      };
      let timer = 0;
      window.addEventListener('resize', () => {
        clearTimeout(timer);
        timer = setTimeout(fit, 150);
      });
      fit();
    },

    // loadRegions fetches the region tree under region (GeoJSON, all levels) and calls onLoad;
    // on failure it calls onFail and retries with backoff up to backoffMax.
    loadRegions(region, token, backoffMax, onLoad, onFail) {
      let delay = 1000;
      const load = () => {
        fetch(window.ZhiliLive.util.apiURL('/api/v1/regions?root=' + encodeURIComponent(region) + '&depth=-1', token),
          { cache: 'no-cache', credentials: 'same-origin' })
          .then((r) => {
            if (!r.ok) throw new Error('HTTP ' + r.status);
            return r.json();
          })
          .then(onLoad)
          .catch((err) => {
            console.warn('regions:', err);
            onFail(err);
            setTimeout(load, delay);
            delay = Math.min(backoffMax, delay * 2);
          });
      };
      load();
    },
  };

  // Playlists for wall screens: ?playlist=overview,hotspots,whistles&interval=60 rotates through
  // the screens every interval seconds (default 60, at least 10), keeping every other parameter
  // (token, kiosk, lang, region…). A rotation happens only when the server answers /healthz, so
  // a wall never turns to an error page while the server or the network is away: it keeps the
  // current screen (flagged stale by its banner) and tries again at the next interval.
  (function playlist() {
    const params = new URLSearchParams(location.search);
    const list = (params.get('playlist') || '').split(',').map((s) => s.trim()).filter((s) => /^[a-z0-9-]+$/.test(s));
    if (list.length < 2) return;
    const interval = window.ZhiliLive.util.clampNum(params.get('interval'), 60, 10, 86400) * 1000;
    const current = location.pathname === '/' ? 'overview' : location.pathname.replace(/^\/screen\//, '');
    const at = list.indexOf(current);
    const next = list[(at + 1) % list.length];
    window.ZhiliLive.playlistNext = next;
    const go = () => {
      fetch('/healthz', { cache: 'no-store' }).then((r) => {
        if (!r.ok) throw new Error('health ' + r.status);
        location.assign((next === 'overview' ? '/' : '/screen/' + next) + location.search);
      }).catch(() => setTimeout(go, interval));
    };
    setTimeout(go, interval);
  })();
})();
