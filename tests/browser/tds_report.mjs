// Opens urial tds's report.html (and optionally tds prefix's prefix.html) in headless
// Chromium — Debian's /usr/bin/chromium driven by playwright-core — and checks that
// the page renders with no network and no script error: the answers' tokens with the
// colour of their class, both SVG plots, and a tooltip with η when a token is hovered.
// Prints PASS/FAIL lines (counted by tests/run.sh); exits 1 if any check failed.
//   node tds_report.mjs DIR/report.html [PREFIXDIR/prefix.html]
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const SUITE = 'browser';
let failed = 0;
function check(name, ok, why) {
  if (ok) console.log(`PASS ${SUITE}/${name}`);
  else {
    failed++;
    console.log(`FAIL ${SUITE}/${name}: ${why ?? ''}`);
  }
}

const [report, prefix] = process.argv.slice(2);
if (!report || !existsSync(report)) {
  console.log(`FAIL ${SUITE}/args: usage: node tds_report.mjs REPORT.html [PREFIX.html] (got ${report})`);
  process.exit(1);
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
  await page.goto(pathToFileURL(resolve(report)).href, { waitUntil: 'load' });
  check('report_no_script_errors', errors.length === 0, errors.join(' | '));

  // the data the page was built from, to compare the DOM against
  const data = await page.evaluate(() => JSON.parse(document.getElementById('tds-data').textContent));
  check('report_has_answers', data.examples.length > 0, 'no examples in the data');

  // tokens: the first page shows up to 20 answers, every position a span whose class follows its rank
  const shown = await page.$$eval('#examples .ex', (exs) => exs.map((ex) => ({
    id: ex.dataset.id,
    spans: [...ex.querySelectorAll('.ans .t')].map((s) => ({ cls: s.classList[1], rank: +s.dataset.rank, text: s.textContent })),
  })));
  const want = data.examples.slice(0, 20);
  check('report_first_page', shown.length === want.length,
    `${shown.length} answers shown, expected ${want.length}`);
  let bad = '';
  shown.forEach((ex, i) => {
    const d = want[i];
    if (ex.id !== JSON.stringify(d.id)) bad ||= `answer ${i} is ${ex.id}, expected ${JSON.stringify(d.id)}`;
    let k = 0, n = 0;
    const ranks = [];
    while (k < d.t.length) { ranks.push(d.t[k + 1]); k += 5 + (d.t[k + 1] === 1 ? 4 : 6); n++; }
    if (ex.spans.length !== n) bad ||= `answer ${ex.id}: ${ex.spans.length} tokens shown, ${n} in the data`;
    ex.spans.forEach((s, j) => {
      const cls = s.rank <= 1 ? 'u' : s.rank <= 3 ? 'm' : 's';
      if (s.rank !== ranks[j] || s.cls !== cls) bad ||= `answer ${ex.id} token ${j}: rank ${s.rank} class ${s.cls}`;
    });
  });
  check('report_tokens_match_data', !bad, bad);
  const total = shown.reduce((a, ex) => a + ex.spans.length, 0);
  check('report_tokens_rendered', total > 0, 'no token spans');

  // colours: computed backgrounds by class (shifted red, marginal amber, unshifted none)
  const colours = await page.evaluate(() => {
    const out = {};
    for (const c of ['u', 'm', 's']) {
      const s = document.querySelector(`#examples .t.${c}`);
      if (s) out[c] = getComputedStyle(s).backgroundColor;
    }
    return out;
  });
  const expect = { s: 'rgb(240, 128, 128)', m: 'rgb(255, 211, 107)', u: 'rgba(0, 0, 0, 0)' };
  const present = Object.keys(colours);
  check('report_class_colours', present.length > 0 && present.every((c) => colours[c] === expect[c]),
    JSON.stringify(colours));

  // the two plots: drawn, visible, with their shapes
  const plots = await page.evaluate(() => {
    const box = (sel) => { const e = document.querySelector(sel); if (!e) return null; const r = e.getBoundingClientRect(); return [r.width, r.height]; };
    const polys = [...document.querySelectorAll('#ratio-plot polygon')].map((p) => p.points.numberOfItems);
    const bars = [...document.querySelectorAll('#shifted-plot rect.bar')].map((r) => r.getBBox().width);
    return { ratio: box('#ratio-plot'), shifted: box('#shifted-plot'), polys, bars };
  });
  check('report_ratio_plot', plots.ratio && plots.ratio[0] > 300 && plots.ratio[1] > 100 && plots.polys.length === 3 &&
    plots.polys.every((n) => n >= 2), JSON.stringify(plots));
  check('report_shifted_plot', plots.shifted && plots.shifted[0] > 300 && plots.bars.length > 0 &&
    plots.bars.every((w) => w > 0), JSON.stringify(plots));

  // hovering a token shows η (its rank) and the base model's top tokens
  const target = (await page.$('#examples .t.s')) || (await page.$('#examples .t'));
  const rank = await target.getAttribute('data-rank');
  await target.hover();
  const tip = await page.evaluate(() => { const t = document.getElementById('tip'); return { hidden: t.hidden, text: t.textContent, vis: getComputedStyle(t).display }; });
  check('report_hover_shows_eta', !tip.hidden && tip.vis !== 'none' && tip.text.includes(`η = ${rank}`) &&
    tip.text.includes('base top:') && tip.text.includes('P_base'), JSON.stringify(tip));
  await page.mouse.move(1, 1);
  check('report_tip_hides', await page.evaluate(() => document.getElementById('tip').hidden), 'tooltip still shown');

  // the other pages and the order control
  if (data.examples.length > 20) {
    await page.click('#next');
    const first = await page.$eval('#examples .ex', (e) => e.dataset.id);
    check('report_next_page', first === JSON.stringify(data.examples[20].id), first);
  }
  await page.selectOption('#sort', 'most');
  const firstMost = await page.$eval('#examples .ex', (e) => e.dataset.id);
  check('report_sort', firstMost !== undefined, 'no answer after sorting');
  check('report_no_network', network.length === 0, network.join(' '));
  check('report_no_errors_after_use', errors.length === 0, errors.join(' | '));

  if (prefix) {
    const p2 = await ctx.newPage();
    const errs2 = [];
    p2.on('pageerror', (e) => errs2.push(String(e)));
    await p2.goto(pathToFileURL(resolve(prefix)).href, { waitUntil: 'load' });
    const pr = await p2.evaluate(() => ({
      rows: document.querySelectorAll('#prefix-table tr').length - 1,
      lines: [...document.querySelectorAll('#prefix-plot polyline.k')].map((l) => l.points.numberOfItems),
      w: document.querySelector('#prefix-plot')?.getBoundingClientRect().width,
    }));
    check('prefix_page', errs2.length === 0 && pr.rows > 0 && pr.lines.length === pr.rows && pr.lines.every((n) => n >= 1) &&
      pr.w > 300, JSON.stringify(pr) + errs2.join(' | '));
  }
} catch (e) {
  check('report_exception', false, String(e).split('\n')[0]);
} finally {
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
