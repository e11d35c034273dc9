// kit-chrome.js — what frames every page (window.Zhili.chrome): the title bar (#title and the
// document title), the clock (#clock-date, #clock-time) and data time (#updated-at) in the
// deployment's zone, the 中/EN switch (#lang-switch, texts marked data-i18n / data-i18n-ph), the
// stale/offline banner (#stale-banner, #stale-text, #stale-detail; live.js says when) and the
// wall playlists (?playlist=).
(function (root) {
  'use strict';
  const Zhili = root.Zhili || (root.Zhili = {});
  const get = (id) => document.getElementById(id);

  // frame returns a page's chrome. o:
  //   L        the page's language state (Zhili.texts.i18n)
  //   clock    the page's clock (Zhili.time.clock(state))
  //   Z        the page's test hooks (clockText is set there), optional
  //   title()  the full title, optional (pages with a fixed title leave it to data-i18n)
  //   lastDataAt()  the time of the last data shown as 数据更新于, optional
  //   onLang() the page's own texts, redone after the shared ones on a language change
  //   onSwitch()    the 中/EN switch was used (L already switched)
  //   onNames()     the deployment's catalogue arrived: names of categories and departments
  //                 changed (default: onSwitch, else applyLang)
  //   token    the token that fetches the catalogue (default: the page's ?token=)
  function frame(o) {
    const L = o.L;
    const t = L.t;

    function setI18n(el, key) {
      el.dataset.i18n = key;
      el.textContent = t(key);
    }

    function updateTitle() {
      if (!o.title) return;
      // Without a region name (map not loaded yet) a suffix loses its leading separator.
      const title = String(o.title()).trim().replace(/^·\s*/, '');
      const el = get('title');
      if (el) el.textContent = title;
      document.title = title;
    }

    // updateClock shows the deployment's time (the offset of the server's "at"), like the data.
    function updateClock() {
      const c = o.clock;
      const p = c.parts(c.now());
      const pad2 = Zhili.pad2;
      const text = pad2(p[4]) + ':' + pad2(p[5]) + ':' + pad2(p[6]);
      if (o.Z) o.Z.clockText = text;
      const time = get('clock-time');
      if (time) time.textContent = text;
      const date = get('clock-date');
      if (date) date.textContent = p[0] + '-' + pad2(p[1] + 1) + '-' + pad2(p[2]) + ' ' + t('weekdays')[p[3]];
      if (o.lastDataAt) noteData(o.lastDataAt());
    }
    // noteData shows the time of the last data (a message's "at").
    function noteData(at) {
      const el = get('updated-at');
      if (el) el.textContent = at ? o.clock.timeOf(at) : '--:--:--';
    }

    // applyLang redoes every text for the current language.
    function applyLang() {
      document.documentElement.lang = L.htmlLang();
      document.body.classList.toggle('lang-en', L.lang === 'en');
      for (const el of document.querySelectorAll('[data-i18n]')) {
        const v = t(el.dataset.i18n);
        if (typeof v === 'string') el.textContent = v;
      }
      for (const el of document.querySelectorAll('[data-i18n-ph]')) el.placeholder = t(el.dataset.i18nPh);
      const sw = get('lang-switch');
      if (sw) sw.textContent = t('lang_switch');
      updateTitle();
      if (o.clock) updateClock();
      if (o.onLang) o.onLang();
    }

    const sw = get('lang-switch');
    if (sw) {
      sw.addEventListener('click', () => {
        L.toggle();
        if (o.onSwitch) o.onSwitch();
      });
    }

    // startClock ticks just after each second of the deployment's clock, so that the pages of a
    // wall (one per panel) turn it together, and calls each() after the clock. One timer pending
    // at a time.
    function startClock(each) {
      const tick = () => {
        updateClock();
        if (each) each();
        const ms = o.clock.now();
        setTimeout(tick, 1005 - (((ms % 1000) + 1000) % 1000));
      };
      tick();
    }

    // The catalogue's names replace the built-in ones when they arrive (once per page).
    const token = o.token !== undefined ? o.token : new URLSearchParams(location.search).get('token');
    Zhili.texts.loadCatalog(token, () => (o.onNames || o.onSwitch || applyLang)());

    return { setI18n, updateTitle, updateClock, noteData, applyLang, startClock };
  }

  // staleBanner shows what live.js found (s): {stale, changed, show, refused, topicError, noToken,
  // silentSec (null: never heard), serverStale, serverReason}, in the texts of t.
  function staleBanner(s, t) {
    if (s.changed) document.body.classList.toggle('stale', s.stale);
    const banner = get('stale-banner');
    if (!banner) return;
    if (banner.hidden === s.show) banner.hidden = !s.show;
    if (!s.show) return;
    if (s.refused) {
      get('stale-text').textContent = t('refused');
      get('stale-detail').textContent = s.topicError;
      return;
    }
    get('stale-text').textContent = s.noToken ? t('no_token') : t('stale');
    let detail = s.silentSec === null ? '' : String(t('stale_for')).replace('{n}', s.silentSec);
    if (s.serverStale) {
      const both = Zhili.texts.COMMON;
      detail = both.zh.server_stale + ' / ' + both.en.server_stale + (s.serverReason ? ' (' + s.serverReason + ')' : '');
    }
    get('stale-detail').textContent = detail;
  }

  // Playlists for wall screens: ?playlist=overview,hotspots,whistles&interval=60 rotates through
  // the screens every interval seconds (default 60, at least 10), keeping every other parameter
  // (token, kiosk, lang, region…). A rotation happens only when the server answers /healthz, so
  // a wall never turns to an error page while the server or the network is away: it keeps the
  // current screen (flagged stale by its banner) and tries again at the next interval.
  function playlist() {
    const params = new URLSearchParams(location.search);
    const list = (params.get('playlist') || '').split(',').map((s) => s.trim()).filter((s) => /^[a-z0-9-]+$/.test(s));
    if (list.length < 2) return;
    const interval = Zhili.clampNum(params.get('interval'), 60, 10, 86400) * 1000;
    const current = location.pathname === '/' ? 'overview' : location.pathname.replace(/^\/screen\//, '');
    const at = list.indexOf(current);
    const next = list[(at + 1) % list.length];
    Zhili.chrome.playlistNext = next;
    const go = () => {
      fetch('/healthz', { cache: 'no-store' }).then((r) => {
        if (!r.ok) throw new Error('health ' + r.status);
        location.assign((next === 'overview' ? '/' : '/screen/' + next) + location.search);
      }).catch(() => setTimeout(go, interval));
    };
    setTimeout(go, interval);
  }

  Zhili.chrome = { frame, staleBanner, playlistNext: '' };
  if (typeof location !== 'undefined' && typeof document !== 'undefined') playlist();
})(typeof window !== 'undefined' ? window : globalThis);
