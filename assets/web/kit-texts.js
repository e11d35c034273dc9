// kit-texts.js — texts the pages share (window.Zhili.texts), the language choice and the names of
// categories and departments.
//
// Languages: Chinese (zh, the pages' own language, html lang zh-CN) first, English (en) second.
// A page starts in ?lang=, else the choice remembered by the 中/EN switch (localStorage
// zhili.lang), else Chinese. Zhili.texts.i18n(pageTexts) gives a page its t(key): the page's
// text in the current language, else the shared one, else the Chinese.
//
// Names: the deployment's catalogue (GET /api/v1/catalog, fetched once per page by
// loadCatalog, which kit-chrome's frame calls) names categories and departments; until it
// arrives, or for a code it does not hold, the built-in tables below; an unknown code is its
// own name.
(function (root) {
  'use strict';
  const Zhili = root.Zhili || (root.Zhili = {});
  const LANGS = ['zh', 'en'];
  const STORE_KEY = 'zhili.lang';

  // Case categories in the taxonomy's order (event.DefaultCategories): the built-in catalogue's.
  const CATEGORIES = ['dispute', 'security', 'safety', 'environment', 'cityorder', 'livelihood', 'petition'];
  // Their colours (the overview's ring and markers).
  const CATEGORY_COLORS = {
    dispute: '#ff8a3d', security: '#ff4d6d', safety: '#ffd23f', environment: '#2ee59d',
    cityorder: '#3fa7ff', livelihood: '#b07cff', petition: '#ff7ad9',
  };

  const COMMON = {
    zh: {
      updated: '数据更新于',
      map_loading: '地图加载中…', map_failed: '地图加载失败，正在重试…',
      waiting: '等待数据…',
      stale: '数据已中断 · 正在重新连接…', stale_for: '已 {n} 秒无数据', no_token: '缺少访问令牌（?token=）',
      refused: '服务器拒绝了数据订阅',
      server_stale: '服务器实时数据中断',
      lang_switch: 'EN',
      weekdays: ['星期日', '星期一', '星期二', '星期三', '星期四', '星期五', '星期六'],
      cat: {
        dispute: '矛盾纠纷', security: '治安隐患', safety: '安全生产', environment: '环境卫生',
        cityorder: '市容秩序', livelihood: '民生服务', petition: '信访', unmapped: '未归类',
      },
      dept: {
        'county.urban-mgmt': '城管局', 'county.eco-env': '生态环境局', 'county.housing': '住建局',
        'county.market-reg': '市场监管局', 'county.public-security': '公安局', 'county.emergency': '应急管理局',
        'county.water': '水利局',
      },
    },
    en: {
      updated: 'Data as of',
      map_loading: 'Loading map…', map_failed: 'Map failed to load, retrying…',
      waiting: 'Waiting for data…',
      stale: 'Feed lost — reconnecting…', stale_for: 'no data for {n} s', no_token: 'No access token (?token=)',
      refused: 'The server refused the subscription',
      server_stale: 'server live feed down',
      lang_switch: '中',
      weekdays: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'],
      cat: {
        dispute: 'Disputes', security: 'Security', safety: 'Work safety', environment: 'Sanitation',
        cityorder: 'City order', livelihood: 'Livelihood', petition: 'Petitions', unmapped: 'Unmapped',
      },
      dept: {
        'county.urban-mgmt': 'Urban Mgmt', 'county.eco-env': 'Eco-Environment', 'county.housing': 'Housing',
        'county.market-reg': 'Market Reg.', 'county.public-security': 'Public Security', 'county.emergency': 'Emergency Mgmt',
        'county.water': 'Water Resources',
      },
    },
  };

  // chooseLang is the page's starting language: ?lang=, the remembered choice, else zh.
  function chooseLang(params, stored) {
    const want = (params && params.get('lang')) || stored || 'zh';
    return LANGS.includes(want) ? want : 'zh';
  }

  // lookup finds key in the page's texts, then the shared ones: the language's, then Chinese.
  function lookup(page, l, key) {
    for (const table of [page && page[l], COMMON[l], page && page.zh, COMMON.zh]) {
      if (table && table[key] !== undefined) return table[key];
    }
    return undefined;
  }

  // The deployment's catalogue once loaded: entries by code ({code, zh, en, parent, color} and
  // {code, zh, en, kind, parent, region}) and the categories' codes in its order.
  const catalog = { loaded: false, cats: new Map(), depts: new Map(), order: [] };

  // setCatalog takes a reply of GET /api/v1/catalog; entries without a code are left out.
  function setCatalog(doc) {
    const cats = new Map();
    const depts = new Map();
    for (const c of (doc && Array.isArray(doc.categories) ? doc.categories : [])) if (c && c.code) cats.set(String(c.code), c);
    for (const d of (doc && Array.isArray(doc.departments) ? doc.departments : [])) if (d && d.code) depts.set(String(d.code), d);
    catalog.cats = cats;
    catalog.depts = depts;
    catalog.order = Array.from(cats.keys());
    catalog.loaded = true;
  }

  // loadCatalog fetches the catalogue with the page's token, once per page, retrying with
  // backoff (2 s to 5 min) while the server cannot answer; onLoaded runs once the names are in
  // (at once when they already are). A token refused the catalogue keeps the built-in names.
  let catalogAsked = false;
  const catalogWaiters = [];
  function loadCatalog(token, onLoaded) {
    if (catalog.loaded) {
      if (onLoaded) onLoaded();
      return;
    }
    if (onLoaded) catalogWaiters.push(onLoaded);
    if (catalogAsked || !token || typeof fetch !== 'function') return;
    catalogAsked = true;
    let delay = 2000;
    const attempt = () => {
      fetch(Zhili.apiURL('/api/v1/catalog', token), { cache: 'no-cache', credentials: 'same-origin' })
        .then((r) => {
          if (r.status === 401 || r.status === 403) return null;
          if (!r.ok) throw new Error('HTTP ' + r.status);
          return r.json();
        })
        .then((doc) => {
          if (!doc) return;
          setCatalog(doc);
          for (const fn of catalogWaiters.splice(0)) fn();
        })
        .catch(() => {
          setTimeout(attempt, delay);
          delay = Math.min(delay * 2, 300000);
        });
    };
    attempt();
  }

  // nameIn is an entry's name in language l: its own, else its Chinese one.
  const nameIn = (x, l) => (l === 'en' && x.en) || x.zh || '';

  // categoryName is a category's name in language l ('' for none, the code when unknown).
  function categoryName(code, l) {
    const x = catalog.cats.get(code);
    if (x && x.zh) return nameIn(x, l);
    const names = COMMON[l] ? COMMON[l].cat : COMMON.zh.cat;
    return names[code] || COMMON.zh.cat[code] || code || '';
  }
  // departmentName is a department's name in language l (the code when unknown).
  function departmentName(code, l) {
    const x = catalog.depts.get(code);
    if (x && x.zh) return nameIn(x, l);
    const names = COMMON[l] ? COMMON[l].dept : COMMON.zh.dept;
    return names[code] || code || '';
  }
  // departmentInfo is a department's catalogue entry ({code, zh, en, kind, parent, region}), or
  // null until the catalogue is in or when it does not hold the code.
  function departmentInfo(code) {
    return catalog.depts.get(code) || null;
  }
  // English names of the usual department kinds (the catalogue's kind is free Chinese text).
  const KINDS_EN = {
    '市直部门': 'City departments', '县直部门': 'County departments', '区直部门': 'District departments',
    '县区直部门': 'County departments', '乡镇街道': 'Townships', '村社区': 'Villages & communities',
    '职能部门': 'Departments',
  };
  // departmentKind is a department kind's text in language l (an unknown kind as it is).
  function departmentKind(kind, l) {
    return (l === 'en' && KINDS_EN[kind]) || kind || '';
  }
  // categories are the category codes in the catalogue's order (the built-in ones until it is in).
  function categories() {
    return catalog.loaded ? catalog.order.slice() : CATEGORIES.slice();
  }
  // topCategories are the categories without a parent, unmapped left out: the modules a screen
  // lists even when they have no case.
  function topCategories() {
    if (!catalog.loaded) return CATEGORIES.slice();
    return catalog.order.filter((c) => c !== 'unmapped' && !catalog.cats.get(c).parent);
  }
  // categoryColor is a category's colour: its own, else its parent's, else the built-in one ('' for none).
  function categoryColor(code) {
    const seen = new Set();
    for (let c = code; c && !seen.has(c); c = (catalog.cats.get(c) || {}).parent) {
      seen.add(c);
      const x = catalog.cats.get(c);
      if (x && x.color) return x.color;
      if (CATEGORY_COLORS[c]) return CATEGORY_COLORS[c];
    }
    return '';
  }

  // i18n returns a page's language state: {lang, t, cat, dept, htmlLang, toggle}. In a browser
  // the choice reads ?lang= and localStorage; toggle switches and remembers it.
  function i18n(page, opts) {
    const o = opts || {};
    const params = o.params || (typeof location !== 'undefined' ? new URLSearchParams(location.search) : null);
    const stored = o.stored !== undefined ? o.stored : (Zhili.storageGet ? Zhili.storageGet(STORE_KEY) : null);
    const L = {
      lang: chooseLang(params, stored),
      t: (key) => lookup(page, L.lang, key),
      cat: (code) => categoryName(code, L.lang),
      dept: (code) => departmentName(code, L.lang),
      htmlLang: () => (L.lang === 'zh' ? 'zh-CN' : 'en'),
      toggle() {
        L.lang = LANGS[(LANGS.indexOf(L.lang) + 1) % LANGS.length];
        if (Zhili.storageSet) Zhili.storageSet(STORE_KEY, L.lang);
        return L.lang;
      },
    };
    return L;
  }

  Zhili.texts = {
    LANGS, CATEGORIES, COMMON, chooseLang, i18n, category: categoryName, department: departmentName,
    departmentInfo, departmentKind,
    categories, topCategories, categoryColor, setCatalog, loadCatalog, catalogLoaded: () => catalog.loaded,
  };
})(typeof window !== 'undefined' ? window : globalThis);
