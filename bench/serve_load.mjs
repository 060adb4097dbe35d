// Load generator for bench/serve_load.sh: C concurrent clients, each sending R
// requests one after the other to a running urial serve (a mix: chat completions,
// streamed chat completions, completions), on keep-alive connections. Records every
// request's latency (to the last byte), counts failures (any non-200, a malformed
// body, a stream without [DONE]), and samples the server's RSS from /proc every
// 250 ms. Prints one JSON object.
//   node serve_load.mjs BASE_URL SERVER_PID CLIENTS REQUESTS MAX_TOKENS
import { readFileSync } from 'node:fs';

const [base, pid, C, R, MAXT] = process.argv.slice(2);
const clients = +C, perClient = +R, maxTokens = +MAXT;
const QUESTIONS = ['What is 2+2?', 'Write a haiku about the sea.', 'Name three colours.', 'Hello there',
  'How do I boil an egg?', 'Explain photosynthesis briefly.', 'Give me a word that rhymes with cat.',
  'What is the capital of France?'];

function rssKiB() {
  try {
    const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/);
    return m ? +m[1] : null;
  } catch { return null; }
}

async function one(client, i) {
  const q = `${QUESTIONS[(client + i) % QUESTIONS.length]} (${client}.${i % 5})`;
  const kind = i % 4; // 0, 1: chat; 2: chat streamed; 3: completion
  const path = kind === 3 ? '/completions' : '/chat/completions';
  const body = kind === 3
    ? { prompt: q, max_tokens: maxTokens, temperature: 0 }
    : { messages: [{ role: 'user', content: q }], max_tokens: maxTokens, stream: kind === 2 };
  const r = await fetch(base + path, { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body) });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${text.slice(0, 100)}`);
  if (kind === 2) {
    if (!text.endsWith('data: [DONE]\n\n')) throw new Error('stream without [DONE]');
  } else {
    const j = JSON.parse(text);
    if (!j.choices || !j.usage) throw new Error('not a completion');
  }
}

const lat = [], errors = [];
const rss = [];
const sampler = setInterval(() => { const v = rssKiB(); if (v) rss.push(v); }, 250);
rss.push(rssKiB());
const t0 = performance.now();
await Promise.all(Array.from({ length: clients }, async (_, c) => {
  for (let i = 0; i < perClient; i++) {
    const s = performance.now();
    try {
      await one(c, i);
      lat.push(performance.now() - s);
    } catch (e) {
      errors.push(String(e.message || e));
    }
  }
}));
const seconds = (performance.now() - t0) / 1000;
clearInterval(sampler);
rss.push(rssKiB());
lat.sort((a, b) => a - b);
const pct = (p) => lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] : null;
const q = Math.max(1, Math.floor(rss.length / 4));
const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
console.log(JSON.stringify({
  clients, requests_per_client: perClient, requests: clients * perClient, ok: lat.length, failed: errors.length,
  first_errors: errors.slice(0, 3), seconds: +seconds.toFixed(2), requests_per_s: +(lat.length / seconds).toFixed(1),
  latency_ms: { p50: +pct(0.5).toFixed(1), p90: +pct(0.9).toFixed(1), p99: +pct(0.99).toFixed(1), max: +lat.at(-1).toFixed(1) },
  rss_kib: { start: rss[0], first_quarter_mean: Math.round(mean(rss.slice(0, q))),
    last_quarter_mean: Math.round(mean(rss.slice(-q))), max: Math.max(...rss), end: rss.at(-1), samples: rss.length },
}));
