// Reference renderings with Hugging Face's @huggingface/jinja (what transformers.js uses),
// for tests/cli/test_chat_ref.sh. The C twin is tests/jinja/render.c (build/tests/jinja_render).
//   node render.mjs CASES.json  ->  JSON array, one per case: the rendered text, or {"error": message}
// A case: {"template", "messages", "add_generation_prompt", "bos_token"?, "eos_token"?, "vars"?: {...}}
// (bos_token / eos_token left out or null: the variable is undefined, as when a tokenizer has none).
import { Template } from "@huggingface/jinja";
import fs from "fs";

const cases = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const out = cases.map((c) => {
    try {
        const ctx = { messages: c.messages, add_generation_prompt: !!c.add_generation_prompt, ...(c.vars || {}) };
        if (c.bos_token != null) ctx.bos_token = c.bos_token;
        if (c.eos_token != null) ctx.eos_token = c.eos_token;
        return new Template(c.template).render(ctx);
    } catch (e) {
        return { error: String(e && e.message !== undefined ? e.message : e) };
    }
});
process.stdout.write(JSON.stringify(out));
