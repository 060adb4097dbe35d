// Opens urial study's report.html (or urial eval report --format html's page) in headless
// Chromium (Debian's /usr/bin/chromium driven by playwright-core) and checks what renders,
// offline: every section present; every chart with a caption, a legend item per series
// and its axis labels; no text overflowing its box (element boxes compared: SVG text
// inside its SVG, legend items inside their figure, table cells, answers and headings
// not wider than their boxes, the page not wider than the window, at two widths and
// printed); the Table-1 numbers equal to `urial eval report --format json` of the same
// judged files; the TDS numbers equal to summary.json.
// Prints PASS/FAIL lines (counted by tests/run.sh); exits 1 if any check failed.
//   node study_report.mjs study DIR/report.html EVAL.json SUMMARY.json ITEMS [pairwise]
//     EVAL.json: {"METHOD": <urial eval report --format json object>, ...}
//   node study_report.mjs eval PAGE.html SERIES
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const SUITE = process.env.SUITE || 'browser_study';
let failed = 0;
function check(name, ok, why) {
  if (ok) console.log(`PASS ${SUITE}/${name}`);
  else {
    failed++;
    console.log(`FAIL ${SUITE}/${name}: ${why ?? ''}`);
  }
}

const [kind, page_path, ...rest] = process.argv.slice(2);
if (!page_path || !existsSync(page_path)) {
  console.log(`FAIL ${SUITE}/args: usage: node study_report.mjs study|eval PAGE.html ... (got ${page_path})`);
  process.exit(1);
}

// every chart: caption, series count, legend items, axis labels, and boxes
function charts() {
  const out = [];
  for (const fig of document.querySelectorAll('figure.chart')) {
    const svg = fig.querySelector('svg');
    const vb = svg.viewBox.baseVal, sr = svg.getBoundingClientRect(), fr = fig.getBoundingClientRect();
    const texts = [...svg.querySelectorAll('text')];
    const outside = texts.filter((t) => {
      const b = t.getBBox();
      // rotated labels: their box in the SVG's coordinates after the transform
      const m = t.getCTM(), sm = svg.getCTM().inverse().multiply(m);
      const pts = [[b.x, b.y], [b.x + b.width, b.y], [b.x, b.y + b.height], [b.x + b.width, b.y + b.height]]
        .map(([x, y]) => new DOMPoint(x, y).matrixTransform(sm));
      return pts.some((p) => p.x < vb.x - 1 || p.y < vb.y - 1 || p.x > vb.x + vb.width + 1 || p.y > vb.y + vb.height + 1);
    }).map((t) => t.textContent);
    const legend = [...fig.querySelectorAll('ul.legend li')];
    const legendOut = legend.filter((li) => {
      const r = li.getBoundingClientRect();
      return r.left < fr.left - 1 || r.right > fr.right + 1 || li.scrollWidth > li.clientWidth + 1;
    }).map((li) => li.textContent);
    out.push({
      id: fig.id, caption: fig.querySelector('figcaption')?.textContent ?? '', series: +fig.dataset.series,
      legend: legend.map((li) => li.textContent), legendOut, outside,
      axis: [...svg.querySelectorAll('text.axis-label')].map((t) => t.textContent).filter((s) => s.trim()),
      xlabel: svg.querySelector('text.x-label')?.textContent ?? '', ylabel: svg.querySelector('text.y-label')?.textContent ?? '',
      bar: !!svg.querySelector('text.y-label'), visible: sr.width > 50 && sr.height > 50,
      svgOut: sr.right > fr.right + 1,
    });
  }
  return out;
}

// text boxes wider than their element (cells, headings, answers, list items) and the page's width
function overflow() {
  const bad = [];
  for (const el of document.querySelectorAll('td, th, h1, h2, h3, h4, pre, .ans li, #methods li, p')) {
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX === 'visible')
      bad.push(`${el.tagName}: ${el.textContent.slice(0, 60)}`);
  }
  for (const el of document.querySelectorAll('.ans, .item')) {
    const r = el.getBoundingClientRect(), p = el.parentElement.getBoundingClientRect();
    if (r.right > p.right + 1) bad.push(`${el.className} wider than its box`);
  }
  return { bad, page: document.documentElement.scrollWidth, win: window.innerWidth };
}

const exe = process.env.CHROMIUM || '/usr/bin/chromium';
const profile = mkdtempSync(join(tmpdir(), 'urial-chromium-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: exe,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1200, height: 900 },
});
try {
  const page = ctx.pages()[0] ?? await ctx.newPage();
  const errors = [], network = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:')) return route.continue();
    network.push(url);
    return route.abort();
  });
  await page.goto(pathToFileURL(resolve(page_path)).href, { waitUntil: 'load' });
  check(`${kind}_no_script_errors`, errors.length === 0, errors.join(' | '));

  for (const [label, width] of [['wide', 1200], ['narrow', 700]]) {
    await page.setViewportSize({ width, height: 900 });
    const cs = await page.evaluate(charts);
    check(`${kind}_${label}_charts`, cs.length > 0, 'no figure.chart');
    const bad = [];
    for (const c of cs) {
      if (!c.caption.trim()) bad.push(`${c.id}: no caption`);
      if (!c.visible) bad.push(`${c.id}: not visible`);
      if (c.legend.length !== c.series || c.legend.some((s) => !s.trim())) bad.push(`${c.id}: legend ${JSON.stringify(c.legend)} for ${c.series} series`);
      if (new Set(c.legend).size !== c.legend.length) bad.push(`${c.id}: legend names repeat: ${c.legend}`);
      if (!c.axis.length) bad.push(`${c.id}: no axis labels`);
      if (c.bar && (!c.xlabel.trim() || !c.ylabel.trim())) bad.push(`${c.id}: bar chart without x or y label`);
      if (c.outside.length) bad.push(`${c.id}: text outside the SVG: ${c.outside.join(', ')}`);
      if (c.legendOut.length) bad.push(`${c.id}: legend items outside their figure: ${c.legendOut.join(', ')}`);
      if (c.svgOut) bad.push(`${c.id}: SVG wider than its figure`);
    }
    check(`${kind}_${label}_charts_legends_axes_boxes`, bad.length === 0, bad.join(' | '));
    const o = await page.evaluate(overflow);
    check(`${kind}_${label}_no_overflow`, o.bad.length === 0 && o.page <= o.win,
      `${o.bad.slice(0, 5).join(' | ')} page ${o.page} > window ${o.win}`);
  }
  await page.setViewportSize({ width: 1200, height: 900 });

  if (kind === 'study') {
    const [evalPath, summaryPath, items, pairwise] = rest;
    const sections = await page.evaluate(() => ['scores', 'table1', 'charts', 'breakdown', 'tds', 'answers', 'pairwise', 'methods']
      .filter((id) => document.getElementById(id)));
    const want = ['scores', 'table1', 'charts', 'breakdown', 'tds', 'answers', 'methods'].concat(pairwise ? ['pairwise'] : []);
    check('study_sections', want.every((s) => sections.includes(s)), `present: ${sections}`);
    // Table 1 against urial eval report --format json
    const ev = JSON.parse(readFileSync(evalPath, 'utf8'));
    const rows = await page.evaluate(() => [...document.querySelectorAll('#table1 tr[data-method]')].map((tr) => ({
      method: tr.dataset.method,
      cells: Object.fromEntries([...tr.querySelectorAll('td[data-key]')].map((td) => [td.dataset.key, td.dataset.value ?? null])),
    })));
    const bad = [];
    for (const [m, rep] of Object.entries(ev)) {
      const row = rows.find((r) => r.method === m);
      if (!row) { bad.push(`${m}: no row`); continue; }
      for (const [k, v] of Object.entries(rep)) {
        if (!k.endsWith('_mean') && k !== 'avg_lens' && k !== 'total') continue;
        const got = k === 'total' ? null : row.cells[k];
        if (k !== 'total' && (got === undefined || got === null || Number(got) !== v)) bad.push(`${m} ${k}: page ${got}, eval report ${v}`);
      }
      const means = Object.entries(rep).filter(([k]) => k.endsWith('_mean')).map(([, v]) => v);
      const avg = means.reduce((a, b) => a + b, 0) / means.length;
      if (Math.abs(Number(row.cells.average) - avg) > 1e-12) bad.push(`${m} average: page ${row.cells.average}, ${avg}`);
    }
    check('study_table1_equals_eval_report', bad.length === 0 && rows.length === Object.keys(ev).length, bad.join(' | '));
    // TDS numbers against summary.json
    const sum = JSON.parse(readFileSync(summaryPath, 'utf8'));
    const tdsText = await page.evaluate(() => document.getElementById('tds').textContent);
    const pct = (x) => `${(100 * x).toFixed(2)}%`;
    const want_t = [pct(sum.ratios.unshifted), pct(sum.ratios.marginal), pct(sum.ratios.shifted), String(sum.examples)];
    check('study_tds_equals_summary', want_t.every((s) => tdsText.includes(s)), `${want_t} in the TDS section`);
    const tdsFigs = await page.evaluate(() => [...document.querySelectorAll('#tds svg.fig.line')].map((s) => ({
      x: s.querySelector('text.xlabel')?.textContent ?? '', y: s.querySelector('text.ylabel')?.textContent ?? '',
      legend: s.querySelectorAll('.legend-entry text').length,
    })));
    check('study_tds_figures', tdsFigs.length > 0 && tdsFigs.every((f) => f.x && f.y), JSON.stringify(tdsFigs));
    // the answers side by side: one block per item, one card per method
    const ans = await page.evaluate(() => [...document.querySelectorAll('#answers .item')].map((it) => it.querySelectorAll('.ans').length));
    const n = Object.keys(ev).length;
    check('study_answers_side_by_side', ans.length === Number(items) && ans.every((k) => k === n), `${ans.length} items, cards ${ans}`);
    const radars = await page.evaluate(() => document.querySelectorAll('figure.chart[id^="radar-"]').length);
    check('study_radar_per_method', radars === n + 1, `${radars} radar charts for ${n} methods`);
  } else {
    const [series] = rest;
    const legend = await page.evaluate(() => [...document.querySelectorAll('#scores-bars ul.legend li')].map((li) => li.textContent));
    check('eval_series', legend.length === Number(series), `legend ${legend}`);
    const radar = await page.evaluate(() => !!document.getElementById('scores-radar'));
    check('eval_radar', radar, 'no radar chart');
  }

  // printed: the charts still laid out inside the page
  await page.emulateMedia({ media: 'print' });
  const printed = await page.evaluate(() => [...document.querySelectorAll('figure.chart svg')].every((s) => s.getBoundingClientRect().width > 50));
  check(`${kind}_print`, printed, 'a chart has no width when printed');
  check(`${kind}_offline`, network.length === 0, network.join(' '));
} finally {
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
