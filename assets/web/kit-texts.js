// kit-texts.js — texts the pages share (window.Zhili.texts) and the language choice.
//
// Languages: Chinese (zh, the pages' own language, html lang zh-CN) first, English (en) second.
// A page starts in ?lang=, else the choice remembered by the 中/EN switch (localStorage
// zhili.lang), else Chinese. Zhili.texts.i18n(pageTexts) gives a page its t(key): the page's
// text in the current language, else the shared one, else the Chinese.
(function (root) {
  'use strict';
  const Zhili = root.Zhili || (root.Zhili = {});
  const LANGS = ['zh', 'en'];
  const STORE_KEY = 'zhili.lang';

  // Case categories in the taxonomy's order (event.DefaultCategories).
  const CATEGORIES = ['dispute', 'security', 'safety', 'environment', 'cityorder', 'livelihood', 'petition'];

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
        cityorder: '市容秩序', livelihood: '民生服务', petition: '信访',
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
        cityorder: 'City order', livelihood: 'Livelihood', petition: 'Petitions',
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

  // categoryName is a category's name in language l ('' for none, the code when unknown).
  function categoryName(code, l) {
    const names = COMMON[l] ? COMMON[l].cat : COMMON.zh.cat;
    return names[code] || COMMON.zh.cat[code] || code || '';
  }
  // deptName is a department's name in language l (the code when unknown).
  function departmentName(code, l) {
    const names = COMMON[l] ? COMMON[l].dept : COMMON.zh.dept;
    return names[code] || code || '';
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
  };
})(typeof window !== 'undefined' ? window : globalThis);
