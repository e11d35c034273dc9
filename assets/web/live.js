// live.js — the live connection every wall-screen page shares: one WebSocket to /ws, topics
// subscribed and resumed by seq after a reconnect (exponential backoff with jitter), seq gaps
// re-subscribed with `since`, pings, the deployment's clock taken from message times, and when
// the feed is stale (the banner itself is kit-chrome.js's). Pages supply what a topic's data
// means to them. Needs kit.js, kit-time.js and kit-chrome.js loaded before it.
(function () {
  'use strict';

  // ZhiliLive(o) returns {connect, send, checkStale}. o:
  //   state   {topics: Map(topic → {seq, resyncAt}), lastMsgAt, downSince, topicError,
  //            lastDataAt, skewMs, tzMin} — shared with the page
  //   Z       the page's test hooks (connected, frames, lastFrameAt, reconnects, errors, seq,
  //           stale, ready)
  //   token, wsPath, staleMs, graceMs, pingMs, backoffMin, backoffMax, t (texts)
//   banner(s, t)      shows the stale state s (default Zhili.chrome.staleBanner)
  //   apply(m)          apply a snapshot or delta message's data (seq already checked)
  //   onChange(arrived) some topic's data changed (arrived: performance.now() of the frame)
  //   onTime(at)        a message time was noted; tzChanged when the offset changed
  window.ZhiliLive = function (o) {
    const state = o.state;
    const Z = o.Z;
    // The alerts topic of a wall screen (kit-alerts.js): its messages go to the kit, not the page.
    const AL = window.Zhili.alerts;
    if (AL) AL.attach(state, location.search);
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
          // The alerts ticker is an add-on: a server with alerting off (unknown_topic), or a token
          // without it, leaves the ticker hidden instead of covering the screen with a banner.
          if (state.topics.has(m.topic) && !(AL && AL.owns(m.topic))) {
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
          return route(m);
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
          return route(m);
        }
        default:
          return false;
      }
    }

    // route hands a topic's message to the kit (alerts) or to the page; it reports whether the
    // page's data changed.
    function route(m) {
      if (AL && AL.owns(m.topic)) {
        AL.apply(m);
        return false;
      }
      o.apply(m);
      return true;
    }

    // resync asks the server to resume a topic after a seq gap; at most once per 3 s per topic.
    function resync(topic, ts) {
      const now = performance.now();
      if (ts.resyncAt && now - ts.resyncAt < 3000) return;
      ts.resyncAt = now;
      send({ op: 'sub', topic, since: ts.seq });
    }

    // noteAt keeps the server's clock (skew and UTC offset) from a message's "at". A message
    // arrives after its "at" (queues, a busy page), so "at" - now underestimates the skew by
    // that delay: the skew is the largest sample of the last minute (the least delayed
    // message), so the pages of one wall keep the same second even when one of them lags.
    const skewSamples = []; // [performance.now(), at - Date.now()]
    function noteAt(at) {
      if (!at) return;
      state.lastDataAt = at;
      const ms = Date.parse(at);
      if (Number.isFinite(ms)) {
        const t = performance.now();
        skewSamples.push([t, ms - Date.now()]);
        while (skewSamples.length > 1 && (t - skewSamples[0][0] > 60000 || skewSamples.length > 256)) skewSamples.shift();
        let best = -Infinity;
        for (const x of skewSamples) best = Math.max(best, x[1]);
        state.skewMs = best;
      }
      const tzMin = window.Zhili.time.offsetOf(at);
      const tzChanged = tzMin !== null && tzMin !== state.tzMin;
      if (tzChanged) state.tzMin = tzMin;
      o.onTime(at, tzChanged);
    }

    // checkStale decides whether the feed is stale (and drops a half-open socket); the page's
    // banner (o.banner, else Zhili.chrome.staleBanner) shows it.
    const banner = o.banner || window.Zhili.chrome.staleBanner;
    function checkStale() {
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
      const changed = stale !== Z.stale;
      Z.stale = stale;
      // The banner itself waits for the grace period, also at start-up. A refused subscription
      // (forbidden, unknown topic) is shown the same way: no data comes.
      const refused = !stale && state.topicError !== '';
      banner({
        stale, changed, refused,
        show: refused || (stale && (Z.ready || now > o.graceMs * 2)),
        topicError: state.topicError,
        noToken: !o.token && !Z.connected,
        silentSec: state.lastMsgAt > 0 ? Math.round(silentMs / 1000) : null,
        serverStale: open && !!state.serverStale,
        serverReason: state.serverReason || '',
      }, o.t);
    }

    return { connect, send, checkStale };
  };
})();
