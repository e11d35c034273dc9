/* Zhili evaluators' page (干部考评 · 三评两比一综合), served at /evaluation. A desktop page like
 * the audit: the 红黑榜 of a post type and period (GET /api/v1/evaluation/rankings) on the
 * left, the selected subject's portrait (GET /api/v1/evaluation/portraits) on the right: the
 * five dimensions against the peer group's median, each evaluator type's cells, the trend
 * (纵向比), the peers' distribution (横向比), 显绩 and 潜绩, and the composite's every part.
 * Both routes need an evaluator or admin token (cadres are named).
 *
 * Page parameters (read at start, written back to the address bar):
 *   ?token=      the token (sent to the API, and in the export and audit links)
 *   ?lang=en     start in English (the 中/EN switch also remembers the choice)
 *   ?theme=      light or dark
 *   ?period=     2026-Q4 or 2026-11 (default: this quarter)
 *   ?post_type=  the peer group (default 乡镇党委书记 when the roster has it)
 *   ?subject=    the portrait shown (default: the top of the red list)
 *
 * For tests the page exposes window.__zhili and sets document.body.dataset.ready = "1" once the
 * first portrait (or an error) is shown.
 */
(function () {
  'use strict';
  const { storageGet, storageSet, $, esc, fmt, apiURL, getJSON } = window.Zhili;

  const params = new URLSearchParams(location.search);
  const TOKEN = params.get('token') || '';
  const DEFAULT_GROUP = '乡镇党委书记';
  const DIMS = ['performance', 'responsibility', 'teamwork', 'leadership', 'purpose'];
  const TYPES = ['superior', 'head', 'team', 'middle', 'served'];
  const TYPE_COLORS = ['#2563eb', '#9333ea', '#0891b2', '#ca8a04', '#16a34a'];

  // ---------------------------------------------------------------- texts
  const TEXT = {
    zh: {
      title: '干部考评 · 三评两比一综合', doc_title: '干部考评', theme: '明/暗',
      period: '考评周期', post_type: '岗位类型（同类比较）', export: '导出红黑榜 XLSX',
      board_title: '红黑榜', red: '红榜 · 综合得分前列', black: '黑榜 · 综合得分后列',
      all_ranked: '全部排名（点击姓名查看画像）', unranked: '未排名（数据不足，不参与排名）',
      rank: '名次', name: '姓名', unit: '单位', composite: '综合得分', percentile: '百分位',
      org_name: '名称', region: '区域',
      board_summary: '已排名 {ranked} 人 · 未排名 {unranked} 人 · 红黑榜各 {k} 人',
      board_summary_orgs: '已排名 {ranked} 个 · 未排名 {unranked} 个 · 红黑榜各 {k} 个',
      board_insufficient: '样本不足：有综合得分者仅 {n} 人（少于 {m} 人），不设红黑榜。',
      group_note: '同类共 {n} 人/个',
      n_people: '{n} 人', n_orgs: '{n} 个', none_listed: '无',
      missing: { survey: '测评样本不足（评价人数不足）', data: '实绩样本不足（工单数或同类单位数不足）' },
      too_few_peers: '同类有综合得分者不足，不排名',
      drill_audit: '单位考核审计 →', drill_late: '单位超时工单 →',
      drill_tip: '打开本单位本期的三率考核与工单（考核审计页）',
      k_composite: '综合得分', k_rank: '第 {r} 名 / 共 {n} 人', k_percentile: '百分位', k_pct_sub: '高于同类 {p}% 的人',
      k_survey: '测评分（三评）', k_cov: '有效权重覆盖 {c}', k_data: '实绩', k_data_sub: '显绩 {v} · 潜绩 {l}',
      k_trend: '一时 / 一贯', k_trend_sub: '最新 / 近 {n} 期均值',
      trend_partial: '空心点：{list}，早于历史数据起点的天数无工单，实绩只含其后', partial_days: '{p} 缺 {d} 天', trend_none: '{list} 在历史数据之前，无实绩',
      not_ranked: '未排名', insufficient: '样本不足',
      radar_title: '三评 · 五个维度（本人与同岗位中位数）', me: '本人（各类评价人加权）', peer_median: '同岗位中位数',
      matrix_title: '各类评价人评分（本人 / 同岗位中位数）', evaluator: '评价人类型', raters: '人数', type_mean: '类型均分',
      matrix_note: '每格为该类评价人对该维度评分的均值（0–100），下方小字为同岗位中位数；评价人少于 {m} 人的格显示“样本不足”，不计分；不显示任何评价人个人。',
      median_short: '中位 {v}', raters_n: '仅 {n} 人', raters_of: '评价人 {n} 位',
      trend_title: '纵向比 · 近期走势', trend_summary: '一时 {latest} · 一贯 {mean} · 波动 {vol} · 斜率 {slope}/期',
      trend_insufficient: '有综合得分的周期不足两期，一贯样本不足', steady: '稳定', unsteady: '波动较大',
      s_composite: '综合得分', s_survey: '测评分', s_data: '实绩', s_mean: '一贯均值',
      dist_title: '横向比 · 同岗位综合得分分布', dist_summary: '本人 {c}（红柱）· 中位数 {m}（虚线）· 第 {r}/{n} 名 · 百分位 {p}',
      dist_insufficient: '同岗位有综合得分者不足，样本不足', dist_y: '人数', dist_x: '综合得分区间', dist_me: '本人',
      data_title: '实绩 · 显绩与潜绩', indicator: '指标', group: '类别', value: '数值', den: '分母（件）', normalized: '同类标准化',
      adjusted: '校正值', own_share: '本人权重',
      at_peer_note: '{list}：同岗位各单位差异不超过随机波动，人人按同类率计（本人权重 0%）',
      visible: '显绩', latent: '潜绩', data_summary: '显绩 {v}（中位 {vm}）· 潜绩 {l}（中位 {lm}）',
      def_visible: '期内看得见的成效：响应率、解决率、满意率、按期办结率（百分比）。',
      def_latent: '长期、不显于数量的成效：未重复投诉率、真办结率（结案后未重启、未不满意）、吹哨报到及时率。',
      def_norm: '每项指标分母须达最小样本；在同岗位内按 (x − 最小) ÷ (最大 − 最小) × 100 标准化后取均值。',
      def_adjusted: '分母越小越向同岗位合计率靠拢（经验贝叶斯）：(达标件数 + m × 同类率) ÷ (分母 + m)，m 由各单位差异超出随机波动的程度估计；本人权重 = 分母 ÷ (分母 + m)。同类率：{p}。标准化据校正值。',
      comp_title: '一综合 · 构成（无黑箱）', part: '构成项', score: '得分', weight: '权重', contribution: '贡献', share: '占比',
      comp_summary: '综合 {c} = 各项贡献之和 · 测评 {sw} + 实绩 {dw}',
      comp_missing: '无综合得分：{why}', k_survey_part: '测评', k_data_part: '实绩',
      loading: '加载中…', err_prefix: '请求失败', need_token: '需要考评员（evaluator）或管理员令牌：在地址后加 ?token=…',
      kinds: { cadre: '干部岗位', unit: '单位', party: '党组织' },
      quarter: '{y}年第{q}季度', month: '{y}年{m}月',
    },
    en: {
      title: 'Cadre evaluation · three ratings, two comparisons, one composite', doc_title: 'Evaluation · Zhili', theme: 'Light/Dark',
      period: 'Period', post_type: 'Post type (peer group)', export: 'Export red/black list XLSX',
      board_title: 'Red and black lists', red: 'Red list · highest composites', black: 'Black list · lowest composites',
      all_ranked: 'All ranked (click a name for the portrait)', unranked: 'Unranked (too little data, never ranked)',
      rank: 'Rank', name: 'Name', unit: 'Unit', composite: 'Composite', percentile: 'Percentile',
      org_name: 'Name', region: 'Region',
      board_summary: '{ranked} ranked · {unranked} unranked · {k} on each list',
      board_summary_orgs: '{ranked} ranked · {unranked} unranked · {k} on each list',
      board_insufficient: 'Insufficient sample: only {n} with a composite (fewer than {m}); no red or black list.',
      group_note: '{n} in the group',
      n_people: '{n}', n_orgs: '{n}', none_listed: 'none',
      missing: { survey: 'survey: too few raters', data: 'performance data: too few cases or peers' },
      too_few_peers: 'too few peers with a composite, not ranked',
      drill_audit: 'Unit audit →', drill_late: 'Unit\'s late cases →',
      drill_tip: 'Open the unit\'s three rates and cases of the period (audit page)',
      k_composite: 'Composite', k_rank: 'rank {r} of {n}', k_percentile: 'Percentile', k_pct_sub: 'above {p}% of peers',
      k_survey: 'Survey score', k_cov: 'weight covered {c}', k_data: 'Performance (实绩)', k_data_sub: 'visible {v} · latent {l}',
      k_trend: 'Latest / mean', k_trend_sub: 'latest / mean of {n} periods',
      trend_partial: 'Hollow points: {list} before the history of cases begins; 实绩 rests on the rest', partial_days: '{p} lacks {d} days', trend_none: '{list} before the history: no 实绩',
      not_ranked: 'not ranked', insufficient: 'insufficient sample',
      radar_title: 'Five dimensions (subject vs peer median)', me: 'Subject (evaluator types weighted)', peer_median: 'Peer median',
      matrix_title: 'Scores by evaluator type (subject / peer median)', evaluator: 'Evaluator type', raters: 'Raters', type_mean: 'Type mean',
      matrix_note: 'Each cell is the mean score (0–100) of that evaluator type on that dimension, the peer median below; a cell with fewer than {m} raters shows "insufficient sample" and counts nowhere. No individual rater is shown.',
      median_short: 'med. {v}', raters_n: 'only {n}', raters_of: '{n} raters',
      trend_title: 'Over time (vertical comparison)', trend_summary: 'latest {latest} · mean {mean} · volatility {vol} · slope {slope}/period',
      trend_insufficient: 'fewer than two periods with a composite: mean insufficient', steady: 'steady', unsteady: 'volatile',
      s_composite: 'Composite', s_survey: 'Survey', s_data: 'Performance', s_mean: 'Mean',
      dist_title: 'Among peers (horizontal comparison)', dist_summary: 'subject {c} (red) · median {m} (dashed) · rank {r}/{n} · percentile {p}',
      dist_insufficient: 'too few peers with a composite: insufficient sample', dist_y: 'subjects', dist_x: 'composite band', dist_me: 'subject',
      data_title: 'Performance: visible and latent', indicator: 'Indicator', group: 'Group', value: 'Value', den: 'Base', normalized: 'Normalised',
      adjusted: 'Adjusted', own_share: 'Own',
      at_peer_note: '{list}: the peers differ no more than chance makes them; everyone stands at the peer rate (Own 0 %)',
      visible: 'visible', latent: 'latent', data_summary: 'visible {v} (median {vm}) · latent {l} (median {lm})',
      def_visible: 'results that show within the period: response, resolution, satisfaction and on-time rates (%).',
      def_latent: 'lasting results that do not show as counts: no repeat complaints, closings that hold (not reopened, not unsatisfied), whistle answers on time.',
      def_norm: 'each indicator needs the minimum sample in its base; normalised within the peer group as (x − min) ÷ (max − min) × 100, then averaged.',
      def_adjusted: 'the smaller the base, the closer to the peer group\'s pooled rate (empirical Bayes): (good + m × peer rate) ÷ (base + m), m from how much more the peers differ than chance makes them; Own, the weight of its own figures = base ÷ (base + m). Peer rates: {p}. Normalised from the adjusted value.',
      comp_title: 'Composite: every part (no black box)', part: 'Part', score: 'Score', weight: 'Weight', contribution: 'Contribution', share: 'Share',
      comp_summary: 'composite {c} = sum of contributions · survey {sw} + performance {dw}',
      comp_missing: 'No composite: {why}', k_survey_part: 'survey', k_data_part: 'performance',
      loading: 'Loading…', err_prefix: 'Request failed', need_token: 'An evaluator or admin token is needed: add ?token=… to the address',
      kinds: { cadre: 'Cadre posts', unit: 'Units', party: 'Party organisations' },
      quarter: '{y} Q{q}', month: '{y}-{m}',
    },
  };
  // English names of the roster's usual post types and unit kinds (others show as they are).
  const GROUPS_EN = {
    '乡镇党委书记': 'Township party secretary', '乡镇党委副书记': 'Deputy township party secretary', '乡镇长': 'Township head',
    '副乡镇长': 'Deputy township head', '局长': 'Bureau director', '副局长': 'Deputy bureau director',
    '县区委书记': 'County/district party secretary', '县区委副书记': 'Deputy county/district party secretary',
    '市委书记': 'City party secretary', '市委副书记': 'Deputy city party secretary', '村社党组织书记': 'Village party secretary',
    '网格长': 'Grid head', '网格员': 'Grid worker',
  };
  const KINDS_ZH = { department: '部门', township: '乡镇', village: '村社', county: '县区', city: '市', grid: '网格' };
  const L = window.Zhili.texts.i18n(TEXT);
  // orgMode: the group shown is of units or party organisations, which the Chinese texts then
  // call 本单位 and 同类 (a unit is not a person: 本人, 同岗位).
  // The shared chrome reads L.t too (the headings it fills).
  let orgMode = false;
  const pageT = L.t;
  L.t = (key) => {
    const v = pageT(key);
    if (!orgMode || L.lang !== 'zh' || typeof v !== 'string') return v;
    if (key === 'dist_y') return '个数'; // the distribution counts units, not people
    return v.replace(/本人/g, '本单位').replace(/同岗位/g, '同类').replace(/共 \{n\} 人/g, '共 {n} 个')
      .replace(/的人/g, '的单位').replace(/点击姓名/g, '点击名称');
  };
  const t = L.t;
  let chromeReady = false; // set once the chrome below exists

  // ---------------------------------------------------------------- state exposed for tests
  const Z = {
    ready: false, loading: 0, ranking: null, groups: [], portrait: null, errors: [],
    drawn: { radar: null, trend: null, dist: null },
    settled() { return Z.ready && Z.loading === 0; },
  };
  window.__zhili = Z;

  let theme = params.get('theme') || storageGet('zhili.audit.theme') || '';
  if (theme !== 'light' && theme !== 'dark') {
    theme = window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  }

  // ---------------------------------------------------------------- periods
  // The deployment's date (China Standard Time): this quarter and the three before, this month
  // and the five before.
  function periodChoices() {
    const d = new Date(Date.now() + 8 * 3600 * 1000);
    const y = d.getUTCFullYear();
    const m = d.getUTCMonth();
    const out = [];
    for (let i = 0; i < 4; i++) {
      const qi = y * 4 + Math.floor(m / 3) - i;
      out.push(Math.floor(qi / 4) + '-Q' + ((qi % 4) + 1));
    }
    for (let i = 0; i < 6; i++) {
      const mi = y * 12 + m - i;
      out.push(Math.floor(mi / 12) + '-' + String((mi % 12) + 1).padStart(2, '0'));
    }
    return out;
  }
  function periodLabel(p) {
    const q = /^(\d{4})-Q([1-4])$/.exec(p);
    if (q) return fmt(t('quarter'), { y: q[1], q: q[2] });
    const mm = /^(\d{4})-(\d{2})$/.exec(p);
    return mm ? fmt(t('month'), { y: mm[1], m: L.lang === 'en' ? mm[2] : Number(mm[2]) }) : p;
  }
  function groupLabel(g) {
    let zh = g;
    let en = GROUPS_EN[g] || '';
    const u = /^(unit|party):(.*)$/.exec(g);
    if (u) {
      zh = (u[1] === 'unit' ? '单位·' : '党组织·') + (KINDS_ZH[u[2]] || u[2]);
      en = (u[1] === 'unit' ? 'Units · ' : 'Party organisations · ') + u[2];
    }
    return L.lang === 'en' && en ? en + ' (' + zh + ')' : zh;
  }

  const state = {
    period: params.get('period') || periodChoices()[0],
    group: params.get('post_type') || DEFAULT_GROUP,
    subject: params.get('subject') || '',
  };
  if (!periodChoices().includes(state.period) && !/^\d{4}-(Q[1-4]|\d{2})$/.test(state.period)) state.period = periodChoices()[0];

  function writeEvalURL() {
    const u = new URLSearchParams();
    if (TOKEN) u.set('token', TOKEN);
    if (params.get('lang') || L.lang !== 'zh') u.set('lang', L.lang);
    if (params.get('theme')) u.set('theme', theme);
    u.set('period', state.period);
    u.set('post_type', state.group);
    if (state.subject) u.set('subject', state.subject);
    history.replaceState(null, '', location.pathname + '?' + u.toString());
  }

  // ---------------------------------------------------------------- formatting
  const n2 = (v) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(2) : '');
  const n1 = (v) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(1) : '');
  const pctOf = (v) => (typeof v === 'number' && Number.isFinite(v) ? (v * 100).toFixed(1) + '%' : '');
  const na = () => '<span class="ev-na">' + esc(t('insufficient')) + '</span>';
  const orNA = (v, f) => (typeof v === 'number' && Number.isFinite(v) ? esc((f || n2)(v)) : na());
  const evName = (x) => (L.lang === 'en' && x.en) || x.zh || '';
  const typeName = (ty, cells) => {
    const c = (cells || []).find((x) => x.evaluator_type === ty);
    return c ? evName(c) : ty;
  };

  // ---------------------------------------------------------------- errors
  function showEvalError(where, e) {
    Z.errors.push({ where, status: e.status || 0, code: e.code || '', message: e.message });
    const box = $('ev-error');
    box.hidden = false;
    box.textContent = t('err_prefix') + ' (' + where + '): ' + e.message + (e.status === 401 || e.status === 403 ? ' · ' + t('need_token') : '');
  }
  function clearError() {
    $('ev-error').hidden = true;
  }

  async function callEval(path, q) {
    const u = new URL(path, location.origin);
    for (const [k, v] of Object.entries(q)) u.searchParams.set(k, v);
    Z.loading++;
    try {
      return await getJSON(apiURL(u.pathname + u.search, TOKEN));
    } finally {
      Z.loading--;
    }
  }

  // ---------------------------------------------------------------- the 红黑榜
  function fillControls() {
    const ps = periodChoices();
    if (!ps.includes(state.period)) ps.unshift(state.period);
    $('f-period').innerHTML = ps.map((p) => '<option value="' + esc(p) + '"' + (p === state.period ? ' selected' : '') + '>' + esc(periodLabel(p)) + '</option>').join('');
    const gs = Z.groups.length ? Z.groups : [{ peer_group: state.group, kind: 'cadre', subjects: 0 }];
    let html = '';
    for (const kind of ['cadre', 'unit', 'party']) {
      const of = gs.filter((g) => g.kind === kind);
      if (!of.length) continue;
      html += '<optgroup label="' + esc(t('kinds')[kind]) + '">' + of.map((g) => '<option value="' + esc(g.peer_group) + '"' +
        (g.peer_group === state.group ? ' selected' : '') + '>' + esc(groupLabel(g.peer_group)) + (g.subjects ? ' · ' + g.subjects : '') + '</option>').join('') + '</optgroup>';
    }
    $('f-group').innerHTML = html;
    const g = gs.find((x) => x.peer_group === state.group);
    $('ev-group-note').textContent = g && g.subjects ? fmt(t('group_note'), { n: g.subjects }) : '';
    $('ev-scope').textContent = periodLabel(state.period) + ' · ' + groupLabel(state.group);
    const x = new URL('/api/v1/evaluation/rankings', location.origin);
    x.searchParams.set('post_type', state.group);
    x.searchParams.set('period', state.period);
    x.searchParams.set('format', 'xlsx');
    if (TOKEN) x.searchParams.set('token', TOKEN);
    $('ev-xlsx').href = x.pathname + x.search;
  }

  function whyUnranked(e) {
    const m = e.missing || [];
    return m.length ? m.map((k) => t('missing')[k] || k).join('；') : t('too_few_peers');
  }

  function renderLists() {
    const rk = Z.ranking;
    if (!rk) return;
    // Units and party organisations are their own unit: the second column names the region
    // they serve instead of repeating their name.
    const orgs = /^(unit|party):/.test(rk.peer_group || '');
    if (orgs !== orgMode) {
      orgMode = orgs;
      if (chromeReady) bar.applyLang();
    }
    for (const [id, key] of [['th-name', orgs ? 'org_name' : 'name'], ['th-unit', orgs ? 'region' : 'unit']]) {
      $(id).dataset.i18n = key;
      $(id).textContent = t(key);
    }
    const second = (e) => (orgs ? e.region_name || e.region || '' : e.unit_name);
    $('board-summary').textContent = fmt(t(orgs ? 'board_summary_orgs' : 'board_summary'), { ranked: rk.ranked.length, unranked: rk.unranked.length, k: rk.list_size });
    const li = (e) => '<li data-subject="' + esc(e.subject) + '" class="' + (e.subject === state.subject ? 'ev-sel' : '') + '">' +
      '<span class="ev-r">' + esc(e.rank) + '</span><span class="ev-n">' + esc(e.name) + '<small>' + esc(second(e)) + '</small></span>' +
      '<span class="ev-c">' + esc(n2(e.composite)) + '</span></li>';
    $('red-list').innerHTML = rk.red.map(li).join('') || '<li class="au-muted">' + esc(t('none_listed')) + '</li>';
    $('black-list').innerHTML = rk.black.map(li).join('') || '<li class="au-muted">' + esc(t('none_listed')) + '</li>';
    // The period begins before the history of cases: 实绩 rests on part of it; said above the lists.
    const cov = $('board-cover');
    const cn = Z.rankingCover && Z.rankingCover.note;
    cov.textContent = cn ? cn[L.lang] || cn.zh : '';
    cov.hidden = !cn;
    const ins = $('board-insufficient');
    ins.hidden = rk.sample === 'ok';
    const cfg = Z.rankingConfig || {};
    ins.textContent = fmt(t('board_insufficient'), { n: rk.ranked.length, m: cfg.min_peers || 3 });
    $('ranked-body').innerHTML = rk.ranked.map((e) => '<tr data-subject="' + esc(e.subject) + '"' + (e.subject === state.subject ? ' class="au-selected"' : '') + '>' +
      '<td>' + esc(e.rank) + '</td><td class="au-left">' + esc(e.name) + '</td><td class="au-left" title="' + esc(second(e)) + '">' + esc(second(e)) + '</td>' +
      '<td>' + esc(n2(e.composite)) + '</td><td>' + esc(n1(e.percentile)) + '</td></tr>').join('');
    $('unranked-count').textContent = fmt(t(orgs ? 'n_orgs' : 'n_people'), { n: rk.unranked.length });
    $('unranked-body').innerHTML = rk.unranked.map((e) => '<tr data-subject="' + esc(e.subject) + '"' + (e.subject === state.subject ? ' class="au-selected"' : '') + '>' +
      '<td class="au-left">' + esc(e.name) + '</td><td class="au-left" title="' + esc(second(e)) + '">' + esc(second(e)) + '</td>' +
      '<td class="au-left"><span class="ev-na">' + esc(t('insufficient')) + '</span> ' + esc(whyUnranked(e)) + '</td></tr>').join('');
  }

  async function loadBoard() {
    clearError();
    let reply;
    try {
      reply = await callEval('/api/v1/evaluation/rankings', { post_type: state.group, period: state.period });
    } catch (e) {
      // An unknown post type in this roster: the default group, else the first cadre group.
      if (e.status === 404 && Z.groups.length && !Z.groups.some((g) => g.peer_group === state.group)) {
        state.group = (Z.groups.find((g) => g.peer_group === DEFAULT_GROUP) || Z.groups[0]).peer_group;
        return loadBoard();
      }
      showEvalError('rankings', e);
      Z.ranking = null;
      fillControls();
      markReady();
      return;
    }
    Z.ranking = reply.ranking;
    Z.rankingConfig = reply.config;
    Z.rankingCover = reply.data_cover || null;
    Z.groups = reply.groups || [];
    fillControls();
    renderLists();
    const rk = Z.ranking;
    const all = rk.ranked.concat(rk.unranked);
    if (!all.some((e) => e.subject === state.subject)) {
      state.subject = (rk.red[0] || rk.ranked[0] || rk.unranked[0] || {}).subject || '';
    }
    writeEvalURL();
    renderLists();
    if (state.subject) await loadPortrait();
    else markReady();
  }

  // ---------------------------------------------------------------- the portrait
  let portraitGen = 0;
  async function loadPortrait() {
    const gen = ++portraitGen;
    let reply;
    try {
      reply = await callEval('/api/v1/evaluation/portraits', { subject: state.subject, period: state.period });
    } catch (e) {
      if (gen === portraitGen) {
        showEvalError('portraits', e);
        markReady();
      }
      return;
    }
    if (gen !== portraitGen) return;
    Z.portrait = reply;
    renderPortrait();
    markReady();
  }

  function markReady() {
    if (Z.ready) return;
    Z.ready = true;
    document.body.dataset.ready = '1';
  }

  function kpi(label, value, sub, main) {
    return '<div class="ev-kpi' + (main ? ' ev-main-kpi' : '') + '"><div class="ev-kl">' + esc(label) + '</div><div class="ev-kv">' + value + '</div>' +
      '<div class="ev-ks">' + esc(sub || '') + '</div></div>';
  }

  function auditHref(a, late) {
    const u = new URLSearchParams();
    if (TOKEN) u.set('token', TOKEN);
    if (L.lang !== 'zh') u.set('lang', L.lang);
    u.set('from', a.from);
    u.set('to', a.to);
    u.set('by', a.by);
    if (a.region) u.set('region', a.region);
    if (a.level) u.set('level', String(a.level));
    if (a.unit) {
      u.set('list', 'rates');
      u.set('unit', a.unit);
      if (late) {
        u.set('late', '1');
        u.set('lsort', 'close');
      }
    }
    return '/audit?' + u.toString();
  }

  function renderPortrait() {
    const P = Z.portrait;
    if (!P) return;
    const ev = P.evaluation;
    const tr = P.trend;
    const peers = P.peers || {};
    $('p-name').textContent = ev.name;
    $('p-post').textContent = [ev.post, groupLabel(ev.peer_group)].filter(Boolean).join(' · ');
    $('p-unit').textContent = ev.unit_name + (ev.region ? ' · ' + ev.region : '');
    for (const [id, late] of [['drill-audit', false], ['drill-late', true]]) {
      const a = $(id);
      a.href = P.audit ? auditHref(P.audit, late) : '/audit';
      a.title = t('drill_tip');
      a.hidden = late && !(P.audit && P.audit.unit);
    }
    const rankSub = ev.rank ? fmt(t('k_rank'), { r: ev.rank, n: ev.peers }) : t('not_ranked');
    $('p-kpis').innerHTML =
      kpi(t('k_composite'), orNA(ev.composite), rankSub, true) +
      kpi(t('k_percentile'), orNA(ev.percentile, n1), ev.percentile != null ? fmt(t('k_pct_sub'), { p: n1(ev.percentile) }) : '') +
      kpi(t('k_survey'), orNA(ev.survey.score), fmt(t('k_cov'), { c: pctOf(ev.survey.coverage) })) +
      kpi(t('k_data'), orNA(ev.data.score), fmt(t('k_data_sub'), { v: n1(ev.data.visible) || '—', l: n1(ev.data.latent) || '—' })) +
      kpi(t('k_trend'), orNA(tr.latest, n1) + ' / ' + orNA(tr.mean, n1), fmt(t('k_trend_sub'), { n: tr.points.length }));
    renderMatrix(P);
    renderData(P);
    renderComponents(P);
    drawRadar(P);
    drawTrend(P);
    drawDist(P);
    renderLists();
  }

  function renderMatrix(P) {
    const ev = P.evaluation;
    const cfg = P.config || {};
    const peers = P.peers || {};
    const dimName = (d) => {
      const x = (P.dimensions || []).find((y) => y.dimension === d);
      return x ? evName(x) : d;
    };
    $('matrix-head').innerHTML = '<tr><th class="au-left">' + esc(t('evaluator')) + '</th>' +
      DIMS.map((d) => '<th>' + esc(dimName(d)) + '</th>').join('') + '<th>' + esc(t('type_mean')) + '</th></tr>';
    const cell = (c, med) => {
      if (!c || c.mean == null) return '<td>' + na() + '<span class="ev-med">' + esc(fmt(t('raters_n'), { n: c ? c.raters : 0 })) + '</span></td>';
      const cls = med != null ? (c.mean < med - 5 ? ' class="ev-low"' : c.mean > med + 5 ? ' class="ev-high"' : '') : '';
      return '<td' + cls + '>' + esc(n1(c.mean)) + '<span class="ev-med">' + esc(med != null ? fmt(t('median_short'), { v: n1(med) }) : t('insufficient')) + '</span></td>';
    };
    $('matrix-body').innerHTML = TYPES.map((ty) => {
      const tm = (ev.survey.types || []).find((x) => x.evaluator_type === ty) || { raters: 0 };
      const ptm = (peers.types || []).find((x) => x.evaluator_type === ty) || {};
      return '<tr><td class="au-left">' + esc(evName(tm) || ty) + '<small>' + esc(fmt(t('raters_of'), { n: tm.raters })) + '</small></td>' +
        DIMS.map((d) => {
          const c = (ev.survey.cells || []).find((x) => x.evaluator_type === ty && x.dimension === d);
          const pc = (peers.cells || []).find((x) => x.evaluator_type === ty && x.dimension === d) || {};
          return cell(c, pc.median);
        }).join('') + cell({ mean: tm.mean, raters: tm.raters }, ptm.median) + '</tr>';
    }).join('');
    $('matrix-note').textContent = fmt(t('matrix_note'), { m: cfg.min_raters || 3 });
  }

  function renderData(P) {
    const ev = P.evaluation;
    const peers = P.peers || {};
    // With the small-sample adjustment (rate_adjust peer) the adjusted rate and the share of it
    // that is the subject's own are shown beside the measured one.
    const inds = ev.data.indicators || [];
    const adjusted = inds.some((x) => x.adjusted != null);
    const peerRates = inds.filter((x) => x.peer_rate != null).map((x) => evName(x) + ' ' + n1(x.peer_rate) + '%').join(L.lang === 'en' ? ', ' : '、');
    $('data-head').innerHTML = '<tr><th class="au-left">' + esc(t('indicator')) + '</th><th class="au-left">' + esc(t('group')) + '</th><th>' +
      esc(t('value')) + '</th><th>' + esc(t('den')) + '</th>' + (adjusted ? '<th>' + esc(t('adjusted')) + '</th><th>' + esc(t('own_share')) + '</th>' : '') + '<th>' + esc(t('normalized')) + '</th></tr>';
    $('data-body').innerHTML = (ev.data.indicators || []).map((x) => '<tr><td class="au-left">' + esc(evName(x)) + '</td>' +
      '<td class="au-left"><span class="ev-tag">' + esc(t(x.group)) + '</span></td>' +
      '<td>' + (x.value != null ? esc(n1(x.value)) + '%' : '—') + '</td><td>' + esc(x.den) + '</td>' +
      (adjusted ? '<td>' + (x.adjusted != null ? esc(n1(x.adjusted)) + '%' : '—') + '</td><td>' +
        (x.credibility != null ? esc(Math.round(x.credibility * 100) + '%') : '—') + '</td>' : '') +
      '<td>' + (x.normalized != null ? esc(n1(x.normalized)) : na()) + '</td></tr>').join('');
    const atPeer = inds.filter((x) => x.adjusted != null && x.credibility === 0).map(evName).join(L.lang === 'en' ? ', ' : '、');
    $('data-summary').textContent = fmt(t('data_summary'), { v: n1(ev.data.visible) || '—', vm: n1(peers.visible_median) || '—', l: n1(ev.data.latent) || '—', lm: n1(peers.latent_median) || '—' });
    $('data-note').textContent = atPeer ? fmt(t('at_peer_note'), { list: atPeer }) : '';
    $('data-note').hidden = !atPeer;
    const cn = P.data_cover && P.data_cover.note;
    $('data-cover').textContent = cn ? cn[L.lang] || cn.zh : '';
    $('data-cover').hidden = !cn;
    $('data-defs').innerHTML = '<dt>' + esc(t('visible')) + '</dt><dd>' + esc(t('def_visible')) + '</dd><dt>' + esc(t('latent')) + '</dt><dd>' +
      esc(t('def_latent')) + '</dd>' + (adjusted ? '<dt>' + esc(t('adjusted')) + '</dt><dd>' + esc(fmt(t('def_adjusted'), { p: peerRates })) + '</dd>' : '') +
      '<dt>' + esc(t('normalized')) + '</dt><dd>' + esc(t('def_norm')) + '</dd>';
  }

  function renderComponents(P) {
    const ev = P.evaluation;
    const cfg = P.config || {};
    const sw = (cfg.survey_weight || 0) / ((cfg.survey_weight || 0) + (cfg.data_weight || 0) || 1);
    $('comp-head').innerHTML = '<tr><th class="au-left">' + esc(t('part')) + '</th><th>' + esc(t('score')) + '</th><th>' + esc(t('weight')) +
      '</th><th>' + esc(t('contribution')) + '</th><th class="au-left">' + esc(t('share')) + '</th></tr>';
    const parts = (ev.components || []).slice().sort((a, b) => b.contribution - a.contribution);
    const maxShare = Math.max(0.0001, ...parts.map((c) => c.share));
    $('comp-body').innerHTML = parts.map((c) => '<tr><td class="au-left">' + esc(evName(c)) + ' <span class="ev-tag">' +
      esc(c.kind === 'survey' ? t('k_survey_part') : t('k_data_part')) + '</span></td><td>' + esc(n1(c.value)) + '</td><td>' + esc(pctOf(c.weight)) +
      '</td><td>' + esc(n2(c.contribution)) + '</td><td class="au-left"><span class="ev-bar" style="width:' + Math.round((c.share / maxShare) * 36) + 'px"></span>' +
      esc(pctOf(c.share)) + '</td></tr>').join('');
    $('comp-summary').textContent = ev.composite != null
      ? fmt(t('comp_summary'), { c: n2(ev.composite), sw: pctOf(sw), dw: pctOf(1 - sw) })
      : fmt(t('comp_missing'), { why: whyUnranked(ev) });
  }

  // ---------------------------------------------------------------- charts
  const charts = {};
  function chartOf(id) {
    if (!window.echarts) return null;
    if (!charts[id]) charts[id] = window.echarts.init($(id), theme === 'dark' ? 'dark' : null, { renderer: 'canvas' });
    return charts[id];
  }
  const fg = () => (theme === 'dark' ? '#dbe4ef' : '#1e293b');
  const mutedColor = () => (theme === 'dark' ? '#8b9bb0' : '#64748b');
  const base = () => ({ backgroundColor: 'transparent', textStyle: { fontFamily: '"Noto Sans CJK SC", "Microsoft YaHei", sans-serif', color: fg() }, animation: false });

  function drawRadar(P) {
    const c = chartOf('radar');
    if (!c) return;
    const dims = P.dimensions || [];
    const pd = (P.peers && P.peers.dimensions) || [];
    const val = (v) => (typeof v === 'number' ? v : '-');
    const me = DIMS.map((d) => val((dims.find((x) => x.dimension === d) || {}).score));
    const med = DIMS.map((d) => val((pd.find((x) => x.dimension === d) || {}).median));
    const cells = P.evaluation.survey.cells || [];
    const typeSeries = TYPES.map((ty, i) => ({
      name: typeName(ty, (P.evaluation.survey.types || [])),
      value: DIMS.map((d) => val((cells.find((x) => x.evaluator_type === ty && x.dimension === d) || {}).mean)),
      lineStyle: { width: 1, color: TYPE_COLORS[i] }, itemStyle: { color: TYPE_COLORS[i] }, symbolSize: 3,
    }));
    const selected = {};
    for (const s of typeSeries) selected[s.name] = false;
    c.setOption({
      ...base(),
      color: ['#dc2626', '#64748b', ...TYPE_COLORS],
      tooltip: { trigger: 'item', confine: true },
      legend: { bottom: 0, left: 4, right: 4, itemWidth: 14, itemGap: 8, textStyle: { color: fg(), fontSize: 11 }, selected },
      radar: {
        center: ['50%', '42%'], radius: '44%', axisNameGap: 6, min: 0, max: 100,
        axisName: { color: fg(), fontSize: 12 },
        indicator: DIMS.map((d) => {
          const x = dims.find((y) => y.dimension === d) || {};
          const score = typeof x.score === 'number' ? n1(x.score) : t('insufficient');
          return { name: (evName(x) || d) + '\n' + score, max: 100, min: 0 };
        }),
        splitArea: { areaStyle: { color: theme === 'dark' ? ['#18212d', '#1d2834'] : ['#ffffff', '#f8fafc'] } },
      },
      series: [{
        type: 'radar',
        data: [
          { name: t('me'), value: me, lineStyle: { width: 3, color: '#dc2626' }, itemStyle: { color: '#dc2626' }, areaStyle: { color: 'rgba(220,38,38,0.15)' } },
          { name: t('peer_median'), value: med, lineStyle: { width: 2, type: 'dashed', color: '#64748b' }, itemStyle: { color: '#64748b' } },
          ...typeSeries,
        ],
      }],
    }, true);
    Z.drawn.radar = { me, median: med, types: typeSeries.length };
  }

  function drawTrend(P) {
    const c = chartOf('trend');
    if (!c) return;
    const tr = P.trend;
    const xs = tr.points.map((p) => p.period);
    const ser = (key) => tr.points.map((p) => (typeof p[key] === 'number' ? p[key] : null));
    // A period that begins before the history of cases: its 实绩 (and so its composite) rests on
    // part of it — a hollow point, named under the chart.
    const part = tr.points.filter((p) => p.data_missing_days > 0);
    const partial = (vals) => vals.map((v, i) => (v != null && tr.points[i].data_missing_days > 0 ? { value: v, symbol: 'emptyCircle', symbolSize: 10 } : v));
    const shown = part.filter((p) => p.composite != null || p.data != null).map((p) => fmt(t('partial_days'), { p: p.period, d: p.data_missing_days }));
    const none = part.filter((p) => p.composite == null && p.data == null).map((p) => p.period);
    const sep = L.lang === 'en' ? ', ' : '、';
    const coverText = [shown.length ? fmt(t('trend_partial'), { list: shown.join(sep) }) : '', none.length ? fmt(t('trend_none'), { list: none.join(sep) }) : '']
      .filter(Boolean).join(L.lang === 'en' ? '; ' : '；');
    // The texts above and below the chart first, then the chart sized to what they leave.
    const steady = tr.steady == null ? '' : ' · ' + t(tr.steady ? 'steady' : 'unsteady');
    $('trend-summary').textContent = tr.sample === 'ok'
      ? fmt(t('trend_summary'), { latest: n1(tr.latest), mean: n1(tr.mean), vol: n1(tr.volatility), slope: n2(tr.slope) }) + steady
      : (tr.latest != null ? t('k_trend').split('/')[0].trim() + ' ' + n1(tr.latest) + ' · ' : '') + t('trend_insufficient');
    $('trend-cover').textContent = coverText;
    $('trend-cover').hidden = !coverText;
    c.resize();
    const markMean = typeof tr.mean === 'number'
      ? { silent: true, symbol: 'none', lineStyle: { type: 'dashed', color: '#64748b' }, label: { formatter: t('s_mean') + ' ' + n1(tr.mean), color: mutedColor() }, data: [{ yAxis: tr.mean }] }
      : undefined;
    c.setOption({
      ...base(),
      color: ['#dc2626', '#2563eb', '#16a34a'],
      tooltip: { trigger: 'axis' },
      legend: { top: 0, textStyle: { color: fg() } },
      grid: { left: 40, right: 20, top: 30, bottom: 28 },
      xAxis: { type: 'category', data: xs, axisLabel: { color: fg() } },
      yAxis: { type: 'value', min: (v) => Math.max(0, Math.floor(v.min / 10) * 10 - 10), max: 100, axisLabel: { color: mutedColor() }, splitLine: { lineStyle: { color: theme === 'dark' ? '#2a3647' : '#e2e8f0' } } },
      series: [
        { name: t('s_composite'), type: 'line', data: partial(ser('composite')), connectNulls: false, symbol: 'circle', symbolSize: 8, lineStyle: { width: 3 }, markLine: markMean,
          label: { show: true, position: 'top', formatter: (p) => (p.value == null ? '' : n1(p.value)), color: fg() } },
        { name: t('s_survey'), type: 'line', data: ser('survey'), symbol: 'circle', symbolSize: 5 },
        { name: t('s_data'), type: 'line', data: partial(ser('data')), symbol: 'circle', symbolSize: 5 },
      ],
    }, true);
    Z.drawn.trend = { periods: xs.length, composites: ser('composite').filter((v) => v != null).length, partial: part.length };
  }

  function drawDist(P) {
    const c = chartOf('dist');
    if (!c) return;
    const peers = P.peers || {};
    const ev = P.evaluation;
    const vs = peers.composites || [];
    if (!vs.length) {
      c.clear();
      $('dist-summary').textContent = t('dist_insufficient');
      Z.drawn.dist = { bins: 0, marked: false };
      return;
    }
    const lo = Math.floor(Math.min(...vs) / 5) * 5;
    const hi = Math.max(lo + 5, Math.ceil((Math.max(...vs) + 0.001) / 5) * 5);
    const bins = [];
    for (let x = lo; x < hi; x += 5) bins.push({ from: x, to: x + 5, n: 0 });
    for (const v of vs) bins[Math.min(bins.length - 1, Math.floor((v - lo) / 5))].n++;
    const mine = typeof ev.composite === 'number' ? Math.min(bins.length - 1, Math.floor((ev.composite - lo) / 5)) : -1;
    const medBin = typeof peers.composite_median === 'number' ? Math.min(bins.length - 1, Math.floor((peers.composite_median - lo) / 5)) : -1;
    const labels = bins.map((b) => b.from + '–' + b.to);
    c.setOption({
      ...base(),
      tooltip: { trigger: 'axis' },
      grid: { left: 44, right: 16, top: 34, bottom: 44 },
      xAxis: { type: 'category', data: labels, name: t('dist_x'), nameLocation: 'middle', nameGap: 28, axisLabel: { color: fg(), fontSize: 11 }, nameTextStyle: { color: mutedColor() } },
      yAxis: { type: 'value', name: t('dist_y'), minInterval: 1, axisLabel: { color: mutedColor() }, nameTextStyle: { color: mutedColor() }, splitLine: { lineStyle: { color: theme === 'dark' ? '#2a3647' : '#e2e8f0' } } },
      series: [{
        type: 'bar', name: t('dist_y'), barCategoryGap: '10%',
        data: bins.map((b, i) => ({ value: b.n, itemStyle: { color: i === mine ? '#dc2626' : (theme === 'dark' ? '#4f9cf9' : '#93c5fd') } })),
        markLine: {
          silent: true, symbol: 'none',
          data: [
            ...(mine >= 0 ? [{ xAxis: labels[mine], lineStyle: { color: '#dc2626', width: 2 }, label: { formatter: t('dist_me') + ' ' + n1(ev.composite), color: '#dc2626', fontWeight: 'bold' } }] : []),
            ...(medBin >= 0 ? [{ xAxis: labels[medBin], lineStyle: { color: '#64748b', type: 'dashed' }, label: { show: false } }] : []),
          ],
        },
      }],
    }, true);
    $('dist-summary').textContent = peers.sample === 'ok' && ev.rank
      ? fmt(t('dist_summary'), { c: n1(ev.composite), m: n1(peers.composite_median), r: ev.rank, n: ev.peers, p: n1(ev.percentile) })
      : t('dist_insufficient');
    Z.drawn.dist = { bins: bins.length, marked: mine >= 0, subjects: vs.length };
  }

  // ---------------------------------------------------------------- wiring
  const bar = window.Zhili.chrome.frame({
    L,
    title: () => t('doc_title'),
    token: TOKEN,
    onSwitch() {
      writeEvalURL();
      redrawAll();
    },
    onNames: () => bar.applyLang(),
  });
  chromeReady = true;
  function redrawAll() {
    bar.applyLang();
    fillControls();
    renderLists();
    renderPortrait();
  }
  function pick(subject) {
    if (!subject || subject === state.subject) return;
    state.subject = subject;
    writeEvalURL();
    renderLists();
    loadPortrait();
  }
  $('sec-board').addEventListener('click', (e) => {
    const el = e.target.closest('[data-subject]');
    if (el) pick(el.dataset.subject);
  });
  $('f-period').addEventListener('change', () => {
    state.period = $('f-period').value;
    loadBoard();
  });
  $('f-group').addEventListener('change', () => {
    state.group = $('f-group').value;
    state.subject = '';
    loadBoard();
  });
  $('ev-form').addEventListener('submit', (e) => e.preventDefault());
  $('theme-switch').addEventListener('click', () => {
    theme = theme === 'dark' ? 'light' : 'dark';
    storageSet('zhili.audit.theme', theme);
    document.documentElement.dataset.theme = theme;
    for (const k of Object.keys(charts)) {
      charts[k].dispose();
      delete charts[k];
    }
    renderPortrait();
  });
  window.addEventListener('resize', () => {
    for (const k of Object.keys(charts)) charts[k].resize();
  });
  document.documentElement.dataset.theme = theme;
  bar.applyLang();
  fillControls();
  loadBoard();
})();
