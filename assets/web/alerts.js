/* Zhili alerts desk (预警值班台), served at /alerts: what needs action now and how fast it was
 * handled. The alerts not yet closed (severe first) with 确认 (acknowledge) and 关闭 (close with
 * a note); the handling figures of the last 30 days per rule (time to acknowledge and to close);
 * the history; the last space-time scan. Any reading token may acknowledge and close (who and
 * when are kept in the alert log). Refreshes every 5 s.
 *
 * Page parameters: ?token= (sent to the API), ?region= (default the token's), ?lang=en.
 * For tests: window.__zhili {ready, active, history, acted} and body.dataset.ready = "1".
 */
(function () {
  'use strict';
  const { $, esc, fmt, apiURL, getJSON } = window.Zhili;
  const params = new URLSearchParams(location.search);
  const TOKEN = params.get('token') || '';
  const REGION = /^[A-Za-z0-9._-]{1,64}$/.test(params.get('region') || '') ? params.get('region') : '';

  const TEXT = {
    zh: {
      title: '预警值班台 · 辅助决策', doc_title: '预警值班台',
      active_title: '待处置预警', active_empty: '当前没有待处置的预警。',
      active_summary: '待确认 {open} 条 · 已确认待关闭 {acked} 条 · 其中严重 {severe} 条',
      stats_title: '处置时效（近 30 天）', history_title: '预警历史（最近 100 条）',
      stats_summary: '共触发 {raised} 条 · 已确认 {acked} · 已关闭 {closed} · 未关闭 {open}',
      cov_never: '尚无预警运行记录：这些数字不代表近 30 天',
      cov_part: '近 30 天中有 {dur} 无预警运行记录（记录始于 {since}{last}）：其间的预警未计入', cov_last: '；最近一次中断 {gap}',
      stats_note: '确认用时 = 触发到确认；关闭用时 = 触发到关闭；只计已确认 / 已关闭的预警，未关闭的另计于“未关闭”，其最久一条的时长见“最久未关”。P90：九成预警在此时长内处置。',
      scan_title: '时空聚集扫描（前瞻性时空重排扫描）',
      scan_summary: '最近一次 {at} · 研究期 {study} 内 {cases} 件 · 重排 {reps} 次 · 用时 {took} · 报警阈值：复发间隔 ≥ {alarm} 天',
      scan_none: '尚未运行', scan_off: '本服务未启用扫描',
      scan_note: '每个聚集为一组相邻网格在截至当前的时间窗内的案件数，对照“各网格占比 × 各时段占比”的期望数；p 值由蒙特卡洛重排得到；复发间隔 = 扫描间隔 ÷ p，即无聚集时偶然出现同样强度聚集的平均间隔。全域同时上升不算聚集（见 docs/SCAN.md）。',
      sev: '级别', raised: '触发时间', what: '预警内容', rule: '规则', region: '区域', value: '实测 / 阈值', state: '状态', actions: '处置',
      ack: '确认', close: '关闭', note_ph: '处置说明（可选）',
      acked_by: '确认人 / 时间', closed_by: '关闭人 / 时间', to_ack: '确认用时', to_close: '关闭用时',
      n_raised: '触发', n_acked: '已确认', n_closed: '已关闭', n_open: '未关闭', n_unacked: '待确认',
      med_ack: '确认用时中位', p90_ack: '确认 P90', med_close: '关闭用时中位', p90_close: '关闭 P90', oldest: '最久未关', total: '合计',
      center: '中心网格', cells: '网格数', window: '时间窗', obs: '实际 / 期望', p: 'p 值', ri: '复发间隔（天）', alarm: '报警',
      yes: '是', no: '否',
      severe: '严重', warning: '警告', info: '提示', open: '待确认', acknowledged: '已确认', closed: '已关闭',
      need_token: '需要令牌：在地址后加 ?token=…', err_prefix: '请求失败', updated: '更新于 {t}',
    },
    en: {
      title: 'Alerts desk · decision support', doc_title: 'Alerts desk',
      active_title: 'Alerts to handle', active_empty: 'No alert to handle now.',
      active_summary: '{open} to acknowledge · {acked} acknowledged, not closed · {severe} severe',
      stats_title: 'Handling times (last 30 days)', history_title: 'Alert history (last 100)',
      stats_summary: '{raised} raised · {acked} acknowledged · {closed} closed · {open} not closed',
      cov_never: 'No record of the alert engine running yet: these figures do not stand for the last 30 days',
      cov_part: '{dur} of the last 30 days without a record of the alert engine running (records begin {since}{last}): alerts of those times are not counted', cov_last: '; latest break {gap}',
      stats_note: 'Time to acknowledge = raise to acknowledgement; time to close = raise to close; only acknowledged / closed alerts count, those not closed are counted apart ("not closed", with the age of the oldest). P90: nine in ten were handled within it.',
      scan_title: 'Space-time cluster scan (prospective space-time permutation)',
      scan_summary: 'Last run {at} · {cases} cases in {study} · {reps} replicates · took {took} · alarm: recurrence ≥ {alarm} days',
      scan_none: 'not run yet', scan_off: 'the scan is off in this server',
      scan_note: 'Each cluster is a circle of neighbouring grids over a window ending now, its cases against the count expected from each grid\'s share and each hour\'s share; p from Monte Carlo permutations; recurrence interval = scan interval ÷ p, how often a cluster this strong would arise by chance with no cluster. A surge everywhere at once is not a cluster (docs/SCAN.md).',
      sev: 'Severity', raised: 'Raised', what: 'Alert', rule: 'Rule', region: 'Region', value: 'Measured / bound', state: 'State', actions: 'Action',
      ack: 'Acknowledge', close: 'Close', note_ph: 'note (optional)',
      acked_by: 'Acknowledged by / at', closed_by: 'Closed by / at', to_ack: 'To acknowledge', to_close: 'To close',
      n_raised: 'Raised', n_acked: 'Acked', n_closed: 'Closed', n_open: 'Not closed', n_unacked: 'Unacked',
      med_ack: 'Median to ack', p90_ack: 'P90 to ack', med_close: 'Median to close', p90_close: 'P90 to close', oldest: 'Oldest open', total: 'Total',
      center: 'Centre grid', cells: 'Grids', window: 'Window', obs: 'Observed / expected', p: 'p', ri: 'Recurrence (days)', alarm: 'Alarm',
      yes: 'yes', no: 'no',
      severe: 'Severe', warning: 'Warning', info: 'Info', open: 'Open', acknowledged: 'Acknowledged', closed: 'Closed',
      need_token: 'A token is needed: add ?token=… to the address', err_prefix: 'Request failed', updated: 'updated {t}',
    },
  };
  const L = window.Zhili.texts.i18n(TEXT);
  const t = L.t;
  const Z = (window.__zhili = { ready: false, active: 0, history: 0, acted: 0, errors: [], settled: () => Z.ready });
  const state = { active: [], history: [], stats: null, scan: null };

  const api = (path, q) => {
    const u = new URL(path, location.href);
    if (REGION) u.searchParams.set('region', REGION);
    for (const [k, v] of Object.entries(q || {})) u.searchParams.set(k, v);
    return apiURL(u.pathname + u.search, TOKEN);
  };
  const curLang = () => L.lang;
  const spanText = (s) => (s === undefined || s === null || !Number.isFinite(s) ? '—' : window.Zhili.time.duration(s, curLang()) || '0');
  const stamp = (iso) => (iso ? iso.replace('T', ' ').replace(/(:\d\d)(\.\d+)?([+-]\d\d:\d\d|Z)$/, '$1').slice(5, 16) : '—');
  const fig = (x) => (Number.isInteger(x) ? String(x) : (Math.round(x * 100) / 100).toString());
  // measured writes an alert's figure against its bound in the kind's unit.
  const measured = (a) => {
    switch (a.kind) {
      case 'whistle_late': return spanText(a.value * 60);
      case 'response_rate': return (Math.round(a.value * 1000) / 10) + '% / ' + (Math.round(a.bound * 1000) / 10) + '%';
      case 'scan': return fig(a.value) + ' / ' + fig(a.bound) + (curLang() === 'en' ? ' d' : ' 天');
      case 'hotspot': return fig(a.value);
      default: return fig(a.value) + ' / ' + fig(a.bound);
    }
  };
  const title = (a) => (curLang() === 'en' ? a.title_en || a.title : a.title);
  const sev = (s) => '<span class="al-sev ' + esc(s) + '">' + esc(t(s)) + '</span>';
  const secs = (from, to) => (from && to ? (Date.parse(to) - Date.parse(from)) / 1000 : null);

  function alertError(err) {
    const el = $('al-error');
    if (!err) { el.hidden = true; return; }
    el.hidden = false;
    el.textContent = !TOKEN ? t('need_token') : t('err_prefix') + '：' + (err.message || err);
    Z.errors.push(String(err.message || err));
  }

  function head(table, cols) {
    table.tHead.innerHTML = '<tr>' + cols.map((c) => '<th class="' + (c[1] || '') + '">' + esc(t(c[0])) + '</th>').join('') + '</tr>';
  }

  function renderActive() {
    const table = $('active-table');
    head(table, [['sev', 'al-l'], ['raised', 'al-l'], ['what', 'al-l'], ['rule', 'al-l'], ['value'], ['state', 'al-l'], ['actions']]);
    const rows = state.active.slice().sort((a, b) => rank(b.severity) - rank(a.severity) || Date.parse(b.raised_at) - Date.parse(a.raised_at));
    table.tBodies[0].innerHTML = rows.map((a) => '<tr data-id="' + esc(a.id) + '">' +
      '<td class="al-l">' + sev(a.severity) + '</td><td class="al-l">' + esc(stamp(a.raised_at)) + '</td>' +
      '<td class="al-l">' + esc(title(a)) + '</td><td class="al-l">' + esc(a.rule_name || a.rule_id) + '</td>' +
      '<td>' + esc(measured(a)) + '</td>' +
      '<td class="al-l al-state-' + esc(a.state) + '">' + esc(t(a.state)) + (a.acked_by ? ' · ' + esc(a.acked_by) : '') + '</td>' +
      '<td><div class="al-actions">' +
      (a.state === 'open' ? '<button class="au-btn" type="button" data-act="ack">' + esc(t('ack')) + '</button>' : '') +
      '<input class="al-note-in" type="text" maxlength="500" placeholder="' + esc(t('note_ph')) + '">' +
      '<button class="au-btn au-btn-ghost" type="button" data-act="close">' + esc(t('close')) + '</button></div></td></tr>').join('');
    $('active-empty').hidden = rows.length > 0;
    const c = { open: 0, acked: 0, severe: 0 };
    for (const a of rows) {
      if (a.state === 'open') c.open++;
      else c.acked++;
      if (a.severity === 'severe') c.severe++;
    }
    $('active-summary').textContent = fmt(t('active_summary'), c);
    Z.active = rows.length;
  }
  function rank(s) { return { severe: 3, warning: 2, info: 1 }[s] || 0; }

  function renderHistory() {
    const table = $('history-table');
    head(table, [['sev', 'al-l'], ['raised', 'al-l'], ['what', 'al-l'], ['state', 'al-l'], ['acked_by', 'al-l'], ['to_ack'], ['closed_by', 'al-l'], ['to_close']]);
    table.tBodies[0].innerHTML = state.history.map((a) => '<tr data-id="' + esc(a.id) + '">' +
      '<td class="al-l">' + sev(a.severity) + '</td><td class="al-l">' + esc(stamp(a.raised_at)) + '</td>' +
      '<td class="al-l">' + esc(title(a)) + '</td><td class="al-l al-state-' + esc(a.state) + '">' + esc(t(a.state)) + '</td>' +
      '<td class="al-l">' + (a.acked_at ? esc(a.acked_by || '') + ' · ' + esc(stamp(a.acked_at)) : '—') + '</td>' +
      '<td class="al-to-ack">' + esc(spanText(secs(a.raised_at, a.acked_at))) + '</td>' +
      '<td class="al-l">' + (a.closed_at ? esc(a.closed_by || '') + ' · ' + esc(stamp(a.closed_at)) : '—') + '</td>' +
      '<td class="al-to-close">' + esc(spanText(secs(a.raised_at, a.closed_at))) + '</td></tr>').join('');
    Z.history = state.history.length;
  }

  function renderStats() {
    const s = state.stats;
    if (!s) return;
    const table = $('stats-table');
    head(table, [['rule', 'al-l'], ['n_raised'], ['n_acked'], ['n_closed'], ['n_open'], ['n_unacked'], ['med_ack'], ['p90_ack'], ['med_close'], ['p90_close'], ['oldest']]);
    const row = (name, f) => '<tr><td class="al-l">' + esc(name) + '</td><td>' + f.raised + '</td><td>' + f.acked + '</td><td>' + f.closed +
      '</td><td>' + f.open + '</td><td>' + f.unacked + '</td><td>' + esc(spanText(f.time_to_ack.n ? f.time_to_ack.median_s : null)) +
      '</td><td>' + esc(spanText(f.time_to_ack.n ? f.time_to_ack.p90_s : null)) + '</td><td>' + esc(spanText(f.time_to_close.n ? f.time_to_close.median_s : null)) +
      '</td><td>' + esc(spanText(f.time_to_close.n ? f.time_to_close.p90_s : null)) + '</td><td>' + esc(spanText(f.open ? f.oldest_open_s : null)) + '</td></tr>';
    const names = {};
    for (const a of state.history.concat(state.active)) names[a.rule_id] = a.rule_name || a.rule_id;
    const rules = Object.keys(s.by_rule || {}).sort();
    table.tBodies[0].innerHTML = rules.map((r) => row(names[r] || r, s.by_rule[r])).join('') + row(t('total'), s.total);
    $('stats-summary').textContent = fmt(t('stats_summary'), s.total);
    // The figures count only the time the engine watched: say how much of the 30 days that is.
    const c = s.coverage;
    let cov = '';
    if (c && !c.complete) {
      // The latest break after the records began (the time before them is said by "since").
      const g = (c.gaps || []).filter((x) => c.since && Date.parse(x.from) >= Date.parse(c.since)).pop();
      cov = !c.since ? t('cov_never') : fmt(t('cov_part'), { dur: spanText(c.unwatched_s), since: stamp(c.since),
        last: g ? fmt(t('cov_last'), { gap: stamp(g.from) + ' – ' + stamp(g.to) }) : '' });
    }
    $('stats-cov').hidden = !cov;
    $('stats-cov').textContent = cov;
  }

  function renderScan() {
    const s = state.scan;
    const table = $('scan-table');
    head(table, [['center', 'al-l'], ['cells'], ['window', 'al-l'], ['obs'], ['p'], ['ri'], ['alarm']]);
    if (!s || !s.enabled) {
      $('scan-summary').textContent = t('scan_off');
      table.tBodies[0].innerHTML = '';
      return;
    }
    $('scan-summary').textContent = s.at && !s.at.startsWith('0001') ? fmt(t('scan_summary'), {
      at: stamp(s.at), cases: s.cases, study: s.study, reps: s.replicates, took: s.took, alarm: s.alarm_days,
    }) : t('scan_none');
    table.tBodies[0].innerHTML = (s.clusters || []).slice(0, 10).map((c) => '<tr><td class="al-l">' + esc(c.center_name || c.center) + '</td><td>' + c.cells.length +
      '</td><td class="al-l">' + esc(stamp(c.start)) + ' – ' + esc(stamp(c.end)) + '</td><td>' + c.observed + ' / ' + esc(fig(c.expected)) +
      '</td><td>' + esc(String(c.p)) + '</td><td>' + esc(fig(c.recurrence_days)) + '</td><td>' + esc(t(c.alarm ? 'yes' : 'no')) + '</td></tr>').join('');
  }

  function renderAll() {
    bar.applyLang();
    renderActive();
    renderHistory();
    renderStats();
    renderScan();
  }

  async function load() {
    try {
      const [active, history, stats, scan] = await Promise.all([
        getJSON(api('/api/v1/alerts', { state: 'open,acknowledged', limit: '200' })),
        getJSON(api('/api/v1/alerts', { limit: '100' })),
        getJSON(api('/api/v1/alerts/stats')),
        getJSON(api('/api/v1/alerts/scan')).catch(() => null),
      ]);
      state.active = active.alerts || [];
      state.history = history.alerts || [];
      state.stats = stats;
      state.scan = scan;
      alertError(null);
      renderAll();
      $('al-updated').textContent = fmt(t('updated'), { t: (stats.at || '').slice(11, 19) });
    } catch (err) {
      alertError(err);
    }
    if (!Z.ready) {
      Z.ready = true;
      document.body.dataset.ready = '1';
    }
  }

  async function act(id, what, note) {
    const r = await fetch(apiURL('/api/v1/alerts/' + encodeURIComponent(id) + '/' + what, TOKEN), {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(what === 'close' ? { note } : {}),
    });
    if (!r.ok) {
      const body = await r.json().catch(() => ({}));
      alertError(new Error((body.error && body.error.message) || 'HTTP ' + r.status));
      return;
    }
    Z.acted++;
    await load();
  }

  $('active-table').addEventListener('click', (e) => {
    const b = e.target.closest('button[data-act]');
    if (!b) return;
    const tr = b.closest('tr');
    const note = tr.querySelector('.al-note-in');
    act(tr.dataset.id, b.dataset.act, note ? note.value : '');
  });

  const bar = window.Zhili.chrome.frame({ L, title: () => t('doc_title'), token: TOKEN, onSwitch: renderAll, onNames: () => bar.applyLang() });
  if (REGION) $('al-scope').textContent = REGION;
  bar.applyLang();
  load();
  setInterval(load, 5000);
})();
