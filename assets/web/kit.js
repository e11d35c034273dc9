// kit.js — the core of the pages' shared kit: one global namespace, window.Zhili, filled by
// kit.js (this file: merge-patch, DOM and number helpers), kit-time.js, kit-texts.js,
// kit-map.js and kit-chrome.js. Every page loads them, in that order, before live.js and its own
// script. Plain ES2020, no modules: the build copies the files as they are. The kit files also
// load in Node (tests): nothing here touches the DOM until a function is called.
(function (root) {
  'use strict';
  const Zhili = root.Zhili || (root.Zhili = {});

  // mergePatch applies an RFC 7396 JSON merge patch to target and returns the result: an object
  // patch is merged key by key into target (changed in place when it is an object), null
  // deletes a key, anything else (arrays included) replaces.
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

  // clampNum reads a numeric page parameter: def when missing or not a number, else clamped.
  function clampNum(v, def, min, max) {
    const n = Number(v);
    if (v === null || v === undefined || v === '' || !Number.isFinite(n)) return def;
    return Math.min(max, Math.max(min, n));
  }

  function storageGet(k) {
    try { return localStorage.getItem(k); } catch (e) { return null; }
  }
  function storageSet(k, v) {
    try { localStorage.setItem(k, v); } catch (e) { /* kiosk browsers may forbid storage */ }
  }

  function byId(id) { return document.getElementById(id); }

  function esc(s) {
    return String(s == null ? '' : s).replace(/[&<>"']/g, (c) => ({
      '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
    })[c]);
  }

  // num is v when it is a finite number, else 0.
  function num(v) { return typeof v === 'number' && Number.isFinite(v) ? v : 0; }
  function pad2(n) { return n < 10 ? '0' + n : String(n); }

  // percent formats a ratio (0..1) as a percentage with digits decimals ('' when not a number).
  // With digits 'auto': whole at 0 and from 99.95 %, one decimal otherwise (the overview's rings).
  function percent(v, digits) {
    if (typeof v !== 'number' || !Number.isFinite(v)) return '';
    const p = v * 100;
    if (digits === 'auto') return (p >= 99.95 || p === 0 ? p.toFixed(0) : p.toFixed(1)) + '%';
    return p.toFixed(digits === undefined ? 1 : digits) + '%';
  }

  // fillIn replaces {name} in s by vals.name ('' when vals has no such value).
  function fillIn(s, vals) {
    return String(s).replace(/\{(\w+)\}/g, (_, k) => (vals && vals[k] !== undefined ? vals[k] : ''));
  }

  // setText sets el's text only when it differs (no needless layout).
  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  // scheduler coalesces render requests into one call of fn per frame: requestAnimationFrame,
  // with a 250 ms timer because animation frames pause in hidden tabs.
  function scheduler(fn) {
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
  }

  // apiURL is an API URL (relative to the page) carrying the viewer token.
  function apiURL(path, token) {
    const u = new URL(path, location.href);
    if (token) u.searchParams.set('token', token);
    return u.toString();
  }

  // fetchRetryBusy is fetch that waits and asks again while the server answers 429 busy (this
  // viewer's other history queries, from this page or another, hold every slot): after
  // Retry-After (0.5 to 5 s, a little jitter), up to 10 times; then the 429 reply is returned.
  async function fetchRetryBusy(url, opts) {
    for (let i = 0; ; i++) {
      const r = await fetch(url, opts);
      if (r.status !== 429 || i >= 10) return r;
      const after = Math.min(5, Math.max(0.5, Number(r.headers.get('Retry-After')) || 1));
      await new Promise((ok) => setTimeout(ok, after * 1000 * (0.75 + Math.random() / 2)));
    }
  }

  // getJSON fetches a JSON reply; a failed request rejects with the server's error message.
  function getJSON(url) {
    return fetchRetryBusy(url, { cache: 'no-cache', credentials: 'same-origin' }).then((r) => r.json().catch(() => ({})).then((body) => {
      if (!r.ok) {
        // The error carries the status, the reason code and Retry-After (s) for callers that retry.
        const err = new Error((body && body.error && body.error.message) || 'HTTP ' + r.status);
        err.status = r.status;
        err.code = (body && body.error && body.error.code) || '';
        err.retryAfter = Number(r.headers.get('Retry-After')) || 0;
        throw err;
      }
      return body;
    }));
  }

  // fitStage scales a fixed-size stage (w×h) into the window, centred, on load and on resize,
  // and calls onScale(scale, dpr) so canvases can draw at the scaled resolution.
  function fitStage(stage, w, h, onScale) {
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
  }

  Object.assign(Zhili, {
    mergePatch, clampNum, storageGet, storageSet, $: byId, esc, num, pad2, percent, fmt: fillIn, setText,
    scheduler, apiURL, fetchRetryBusy, getJSON, fitStage,
  });
})(typeof window !== 'undefined' ? window : globalThis);
