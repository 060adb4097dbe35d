// urial serve's chat page (GET /) in headless Chromium — Debian's /usr/bin/chromium
// driven by playwright-core: the page loads with no request leaving the server and
// no script error, shows the mode (URIAL prompt), takes a question typed into the
// box, streams the answer into the page (seen growing), and the answer shown equals
// the server's own non-streamed answer to the same request. Takes a screenshot.
// Prints PASS/FAIL lines (counted by tests/run.sh); exits 1 if any check failed.
//   node serve_chat.mjs http://127.0.0.1:PORT/ SCREENSHOT.png
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SUITE = 'browser_chat';
let failed = 0;
function check(name, ok, why) {
  if (ok) console.log(`PASS ${SUITE}/${name}`);
  else {
    failed++;
    console.log(`FAIL ${SUITE}/${name}: ${why ?? ''}`);
  }
}

const [base, shot] = process.argv.slice(2);
if (!base || !shot) {
  console.log(`FAIL ${SUITE}/args: usage: node serve_chat.mjs BASE_URL SCREENSHOT.png`);
  process.exit(1);
}
const origin = new URL(base).origin;
const question = 'Write a haiku about the sea.';
const exe = process.env.CHROMIUM || '/usr/bin/chromium';
const profile = mkdtempSync(join(tmpdir(), 'urial-chromium-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: exe,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 900, height: 700 },
});
try {
  const page = ctx.pages()[0] ?? await ctx.newPage();
  const errors = [], elsewhere = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin)) return route.continue();
    elsewhere.push(url);
    return route.abort();
  });
  await page.goto(base, { waitUntil: 'load' });
  await page.waitForFunction(() => document.getElementById('mode').textContent.length > 0, null, { timeout: 10000 });
  const mode = await page.textContent('#mode');
  check('shows_mode', /^URIAL prompt: urial-k3$/.test(mode), mode);

  // watch the answer bubble grow: count its text changes while it streams
  await page.evaluate(() => {
    window.__growth = [];
    new MutationObserver(() => {
      const a = document.querySelector('.msg.assistant.streaming');
      if (a) window.__growth.push(a.textContent.length);
    }).observe(document.getElementById('log'), { subtree: true, childList: true, characterData: true });
  });
  await page.fill('#max', '32');
  await page.fill('#input', question);
  await page.press('#input', 'Enter');
  await page.waitForSelector('.msg.assistant .meta', { timeout: 60000 });
  const shown = await page.evaluate(() => {
    const a = document.querySelector('.msg.assistant');
    return a.firstChild && a.firstChild.nodeType === 3 ? a.firstChild.textContent : '';
  });
  const growth = await page.evaluate(() => window.__growth);
  const distinct = new Set(growth).size;
  check('answer_streamed', distinct >= 3 && shown.length > 0, `lengths seen while streaming: ${growth.join(',')}`);

  // the same request without streaming, from the page's origin
  const want = await page.evaluate(async (q) => {
    const r = await fetch('/v1/chat/completions', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: q }], max_tokens: 32, temperature: 0 }) });
    return (await r.json()).choices[0].message.content;
  }, question);
  check('answer_equals_server', shown === want, `page '${shown}' vs server '${want}'`);
  const users = await page.$$eval('.msg.user', (els) => els.map((e) => e.textContent));
  check('question_shown', users.length === 1 && users[0] === question, JSON.stringify(users));

  await page.screenshot({ path: shot, fullPage: true });
  check('screenshot', statSync(shot).size > 5000, `${shot}: ${statSync(shot).size} bytes`);
  check('no_script_errors', errors.length === 0, errors.join(' | '));
  check('no_other_network', elsewhere.length === 0, elsewhere.join(' '));
} catch (e) {
  check('no_exception', false, String(e?.stack ?? e));
} finally {
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
