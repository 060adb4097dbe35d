// The official OpenAI Node SDK (npm `openai`) against a running urial serve: the
// model list, a chat completion, a streamed chat completion equal to it, a
// completion with logprobs and echo (what urial tds --backend openai reads), and a
// bad request surfacing as the SDK's BadRequestError. Prints PASS/FAIL lines
// (counted by tests/run.sh); exits 1 if any check failed.
//   node serve_sdk.mjs http://127.0.0.1:PORT/v1
import OpenAI from 'openai';

const SUITE = 'openai_sdk';
let failed = 0;
function check(name, ok, why) {
  if (ok) console.log(`PASS ${SUITE}/${name}`);
  else {
    failed++;
    console.log(`FAIL ${SUITE}/${name}: ${why ?? ''}`);
  }
}

const baseURL = process.argv[2];
if (!baseURL) {
  console.log(`FAIL ${SUITE}/args: usage: node serve_sdk.mjs BASE_URL`);
  process.exit(1);
}
const client = new OpenAI({ baseURL, apiKey: 'not-needed', maxRetries: 0, timeout: 60000 });
try {
  const models = await client.models.list();
  const model = models.data[0]?.id;
  check('models_list', models.data.length === 1 && typeof model === 'string', JSON.stringify(models.data));

  const messages = [{ role: 'user', content: 'Write a haiku about the sea.' }];
  const whole = await client.chat.completions.create({ model, messages, max_tokens: 24 });
  const content = whole.choices[0]?.message?.content;
  check('chat', whole.object === 'chat.completion' && typeof content === 'string' && content.length > 0 &&
    whole.usage.prompt_tokens > 1300 && whole.choices[0].finish_reason, JSON.stringify(whole).slice(0, 300));

  const stream = await client.chat.completions.create({ model, messages, max_tokens: 24, stream: true,
    stream_options: { include_usage: true } });
  let text = '', chunks = 0, finish = null, usage = null;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    const c = chunk.choices[0];
    if (!c) continue;
    text += c.delta?.content ?? '';
    if (c.finish_reason) finish = c.finish_reason;
  }
  check('chat_stream', text === content && chunks > 2 && finish === whole.choices[0].finish_reason &&
    usage?.completion_tokens === whole.usage.completion_tokens,
    `stream '${text}' (${chunks} chunks, ${finish}) vs '${content}'`);

  const prompt = 'The capital of France is';
  const comp = await client.completions.create({ model, prompt, max_tokens: 5, temperature: 0, logprobs: 3, echo: true });
  const lp = comp.choices[0].logprobs;
  const n = comp.usage.prompt_tokens + comp.usage.completion_tokens;
  const gen = lp.token_logprobs.slice(comp.usage.prompt_tokens);
  check('completion_logprobs_echo', comp.choices[0].text.startsWith(prompt) && lp.tokens.length === n &&
    lp.token_logprobs[0] === null && lp.top_logprobs.length === n && lp.text_offset.length === n &&
    gen.every((x) => typeof x === 'number' && x <= 0) &&
    Object.keys(lp.top_logprobs[n - 1]).length >= 3, JSON.stringify(comp).slice(0, 400));
  // greedy: each generated token is the most likely of its top 3
  const greedy = gen.every((x, i) => {
    const top = Object.values(lp.top_logprobs[comp.usage.prompt_tokens + i]);
    return Math.abs(Math.max(...top) - x) < 1e-5;
  });
  check('completion_greedy_logprobs', greedy, JSON.stringify(lp.top_logprobs.slice(-5)));

  let err = null;
  try {
    await client.chat.completions.create({ model, messages, temperature: 9 });
  } catch (e) {
    err = e;
  }
  check('bad_request_error', err instanceof OpenAI.BadRequestError && err.status === 400 &&
    err.error?.param === 'temperature', String(err));
} catch (e) {
  check('no_exception', false, String(e?.stack ?? e));
}
process.exit(failed ? 1 : 0);
