// kit-alerts.js — the alerts every live screen shows (window.Zhili.alerts): live.js subscribes
// to alerts:<region> (the page's ?region=, else root) and hands its messages here. A ticker
// along the bottom of the stage lists the alerts not yet closed (severe first), a page of them at
// a time, turning every few seconds; a banner in the title bar, over the title, shows severe
// alerts nobody has acknowledged yet (it covers no figure: the clock and the data time stay).
// Nothing moves between turns: a wall PC repaints a few times a minute, not sixty times a
// second. Kiosk-safe: nothing takes the focus, nothing needs a click, nothing makes a sound;
// both disappear when there is nothing to say. Staff acknowledge and close alerts on /alerts. Needs kit.js first.
(function (root) {
  'use strict';
  const Zhili = root.Zhili || (root.Zhili = {});

  const TEXTS = {
    zh: { severe: '严重', warning: '警告', info: '提示', alerts: '预警', banner: '严重预警', unacked: '待确认',
      more: '另有 {n} 条', where: '请在值班台确认（/alerts）', acked: '已确认' },
    en: { severe: 'Severe', warning: 'Warning', info: 'Info', alerts: 'Alerts', banner: 'Severe alert', unacked: 'to acknowledge',
      more: '{n} more', where: 'acknowledge at the duty desk (/alerts)', acked: 'acknowledged' },
  };
  const CODE_RE = /^[A-Za-z0-9._-]{1,64}$/;
  const TICKER_H = 40; // px of the stage
  const TICKER_PAGE_MS = 6000; // a page of the ticker stays this long
  const CSS = `
.za-ticker { position: absolute; z-index: 30; left: 0; right: 0; bottom: 0; height: ${TICKER_H}px; display: flex;
  align-items: center; gap: 14px; padding: 0 18px; background: rgba(4, 14, 34, 0.92);
  border-top: 2px solid rgba(255, 176, 32, 0.7); font-size: 22px; color: #dcefff; overflow: hidden; }
.za-ticker[hidden], .za-banner[hidden] { display: none; }
.za-ticker .za-head { flex: none; font-weight: 700; color: #ffb020; }
.za-ticker .za-run { flex: 1; overflow: hidden; white-space: nowrap; position: relative; height: 100%; }
.za-ticker .za-track { position: absolute; top: 0; height: 100%; display: flex; align-items: center; gap: 42px;
  white-space: nowrap; }
.za-ticker .za-page { flex: none; color: #8fb2d6; font-size: 18px; }
.za-item { display: inline-flex; align-items: center; gap: 10px; }
.za-sev { padding: 1px 10px; border-radius: 4px; font-weight: 700; font-size: 20px; color: #041022; }
.za-sev.severe { background: #ff3b4e; color: #fff; }
.za-sev.warning { background: #ffb020; }
.za-sev.info { background: #2fd3ff; }
.za-time { color: #8fb2d6; }
.za-ack { color: #2ee59d; font-size: 20px; }
.za-banner { position: absolute; z-index: 31; left: 50%; margin-left: -468px; width: 936px; top: 8px; height: 72px;
  display: flex; flex-direction: column; align-items: center; justify-content: center; padding: 4px 18px;
  box-sizing: border-box; background: #be1428; border: 2px solid #ff8a96; border-radius: 8px; color: #fff;
  font-size: 25px; font-weight: 700; box-shadow: 0 0 24px rgba(255, 40, 60, 0.55); }
.za-banner > span { max-width: 100%; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.za-banner .za-sub { font-size: 17px; font-weight: 400; opacity: 0.92; }
@media print { .za-ticker, .za-banner { display: none !important; } }
`;

  let topic = '';
  let data = null;
  let els = null;
  let page = 0; // the ticker's page shown
  let turner = null;

  // topicFor is the alerts topic of a page's query string: its region, else root.
  function topicFor(search) {
    const r = new URLSearchParams(search || '').get('region') || '';
    return 'alerts:' + (CODE_RE.test(r) ? r : 'root');
  }

  function lang() {
    return typeof document !== 'undefined' && (document.documentElement.lang || '').startsWith('en') ? 'en' : 'zh';
  }

  function ensure() {
    if (els || typeof document === 'undefined') return els;
    const host = document.getElementById('stage') || document.body;
    if (!host) return null;
    const style = document.createElement('style');
    style.textContent = CSS;
    document.head.appendChild(style);
    const ticker = document.createElement('div');
    ticker.id = 'alert-ticker';
    ticker.className = 'za-ticker';
    ticker.hidden = true;
    ticker.setAttribute('aria-live', 'polite');
    ticker.innerHTML = '<span class="za-head"></span><div class="za-run"><div class="za-track"></div></div><span class="za-page"></span>';
    const banner = document.createElement('div');
    banner.id = 'alert-banner';
    banner.className = 'za-banner';
    banner.hidden = true;
    banner.setAttribute('role', 'alert');
    host.appendChild(ticker);
    host.appendChild(banner);
    els = { ticker, banner, head: ticker.querySelector('.za-head'), run: ticker.querySelector('.za-run'), track: ticker.querySelector('.za-track'),
      page: ticker.querySelector('.za-page') };
    return els;
  }

  function hhmm(iso) {
    const m = /T(\d\d:\d\d)/.exec(iso || '');
    return m ? m[1] : '';
  }

  function titleOf(a, lg) {
    return lg === 'en' ? (a.title_en || a.title) : a.title;
  }

  // drawAlerts redraws the ticker and the banner from the topic's data.
  function drawAlerts() {
    const e = ensure();
    if (!e) return;
    const lg = lang();
    const T = TEXTS[lg];
    const list = (data && Array.isArray(data.alerts)) ? data.alerts : [];
    const esc = Zhili.esc || ((s) => String(s));
    e.ticker.hidden = list.length === 0;
    // With the ticker shown the screen's layout ends above it (its height takes --za-h off):
    // nothing is covered.
    const h = e.ticker.hidden ? '0px' : TICKER_H + 'px';
    if (e.ticker.parentNode.style.getPropertyValue('--za-h') !== h) {
      e.ticker.parentNode.style.setProperty('--za-h', h);
      root.dispatchEvent(new Event('resize')); // charts follow their panels
    }
    if (list.length) {
      e.head.textContent = T.alerts + ' ' + list.length;
      e.track.innerHTML = list.map((a) => '<span class="za-item" data-id="' + esc(a.id) + '">' +
        '<span class="za-sev ' + esc(a.severity) + '">' + esc(T[a.severity] || a.severity) + '</span>' +
        '<span class="za-time">' + esc(hhmm(a.raised_at)) + '</span>' +
        '<span class="za-title">' + esc(titleOf(a, lg)) + '</span>' +
        (a.state === 'acknowledged' ? '<span class="za-ack">✓ ' + esc(T.acked) + '</span>' : '') + '</span>').join('');
      showPage(page);
    }
    const severe = list.filter((a) => a.severity === 'severe' && a.state === 'open');
    e.banner.hidden = severe.length === 0;
    if (severe.length) {
      const more = severe.length > 1 ? ' · ' + T.more.replace('{n}', severe.length - 1) : '';
      e.banner.innerHTML = '<span>⚠ ' + esc(T.banner) + '：' + esc(titleOf(severe[0], lg)) + esc(more) + '</span>' +
        '<span class="za-sub">' + esc(T.where) + '</span>';
    }
  }

  // pageStarts returns the index of the first item of every page of the ticker: as many whole
  // items as the bar holds.
  function pageStarts() {
    const items = els.track.children;
    const w = els.run.clientWidth;
    const starts = [0];
    let x0 = 0;
    for (let i = 1; i < items.length; i++) {
      const it = items[i];
      if (it.offsetLeft + it.offsetWidth - x0 > w) {
        starts.push(i);
        x0 = it.offsetLeft;
      }
    }
    return starts;
  }

  // showPage shows page p of the ticker (modulo the pages there are): its items from the bar's
  // left edge, the others hidden, and "p/n" at the right when there is more than one.
  function showPage(p) {
    if (!els || els.ticker.hidden) return;
    const items = els.track.children;
    const starts = pageStarts();
    page = ((p % starts.length) + starts.length) % starts.length;
    const from = starts[page];
    const to = page + 1 < starts.length ? starts[page + 1] : items.length;
    els.track.style.transform = from > 0 ? 'translateX(' + -items[from].offsetLeft + 'px)' : '';
    for (let i = 0; i < items.length; i++) items[i].style.visibility = i >= from && i < to ? '' : 'hidden';
    els.page.textContent = starts.length > 1 ? (page + 1) + '/' + starts.length : '';
  }

  // attach makes live.js subscribe the page's alerts topic: it adds the topic to state.topics.
  // Only wall screens (a #stage) show alerts; elsewhere attach does nothing and returns ''.
  function attach(state, search) {
    if (typeof document === 'undefined' || !document.getElementById('stage')) return '';
    topic = topicFor(search);
    if (!state.topics.has(topic)) state.topics.set(topic, { seq: null, resyncAt: 0 });
    if (!turner && typeof root.setInterval === 'function') turner = root.setInterval(() => showPage(page + 1), TICKER_PAGE_MS);
    if (typeof document !== 'undefined') {
      // The page's language switch changes <html lang>: redraw in the new language.
      new MutationObserver(drawAlerts).observe(document.documentElement, { attributes: true, attributeFilter: ['lang'] });
    }
    return topic;
  }

  function owns(t) {
    return t !== '' && t === topic;
  }

  function apply(m) {
    data = m.op === 'snapshot' ? (m.data || {}) : Zhili.mergePatch(data || {}, m.data || {});
    drawAlerts();
  }

  Zhili.alerts = { topicFor, attach, owns, apply, data: () => data, TEXTS };
})(typeof window !== 'undefined' ? window : globalThis);
