// Everything tests/cli/test_chat_ref.sh compares, rendered by Hugging Face's @huggingface/jinja:
//   node prepare.mjs OUTDIR
// writes into OUTDIR
//   FAMILY.gguf            vocab-only GGUFs of real tokenizers with their own chat templates (make_gguf.mjs)
//   cases.json, ref.json   engine cases (family and built-in templates x conversations x add_generation_prompt,
//                          and semantics.mjs) with HF's renderings, for build/tests/jinja_render to match
//   cli.tsv                one `urial prompt` run a line: group, label, history file, query file, expected file,
//                          "text" or "error" (the error file holds a raise_exception message or nothing), arguments
import fs from "fs";
import path from "path";
import { Template } from "@huggingface/jinja";
import { writeGguf, tokenizerConfig } from "./make_gguf.mjs";
import { semanticsCases } from "./semantics.mjs";

// the real families (packages whose tokenizer_config.json has a chat_template); llama2 has none
export const FAMILIES = ["llama3", "llama3_1", "llama3_2", "qwen2_5", "qwen3", "gemma3", "deepseek_v3", "mistral_nemo"];
const here = path.dirname(new URL(import.meta.url).pathname);
const out = process.argv[2];
fs.mkdirSync(out, { recursive: true });
const convs = JSON.parse(fs.readFileSync(path.join(here, "conversations.json"), "utf8"));
const builtins = JSON.parse(fs.readFileSync(path.join(here, "builtin", "builtin.json"), "utf8"));
const piece = (t) => (t && typeof t === "object" ? t.content : t);

function render(c) {
    try {
        const ctx = { messages: c.messages, add_generation_prompt: c.add_generation_prompt, ...(c.vars || {}) };
        if (c.bos_token != null) ctx.bos_token = c.bos_token;
        if (c.eos_token != null) ctx.eos_token = c.eos_token;
        return new Template(c.template).render(ctx);
    } catch (e) {
        return { error: String(e && e.message !== undefined ? e.message : e) };
    }
}

const cases = [], cli = [];
let n = 0;
function addCli(group, label, args, c, ref) {
    const last = c.messages[c.messages.length - 1];
    const base = path.join(out, `c${n++}`);
    fs.writeFileSync(base + ".history.json", JSON.stringify(c.messages.slice(0, -1)));
    fs.writeFileSync(base + ".query", last.content);
    const isErr = typeof ref !== "string";
    // a raise_exception message is in the template text; other errors are only checked to be errors
    fs.writeFileSync(base + (isErr ? ".err" : ".want"), isErr ? (ref.error && c.template.includes(ref.error) ? ref.error : "") : ref);
    cli.push([group, label, base + ".history.json", base + ".query", base + (isErr ? ".err" : ".want"), isErr ? "error" : "text", args].join("\t"));
}

for (const fam of FAMILIES) {
    const cfg = tokenizerConfig(fam), gguf = path.join(out, `${fam}.gguf`);
    writeGguf(fam, gguf);
    let t = cfg.chat_template;
    if (Array.isArray(t)) t = t.find((x) => x.name === "default").template;
    for (const conv of convs)
        for (const gen of [true, false]) {
            const c = { group: fam, label: `${fam}/${conv.name}/${gen ? "gen" : "nogen"}`, template: t, messages: conv.messages,
                        add_generation_prompt: gen, bos_token: piece(cfg.bos_token), eos_token: piece(cfg.eos_token) };
            cases.push(c);
            if (gen) addCli(fam, c.label, `-m\t${gguf}\t--template\tauto`, c, render(c));
        }
}
writeGguf("llama2", path.join(out, "llama2.gguf")); // a base model: no chat template

for (const b of builtins) {
    const t = fs.readFileSync(path.join(here, "builtin", `${b.name}.jinja`), "utf8");
    for (const conv of convs) {
        const roles = conv.messages.map((m) => m.role);
        const alternates = roles.filter((r) => r !== "system").every((r, i) => r === (i % 2 ? "assistant" : "user")) &&
                           roles.indexOf("system") <= 0;
        if (!alternates || (b.no_system && roles.includes("system"))) continue; // built-ins refuse these themselves
        for (const gen of [true, false]) {
            const c = { group: `builtin:${b.name}`, label: `${b.name}/${conv.name}/${gen ? "gen" : "nogen"}`, template: t,
                        messages: conv.messages, add_generation_prompt: gen, bos_token: b.bos_token, eos_token: b.eos_token };
            cases.push(c);
            if (gen) addCli(`builtin:${b.name}`, c.label, `--template\t${b.name}`, c, render(c));
        }
    }
}
// more real-world templates (tests/jinja/extra): the interpreter alone, against HF
const extras = JSON.parse(fs.readFileSync(path.join(here, "extra", "extra.json"), "utf8"));
for (const x of extras) {
    const t = fs.readFileSync(path.join(here, "extra", `${x.name}.jinja`), "utf8");
    for (const conv of convs)
        for (const gen of [true, false])
            cases.push({ group: `extra:${x.name}`, label: `${x.name}/${conv.name}/${gen ? "gen" : "nogen"}`, template: t,
                         messages: conv.messages, add_generation_prompt: gen, bos_token: x.bos_token, eos_token: x.eos_token,
                         vars: x.vars });
}
for (const c of semanticsCases()) cases.push({ group: "semantics", ...c });

fs.writeFileSync(path.join(out, "cases.json"), JSON.stringify(cases));
fs.writeFileSync(path.join(out, "ref.json"), JSON.stringify(cases.map(render)));
fs.writeFileSync(path.join(out, "cli.tsv"), cli.join("\n") + "\n");
