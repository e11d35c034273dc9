// Tests of the pages' shared kit (web/kit*.js) and of check-dupes.mjs: node --test kit.test.mjs
// (from assets/, or with the path from the repository root). No npm packages needed.
//
// The kit files are plain browser scripts: they are run here in this context, where they fill
// globalThis.Zhili. The process runs in Asia/Shanghai so that "the browser's zone" (tz null, used
// until the server's messages give the deployment's offset) is the deployment's too.
process.env.TZ = 'Asia/Shanghai';

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { checkDupes, definitionsOf, duplicates } from './check-dupes.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const web = join(here, 'web');
for (const name of ['kit.js', 'kit-time.js', 'kit-texts.js', 'kit-map.js', 'kit-chrome.js', 'kit-alerts.js']) {
  vm.runInThisContext(readFileSync(join(web, name), 'utf8'), { filename: name });
}
const Z = globalThis.Zhili;
const clone = (v) => (v === undefined ? v : JSON.parse(JSON.stringify(v)));

test('the kit fills one namespace', () => {
  for (const part of ['time', 'texts', 'map', 'chrome', 'alerts']) assert.equal(typeof Z[part], 'object', part);
  for (const fn of ['mergePatch', 'esc', 'num', 'pad2', 'percent', 'fmt', 'scheduler', 'fitStage']) {
    assert.equal(typeof Z[fn], 'function', fn);
  }
});

test('mergePatch: the examples of RFC 7396 appendix A', () => {
  const cases = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  for (const [target, patch, want] of cases) {
    assert.deepEqual(Z.mergePatch(clone(target), clone(patch)), want, JSON.stringify([target, patch]));
  }
});

test('mergePatch: null deletes, arrays are replaced whole, objects merge in place', () => {
  const doc = { totals: { open: 3, overdue: 1 }, children: { a: { open: 1 }, b: { open: 2 } }, list: [1, 2, 3] };
  const out = Z.mergePatch(doc, { totals: { open: 4 }, children: { b: null }, list: [9] });
  assert.equal(out, doc);
  assert.deepEqual(out, { totals: { open: 4, overdue: 1 }, children: { a: { open: 1 } }, list: [9] });
  assert.deepEqual(Z.mergePatch(null, { a: { b: 1 } }), { a: { b: 1 } });
});

test('number and text helpers', () => {
  assert.equal(Z.num('3'), 0);
  assert.equal(Z.num(NaN), 0);
  assert.equal(Z.num(2.5), 2.5);
  assert.equal(Z.pad2(7), '07');
  assert.equal(Z.percent(0.1234), '12.3%');
  assert.equal(Z.percent(0.1234, 'auto'), '12.3%');
  assert.equal(Z.percent(1, 'auto'), '100%');
  assert.equal(Z.percent(0, 'auto'), '0%');
  assert.equal(Z.percent(null), '');
  assert.equal(Z.fmt('{n} 件 · {m}', { n: 3 }), '3 件 · ');
  assert.equal(Z.esc('<a href="x">&\'</a>'), '&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;');
  assert.equal(Z.clampNum('abc', 30, 3, 3600), 30);
  assert.equal(Z.clampNum('1', 30, 3, 3600), 3);
  assert.equal(Z.clampNum(null, 30, 3, 3600), 30);
});

// Shapes: a 10×10 square with a 2×2 hole, and a second square away from it.
const outer = [[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]];
const hole = [[4, 4], [6, 4], [6, 6], [4, 6], [4, 4]];
const far = [[20, 20], [22, 20], [22, 22], [20, 22], [20, 20]];
const holed = { type: 'Polygon', coordinates: [outer, hole] };
const multi = { type: 'MultiPolygon', coordinates: [[outer, hole], [far]] };

test('point in polygon: holes and multipolygons', () => {
  const m = Z.map;
  assert.equal(m.inGeometry([1, 1], holed), true);
  assert.equal(m.inGeometry([5, 5], holed), false, 'in the hole');
  assert.equal(m.inGeometry([11, 5], holed), false, 'outside');
  assert.equal(m.inGeometry([21, 21], multi), true, 'second part');
  assert.equal(m.inGeometry([5, 5], multi), false, 'hole of the first part');
  assert.equal(m.inGeometry([15, 15], multi), false, 'between the parts');
  assert.equal(m.inGeometry([1, 1], { type: 'Point', coordinates: [1, 1] }), false);
  const list = [
    { code: 'a', polys: m.polygonsOf(holed), bbox: m.boundsOf(m.polygonsOf(holed)) },
    { code: 'b', polys: m.polygonsOf(multi), bbox: m.boundsOf(m.polygonsOf(multi)) },
  ];
  assert.equal(m.regionAt([1, 1], list).code, 'a');
  assert.equal(m.regionAt([21, 21], list).code, 'b');
  assert.equal(m.regionAt([5, 5], list), null);
});

test('projection keeps true proportions (cos latitude) and fits the box', () => {
  const m = Z.map;
  // One degree square around 60° N: a degree of longitude is half a degree of latitude.
  const b = [10, 59.5, 11, 60.5];
  assert.ok(Math.abs(m.aspectOf(b) - 0.5) < 1e-9);
  const p = m.projection(b, { x: 10, y: 20, w: 400, h: 400 });
  const [x0, y0] = p.project([10, 60.5]);
  const [x1, y1] = p.project([11, 59.5]);
  assert.ok(Math.abs((y1 - y0) / (x1 - x0) - 2) < 1e-9, 'height is twice the width');
  assert.ok(Math.abs(y1 - y0 - 400) < 1e-9, 'fills the box height');
  assert.ok(Math.abs((x0 + x1) / 2 - 210) < 1e-9, 'centred across');
  assert.ok(Math.abs(y0 - 20) < 1e-9, 'north at the top');
  const back = p.unproject(...p.project([10.25, 60.1]));
  assert.ok(Math.abs(back[0] - 10.25) < 1e-9 && Math.abs(back[1] - 60.1) < 1e-9, 'unproject inverts project');
  // At the equator the aspect is 1: a square stays square.
  const q = m.projection([0, -1, 2, 1], { x: 0, y: 0, w: 100, h: 50 });
  const a = q.project([0, 1]);
  const c = q.project([2, -1]);
  assert.ok(Math.abs((c[0] - a[0]) - (c[1] - a[1])) < 1e-9);
});

test('bounds, label point, ring tracing and label placement', () => {
  const m = Z.map;
  assert.deepEqual(m.boundsOf(m.polygonsOf(multi)), [0, 0, 22, 22]);
  assert.equal(m.boundsOf([]), null);
  assert.deepEqual(m.labelPoint(multi).map((v) => Math.round(v * 1000) / 1000), [5, 5]);
  const calls = [];
  const ctx = { moveTo: (x, y) => calls.push(['M', x, y]), lineTo: (x, y) => calls.push(['L', x, y]), closePath: () => calls.push(['Z']) };
  m.tracePolys(ctx, m.polygonsOf(holed), (c) => [c[0] * 2, c[1] * 2]);
  assert.deepEqual(calls.filter((c) => c[0] !== 'L').map((c) => c.join(' ')), ['M 0 0', 'Z', 'M 8 8', 'Z']);
  // Below the point is taken unless a box covers it.
  assert.deepEqual(m.leastOverlap([[0, 10], [0, -30]], 50, 20, []), [0, 10]);
  assert.deepEqual(m.leastOverlap([[0, 10], [0, -30]], 50, 20, [[0, 10, 50, 20]]), [0, -30]);
  assert.equal(m.awayFromSeam(1910, 1920, 30), 1890);
  assert.equal(m.awayFromSeam(1925, 1920, 30), 1950);
  assert.equal(m.awayFromSeam(1000, 1920, 30), 1000);
});

test('region tree: levels from the top, children, names', () => {
  const f = (code, level, parent, ring) => ({ type: 'Feature', properties: { code, name: 'R' + code, level, parent },
    geometry: { type: 'Polygon', coordinates: [ring] } });
  const tree = Z.map.regionTree({ features: [f('1', 2, '', outer), f('11', 3, '1', outer), f('12', 3, '1', far), f('111', 4, '11', hole)] });
  assert.equal(tree.top, '1');
  assert.equal(tree.deepest, 2);
  assert.deepEqual(tree.kidsOf('1'), ['11', '12']);
  assert.equal(tree.regions.get('111').level, 2);
  assert.equal(tree.name('12'), 'R12');
  assert.equal(tree.name('x'), 'x');
});

test('time in Asia/Shanghai across midnight', () => {
  const T = Z.time;
  const before = Date.parse('2026-12-02T15:59:59Z'); // 23:59:59 in Beijing
  const after = Date.parse('2026-12-02T16:00:01Z'); // 00:00:01 the next day
  for (const tz of [480, null]) { // the server's +08:00, and the browser's zone (Asia/Shanghai here)
    assert.equal(T.hms(before, tz), '23:59:59');
    assert.equal(T.hms(after, tz), '00:00:01');
    assert.equal(T.dayOf(before, tz), '2026-12-02');
    assert.equal(T.dayOf(after, tz), '2026-12-03');
    assert.equal(T.parts(after, tz)[3], 4, 'a Thursday');
    assert.equal(T.timeOf('2026-12-02T16:00:01Z', tz), '00:00:01');
    assert.equal(T.timeOf('2026-12-03T00:00:01+08:00', tz), '00:00:01');
    assert.equal(T.timeOf('garbage', tz), '--:--:--');
    assert.equal(T.dayStart('2026-12-03', tz), Date.parse('2026-12-02T16:00:00Z'));
    assert.equal(T.hourStart(after, tz), Date.parse('2026-12-02T16:00:00Z'));
    // The date is shown for a time on another day than now (and always when asked).
    assert.equal(T.shortTime('2026-12-02T15:59:59Z', tz, after), '12-02 23:59');
    assert.equal(T.shortTime('2026-12-02T16:30:00Z', tz, after), '00:30');
    assert.equal(T.shortTime('2026-12-02T16:30:00Z', tz, true), '12-03 00:30');
    assert.equal(T.dateTime('2026-12-02T16:05:00Z', tz), '2026-12-03 00:05');
    assert.equal(T.dateTime('2026-12-02T16:05:09Z', tz, true), '12-03 00:05:09');
  }
  // A deployment west of Greenwich, whatever the browser's zone.
  assert.equal(T.dayOf(after, -300), '2026-12-02');
  assert.equal(T.offsetOf('2026-12-03T00:00:00+08:00'), 480);
  assert.equal(T.offsetOf('2026-12-03T00:00:00-0530'), -330);
  assert.equal(T.offsetOf('2026-12-03T00:00:00Z'), 0);
  assert.equal(T.offsetOf('2026-12-03'), null);
  assert.equal(T.dateTime('0001-01-01T00:00:00Z', 480), '');
  assert.equal(T.isoSec(after + 123), '2026-12-02T16:00:01Z');
});

test('day strings', () => {
  const T = Z.time;
  assert.equal(T.addDays('2026-12-31', 1), '2027-01-01');
  assert.equal(T.addDays('2024-03-01', -1), '2024-02-29');
  assert.equal(T.addDays('not a day', 1), 'not a day');
  assert.equal(T.monthStart('2026-01-15', -1), '2025-12-01');
  assert.equal(T.monthStart('2026-01-15', 0), '2026-01-01');
  assert.equal(T.weekdayOf('2026-12-03'), 4);
});

test('durations', () => {
  const T = Z.time;
  const zh = { d: '天', h: '时', m: '分', s: '秒' };
  const en = { d: 'd ', h: 'h ', m: 'm ', s: 's' };
  assert.equal(T.duration(59, zh), '0分59秒');
  assert.equal(T.duration(-61, zh), '1分01秒');
  assert.equal(T.duration(3600 + 120, zh), '1时2分');
  assert.equal(T.duration(2 * 86400 + 23 * 3600 + 59, zh), '2天23时');
  assert.equal(T.duration(2 * 86400 + 3600, en), '2d 1h');
  assert.equal(T.duration(125, en), '2m 05s');
  // By language: hours are 小时 in Chinese.
  assert.equal(T.duration(86399, 'zh'), '23小时59分');
  assert.equal(T.duration(-(86400 + 16 * 3600 + 300), 'zh'), '1天16小时');
  assert.equal(T.duration(307, 'zh'), '5分07秒');
  assert.equal(T.duration(86399, 'en'), '23h 59m');
  assert.equal(T.duration(-(86400 + 16 * 3600), 'en'), '1d 16h');
  assert.equal(T.hoursMinutes(3900), '1h05m');
  assert.equal(T.hoursMinutes(-300), '−05m');
  assert.equal(T.hoursMinutes(undefined), '');
  // Across midnight: 23:50 to 00:10 in Beijing is 20 minutes.
  const secs = (Date.parse('2026-12-02T16:10:00Z') - Date.parse('2026-12-02T15:50:00Z')) / 1000;
  assert.equal(T.duration(secs, zh), '20分00秒');
});

test('category texts in both languages, in the taxonomy order', () => {
  const X = Z.texts;
  assert.deepEqual(X.CATEGORIES, ['dispute', 'security', 'safety', 'environment', 'cityorder', 'livelihood', 'petition']);
  assert.deepEqual(X.CATEGORIES.map((c) => X.category(c, 'zh')), ['矛盾纠纷', '治安隐患', '安全生产', '环境卫生', '市容秩序', '民生服务', '信访']);
  assert.deepEqual(X.CATEGORIES.map((c) => X.category(c, 'en')), ['Disputes', 'Security', 'Work safety', 'Sanitation', 'City order', 'Livelihood', 'Petitions']);
  for (const l of X.LANGS) assert.deepEqual(Object.keys(X.COMMON[l].cat), X.CATEGORIES.concat(['unmapped']), l);
  assert.equal(X.category('unmapped', 'zh'), '未归类');
  assert.equal(X.category('flood', 'en'), 'flood');
  assert.equal(X.category('', 'zh'), '');
  assert.equal(X.department('county.water', 'zh'), '水利局');
  assert.equal(X.department('county.water', 'en'), 'Water Resources');
});

test('names from the catalogue, the built-in tables until it is in, unknown codes as themselves', () => {
  const X = Z.texts;
  // Before the catalogue: the built-in categories and colours (fetching needs a token and fetch).
  X.loadCatalog('', () => assert.fail('no catalogue without a token'));
  assert.equal(X.catalogLoaded(), false);
  assert.deepEqual(X.categories(), X.CATEGORIES);
  assert.deepEqual(X.topCategories(), X.CATEGORIES);
  assert.equal(X.categoryColor('environment'), '#2ee59d');
  assert.equal(X.categoryColor('flood'), '');
  X.setCatalog({
    categories: [
      { code: 'environment', zh: '环境卫生', en: 'Sanitation', color: '#00ff00' },
      { code: 'environment.noise', zh: '噪声扰民', parent: 'environment' },
      { code: 'flood', zh: '防汛', en: 'Flood control' },
      { code: 'unmapped', zh: '未归类', en: 'Unmapped' },
      { zh: 'no code' },
    ],
    departments: [{ code: 'town.x', zh: '某街道', en: 'X office', kind: '乡镇街道' }, { code: 'county.water', zh: '水务局' }],
  });
  assert.equal(X.catalogLoaded(), true);
  assert.deepEqual(X.categories(), ['environment', 'environment.noise', 'flood', 'unmapped']);
  assert.deepEqual(X.topCategories(), ['environment', 'flood']);
  assert.equal(X.category('flood', 'zh'), '防汛');
  assert.equal(X.category('flood', 'en'), 'Flood control');
  assert.equal(X.category('environment.noise', 'en'), '噪声扰民', 'no English name: the Chinese one');
  assert.equal(X.category('dispute', 'zh'), '矛盾纠纷', 'a code the catalogue lacks: the built-in name');
  assert.equal(X.category('drought', 'zh'), 'drought');
  assert.equal(X.categoryColor('environment'), '#00ff00');
  assert.equal(X.categoryColor('environment.noise'), '#00ff00', 'a subcategory takes its parent\'s colour');
  assert.equal(X.categoryColor('flood'), '');
  assert.equal(X.department('town.x', 'en'), 'X office');
  assert.equal(X.department('county.water', 'zh'), '水务局');
  assert.equal(X.department('county.water', 'en'), '水务局');
  assert.equal(X.department('county.housing', 'zh'), '住建局');
  assert.equal(X.department('X', 'zh'), 'X');
  const L = X.i18n({}, { params: new URLSearchParams('lang=en'), stored: null });
  assert.equal(L.dept('town.x'), 'X office');
  assert.equal(L.cat('flood'), 'Flood control');
  let called = 0;
  X.loadCatalog('tok', () => called++);
  assert.equal(called, 1, 'loaded: the callback runs at once');
  // Back to the built-in tables for the other tests.
  X.setCatalog({ categories: X.CATEGORIES.concat(['unmapped']).map((code) => ({ code, zh: X.COMMON.zh.cat[code], en: X.COMMON.en.cat[code] })),
    departments: Object.keys(X.COMMON.zh.dept).map((code) => ({ code, zh: X.COMMON.zh.dept[code], en: X.COMMON.en.dept[code] })) });
});

test('language choice: zh-CN first, English second, ?lang= then the remembered choice', () => {
  const X = Z.texts;
  const q = (s) => new URLSearchParams(s);
  assert.deepEqual(X.LANGS, ['zh', 'en']);
  assert.equal(X.chooseLang(q(''), null), 'zh');
  assert.equal(X.chooseLang(q('lang=en'), null), 'en');
  assert.equal(X.chooseLang(q(''), 'en'), 'en');
  assert.equal(X.chooseLang(q('lang=zh'), 'en'), 'zh');
  assert.equal(X.chooseLang(q('lang=fr'), 'en'), 'zh');
  const page = { zh: { title: '一张屏', only_zh: '仅中文' }, en: { title: 'One screen' } };
  const L = X.i18n(page, { params: q('lang=en'), stored: null });
  assert.equal(L.lang, 'en');
  assert.equal(L.htmlLang(), 'en');
  assert.equal(L.t('title'), 'One screen');
  assert.equal(L.t('only_zh'), '仅中文', 'a text missing in English falls back to Chinese');
  assert.equal(L.t('lang_switch'), '中', 'shared texts');
  assert.equal(L.cat('petition'), 'Petitions');
  assert.equal(L.toggle(), 'zh');
  assert.equal(L.htmlLang(), 'zh-CN');
  assert.equal(L.t('title'), '一张屏');
  assert.equal(L.t('weekdays')[4], '星期四');
});

test('check-dupes finds a function defined in two scripts, and none in web/', () => {
  const src = [
    '(function () {',
    '  function shared(a) {}',
    '  const arrow = (x) => x;',
    '  let later = function () {};',
    '  async function loader() {}',
    '    function nested() {}',
    '  const notFn = 3;',
    '  Flip.prototype.set = function (v) {};',
    '})();',
  ].join('\n');
  assert.deepEqual([...definitionsOf(src)].sort(), ['arrow', 'later', 'loader', 'shared']);
  assert.deepEqual(duplicates({ 'a.js': 'function x() {}', 'b.js': '  const x = () => 1;', 'c.js': 'function y() {}' }), [['x', ['a.js', 'b.js']]]);
  assert.deepEqual(checkDupes(web), []);
});

test('layoutLabels: no two placed labels overlap, the higher priority wins, bounds and obstacles are kept', () => {
  const M = Z.map;
  // 40 labels crowding the same few points, with an obstacle in the middle.
  const items = [];
  for (let i = 0; i < 40; i++) {
    items.push({ id: 'l' + i, x: 200 + (i % 5) * 12, y: 150 + Math.floor(i / 5) * 9, w: 70, h: 34, priority: i % 4, leader: i % 2 === 0 });
  }
  const obstacle = [215, 160, 30, 30];
  const bounds = [0, 0, 480, 320];
  const { placed, dropped } = M.layoutLabels(items, { bounds, obstacles: [obstacle], pad: 2 });
  assert.equal(placed.length + dropped.length, items.length);
  assert.ok(placed.length >= 10, 'most labels find a place: ' + placed.length);
  for (const a of placed) {
    const box = [a.x, a.y, a.w, a.h];
    assert.ok(a.x >= bounds[0] && a.y >= bounds[1] && a.x + a.w <= bounds[2] && a.y + a.h <= bounds[3], 'inside the bounds: ' + box);
    assert.ok(!M.boxesOverlap(box, obstacle), 'clear of the obstacle: ' + box);
    for (const b of placed) if (a !== b) assert.ok(!M.boxesOverlap(box, [b.x, b.y, b.w, b.h]), a.id + ' overlaps ' + b.id);
    // Only a label allowed a leader line gets one, from its anchor to its box.
    const it = items.find((x) => x.id === a.id);
    if (a.leader) {
      assert.ok(it.leader);
      assert.deepEqual(a.leader.slice(0, 2), [it.x, it.y]);
    }
  }
  // Placed in priority order; a dropped label never outranks every placed one.
  const prio = (id) => items.find((x) => x.id === id).priority;
  for (let i = 1; i < placed.length; i++) assert.ok(prio(placed[i - 1].id) >= prio(placed[i].id));
  assert.ok(placed.some((p) => prio(p.id) === 3));
  // A lone label sits centred on its anchor; spots are tried before leader lines.
  const one = M.layoutLabels([{ id: 'a', x: 100, y: 100, w: 40, h: 20 }], {});
  assert.deepEqual([one.placed[0].x, one.placed[0].y, one.placed[0].leader], [80, 90, null]);
  const moved = M.layoutLabels([{ id: 'b', x: 100, y: 100, w: 40, h: 20, spots: [[300, 300]], leader: true }],
    { obstacles: [[0, 0, 250, 250]] });
  assert.deepEqual([moved.placed[0].x, moved.placed[0].y, moved.placed[0].leader], [280, 290, null]);
});

test('touching: regions sharing a vertex are neighbours', () => {
  const sq = (x, y) => [[[x, y], [x + 1, y], [x + 1, y + 1], [x, y + 1], [x, y]]];
  const list = [{ code: 'a', polys: [sq(0, 0)] }, { code: 'b', polys: [sq(1, 0)] }, { code: 'c', polys: [sq(2, 1)] }, { code: 'd', polys: [sq(5, 5)] }];
  const nb = Z.map.touching(list);
  assert.deepEqual([...nb.get('a')], ['b']);
  assert.deepEqual([...nb.get('b')].sort(), ['a', 'c'], 'b and c share the corner (2, 1)');
  assert.deepEqual([...nb.get('d')], []);
});

test('a screen subscribes the alerts of its region', () => {
  assert.equal(Z.alerts.topicFor('?region=411502&token=x'), 'alerts:411502');
  assert.equal(Z.alerts.topicFor(''), 'alerts:root');
  assert.equal(Z.alerts.topicFor('?region=../x'), 'alerts:root');
  assert.equal(Z.alerts.owns(''), false);
});

// frameCap loads kit-frames.js into a page of its own whose display gives a frame every
// 1000/60 ms, asks for a frame in every frame for one second, and returns how many ran and the
// cap the page reports.
function frameCap(search, reduced = false) {
  let waiting = new Map();
  let id = 0;
  const classes = new Set();
  const page = {
    location: { search },
    requestAnimationFrame: (cb) => { waiting.set(++id, cb); return id; },
    cancelAnimationFrame: (n) => waiting.delete(n),
    matchMedia: (q) => ({ matches: reduced && q === '(prefers-reduced-motion: reduce)' }),
    document: { documentElement: { classList: { add: (c) => classes.add(c) } } },
  };
  vm.runInNewContext(readFileSync(join(web, 'kit-frames.js'), 'utf8'), { window: page, URLSearchParams, setTimeout });
  let ran = 0;
  const again = () => { ran++; page.requestAnimationFrame(again); };
  page.requestAnimationFrame(again);
  const dropped = page.requestAnimationFrame(() => { ran += 1000; });
  page.cancelAnimationFrame(dropped);
  for (let f = 0; f < 60; f++) {
    const due = waiting;
    waiting = new Map();
    for (const cb of due.values()) cb((f * 1000) / 60);
  }
  return { ran, fps: page.__zhiliFrames.fps, motion: page.__zhiliFrames.motion, still: classes.has('still') };
}

test('frame cap: 30 a second by default, ?fps= from 10 to 60, a cancelled frame never runs', () => {
  assert.deepEqual(frameCap(''), { ran: 30, fps: 30, motion: true, still: false });
  assert.deepEqual(frameCap('?fps=20'), { ran: 20, fps: 20, motion: true, still: false });
  assert.deepEqual(frameCap('?fps=60'), { ran: 60, fps: 60, motion: true, still: false });
  assert.deepEqual(frameCap('?fps=200'), { ran: 60, fps: 60, motion: true, still: false });
  assert.equal(frameCap('?fps=2').fps, 10);
  assert.equal(frameCap('?fps=x').fps, 30);
});

test('still screens: reduced motion asked for or ?motion=off; ?motion=on wins over the system', () => {
  const m = (search, reduced) => { const r = frameCap(search, reduced); return [r.motion, r.still]; };
  assert.deepEqual(m('', false), [true, false]);
  assert.deepEqual(m('', true), [false, true]);
  assert.deepEqual(m('?motion=off', false), [false, true]);
  assert.deepEqual(m('?motion=on', true), [true, false]);
  assert.deepEqual(m('?motion=on&fps=60', true), [true, false]);
  assert.deepEqual(m('?motion=off&fps=60', false), [false, true]);
  assert.deepEqual(m('?motion=x', true), [false, true]);
});
