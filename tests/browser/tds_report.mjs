// Opens urial tds's report.html (and optionally tds prefix's prefix.html and a page of
// several pairs from `urial tds report D1 D2 --out PAIRS.html`) in headless Chromium —
// Debian's /usr/bin/chromium driven by playwright-core — and checks that the page
// renders with no network and no script error: the answers' tokens with the colour of
// their class, the paper's figures (present, visible, axes labelled, a legend entry for
// every series), a tooltip with η when a token is hovered, the pair selector, and the
// figures still shown when printed.
// Prints PASS/FAIL lines (counted by tests/run.sh); exits 1 if any check failed.
//   node tds_report.mjs DIR/report.html [PREFIXDIR/prefix.html|-] [PAIRS.html]
// The answers shown are compared with DIR/tokens.jsonl, the records the page was made from.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
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

const [report, prefixArg, pairs] = process.argv.slice(2);
const prefix = prefixArg && prefixArg !== '-' ? prefixArg : null;
if (!report || !existsSync(report)) {
  console.log(`FAIL ${SUITE}/args: usage: node tds_report.mjs REPORT.html [PREFIX.html] (got ${report})`);
  process.exit(1);
}
const records = new Map();
for (const line of readFileSync(join(dirname(report), 'tokens.jsonl'), 'utf8').split('\n')) {
  if (!line) continue;
  const r = JSON.parse(line);
  records.set(JSON.stringify(r.id), r);
}
// every line figure: size, caption, axis labels, series (with their points) and legend texts
async function figures(page) {
  return page.evaluate(() => {
    const out = {};
    for (const svg of document.querySelectorAll('svg.fig.line')) {
      const r = svg.getBoundingClientRect();
      out[svg.id] = {
        w: r.width, h: r.height, caption: svg.closest('figure')?.querySelector('figcaption')?.textContent ?? '',
        xlabel: svg.querySelector('text.xlabel')?.textContent ?? '', ylabel: svg.querySelector('text.ylabel')?.textContent ?? '',
        series: svg.querySelectorAll('polyline.series').length,
        points: [...svg.querySelectorAll('polyline.series')].map((p) => p.points.numberOfItems),
        legend: [...svg.querySelectorAll('.legend-entry text')].map((t) => t.textContent),
      };
    }
    return out;
  });
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

  // the data the page was built from (as report.js decoded it), to compare the DOM against
  const data = await page.evaluate(() => ({
    examples: window.TDS.examples.map((e) => ({ id: e.id, ranks: e.d.map((p) => p.rank) })),
    raw: JSON.parse(document.getElementById('tds-data').textContent).pairs[0].examples.length,
  }));
  check('report_has_answers', data.examples.length > 0 && data.examples.length === data.raw,
    `${data.examples.length} decoded, ${data.raw} in the data`);

  // tokens: the first page shows up to 20 answers, every position a span whose class follows its rank
  const shown = await page.$$eval('#examples .ex', (exs) => exs.map((ex) => ({
    id: ex.dataset.id,
    spans: [...ex.querySelectorAll('.ans .t')].map((s) => ({ cls: s.classList[1], rank: +s.dataset.rank, text: s.textContent })),
  })));
  const want = data.examples.slice(0, 20);
  check('report_first_page', shown.length === want.length,
    `${shown.length} answers shown, expected ${want.length}`);
  // every token shown is the record's: its text, its rank, and the colour of its class
  let bad = '';
  shown.forEach((ex, i) => {
    const d = want[i], rec = records.get(ex.id);
    if (ex.id !== JSON.stringify(d.id)) bad ||= `answer ${i} is ${ex.id}, expected ${JSON.stringify(d.id)}`;
    if (!rec) { bad ||= `answer ${ex.id} is not in tokens.jsonl`; return; }
    if (ex.spans.length !== rec.tokens.length || !ex.spans.length)
      bad ||= `answer ${ex.id}: ${ex.spans.length} tokens shown, ${rec.tokens.length} in tokens.jsonl`;
    ex.spans.forEach((s, j) => {
      const t = rec.tokens[j] ?? {}, cls = { unshifted: 'u', marginal: 'm', shifted: 's' }[t.class];
      const text = t.text === '\n' ? '↵\n' : t.text;
      if (s.rank !== t.rank || s.cls !== cls || s.text !== text || d.ranks[j] !== t.rank)
        bad ||= `answer ${ex.id} token ${j}: shown ${JSON.stringify(s)}, recorded ${JSON.stringify(t)}`;
    });
  });
  check('report_tokens_match_records', !bad, bad);
  const total = shown.reduce((a, ex) => a + ex.spans.length, 0);
  check('report_tokens_rendered', total > 0, 'no token spans');

  // colours: computed backgrounds by class (shifted red, marginal amber, unshifted light green as in the plot and legend)
  const colours = await page.evaluate(() => {
    const out = {};
    for (const c of ['u', 'm', 's']) {
      const s = document.querySelector(`#examples .t.${c}`);
      if (s) out[c] = getComputedStyle(s).backgroundColor;
    }
    return out;
  });
  const expect = { s: 'rgb(240, 128, 128)', m: 'rgb(255, 211, 107)', u: 'rgb(230, 244, 230)' };
  const present = Object.keys(colours);
  check('report_class_colours', present.length > 0 && present.every((c) => colours[c] === expect[c]),
    JSON.stringify(colours));

  // the per-pair plots: drawn, visible, with their shapes
  const plots = await page.evaluate(() => {
    const box = (sel) => { const e = document.querySelector(sel); if (!e) return null; const r = e.getBoundingClientRect(); return [r.width, r.height]; };
    const polys = [...document.querySelectorAll('#fig-classes-1 polygon')].map((p) => p.points.numberOfItems);
    const bars = [...document.querySelectorAll('#fig-shifted-1 rect.bar')].map((r) => r.getBBox().width);
    const words = [...document.querySelectorAll('#fig-words-1 text.word')].map((t) => t.getBBox().width);
    return { ratio: box('#fig-classes-1'), shifted: box('#fig-shifted-1'), words, polys, bars };
  });
  check('report_ratio_plot', plots.ratio && plots.ratio[0] > 300 && plots.ratio[1] > 100 && plots.polys.length === 3 &&
    plots.polys.every((n) => n >= 2), JSON.stringify(plots));
  check('report_shifted_plot', plots.shifted && plots.shifted[0] > 300 && plots.bars.length > 0 &&
    plots.bars.every((w) => w > 0), JSON.stringify(plots));
  check('report_word_cloud', plots.words.length > 0 && plots.words.every((w) => w > 0), JSON.stringify(plots.words));

  // the paper's figures: present and visible, both axes labelled, every series in the legend
  const figs = await figures(page);
  const FIGS = ['fig-shift-pos', 'fig-shift-rel', 'fig-tp', 'fig-tr', 'fig-kl'];
  for (const id of FIGS) {
    const f = figs[id];
    check(`report_figure_${id}`, f && f.w > 300 && f.h > 150 && f.xlabel && f.ylabel && f.caption && f.series > 0 &&
      f.legend.length === f.series && f.legend.every((t) => t.length > 0) && f.points.every((n) => n >= 2), JSON.stringify(f));
  }
  check('report_kl_legend_names', figs['fig-kl'] && figs['fig-kl'].legend.some((t) => t.includes('KL(P_align ‖ P_base)')) &&
    figs['fig-kl'].legend.some((t) => t.includes('KL(P_base ‖ P_align)')) && figs['fig-kl'].legend.some((t) => t.includes('top-30')),
    JSON.stringify(figs['fig-kl']?.legend));
  const table = await page.$$eval('#nums tr th', (ths) => ths.map((t) => t.textContent));
  check('report_table', ['unshifted (η = 1)', 'shifted (η > 3)', "written token = aligned model's top token",
    'mean KL(P_align ‖ P_base), nats', 'mean KL(P_base ‖ P_align), nats'].every((t) => table.includes(t)), JSON.stringify(table));

  // hovering a token shows η (its rank), P_base and the base model's top tokens, as recorded
  const target = (await page.$('#examples .t.s')) || (await page.$('#examples .t'));
  const rank = await target.getAttribute('data-rank');
  const where = await target.evaluate((s) => ({ id: s.closest('.ex').dataset.id, pos: +s.dataset.pos }));
  await target.hover();
  const tip = await page.evaluate(() => { const t = document.getElementById('tip'); return { hidden: t.hidden, text: t.textContent, vis: getComputedStyle(t).display }; });
  const rt = records.get(where.id).tokens[where.pos];
  const pb = /P_base ([0-9.e+-]+)%/.exec(tip.text);
  const top1 = /base top: "((?:[^"\\]|\\.)*)"/.exec(tip.text);
  check('report_hover_shows_eta', !tip.hidden && tip.vis !== 'none' && tip.text.includes(`η = ${rank}`) &&
    +rank === rt.rank && pb && Math.abs(+pb[1] / 100 - rt.p_base) <= 0.03 * rt.p_base &&
    top1 && JSON.parse(`"${top1[1]}"`) === rt.top[0][1], JSON.stringify({ tip, rt }));
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
  // printed: the figures and the table stay, the controls go
  await page.emulateMedia({ media: 'print' });
  const printed = await page.evaluate(() => ({
    figs: [...document.querySelectorAll('svg.fig')].map((s) => s.getBoundingClientRect().width),
    controls: getComputedStyle(document.getElementById('controls')).display,
  }));
  check('report_print', printed.figs.length >= 8 && printed.figs.every((w) => w > 300) && printed.controls === 'none',
    JSON.stringify(printed));
  await page.emulateMedia({ media: 'screen' });

  if (pairs) {
    const p3 = await ctx.newPage();
    const errs3 = [];
    p3.on('pageerror', (e) => errs3.push(String(e)));
    await p3.goto(pathToFileURL(resolve(pairs)).href, { waitUntil: 'load' });
    const n = await p3.evaluate(() => window.TDS.pairs.length);
    const f3 = await figures(p3);
    const cols = await p3.$$eval('#nums th.pair', (t) => t.map((e) => e.textContent));
    // each pair is a series of the single-quantity figures, and is named in their legends
    const named = ['fig-shift-pos', 'fig-shift-rel', 'fig-tr'].every((id) => f3[id] && f3[id].series === n &&
      cols.every((c) => f3[id].legend.some((t) => t.startsWith(c))));
    check('pairs_side_by_side', errs3.length === 0 && n >= 2 && cols.length === n && named &&
      (await p3.$$('svg.fig.classes')).length === n, JSON.stringify({ n, cols, f3, errs3 }));
    await p3.selectOption('#pair', String(n - 1));
    const shown = await p3.evaluate(() => ({
      first: document.querySelector('#examples .ex .ans')?.children.length,
      want: window.TDS.pairs[window.TDS.pairs.length - 1].examples[0].d.length,
      same: window.TDS.examples === window.TDS.pairs[window.TDS.pairs.length - 1].examples,
    }));
    check('pairs_selector', shown.same && shown.first === shown.want && errs3.length === 0, JSON.stringify(shown));
  }
} catch (e) {
  check('report_exception', false, String(e).split('\n')[0]);
} finally {
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
