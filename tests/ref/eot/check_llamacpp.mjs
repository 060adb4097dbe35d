// llama.cpp's view of a checkpoint written by `urial sft --eot new` (tests/ref/eot/gen.sh):
//   node check_llamacpp.mjs MODEL.gguf PROMPT_IDS EOT_TEXT
// prints JSON: the vocabulary size, llama.cpp's EOT and EOS tokens and whether they end
// generation, EOT_TEXT tokenized with and without special-token parsing, and a greedy
// completion of PROMPT_IDS (comma-separated ids): the generated ids, and why it stopped.
import {getLlama} from "node-llama-cpp";

const [model, promptIds, eotText] = process.argv.slice(2);
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const m = await llama.loadModel({modelPath: model, gpuLayers: 0, useMmap: true});
const out = {
    n_vocab: m.fileInfo.metadata.tokenizer.ggml.tokens.length,
    eot: m.tokens.eot, eot_is_eog: m.isEogToken(m.tokens.eot), eos: m.tokens.eos, eos_is_eog: m.isEogToken(m.tokens.eos),
    eot_text_special: Array.from(m.tokenize(eotText, true)),
    eot_text_plain: Array.from(m.tokenize(eotText, false)),
};
const ctx = await m.createContext({contextSize: 512, threads: 2, sequences: 1});
// greedy decoding token by token, stopping where llama.cpp's vocabulary says a token ends
// generation (llama_vocab_is_eog, as llama-cli and llama-server stop)
const generated = [];
out.stop_reason = "length";
for await (const t of ctx.getSequence().evaluate(promptIds.split(",").map(Number), {temperature: 0})) {
    if (m.isEogToken(t)) {
        out.stop_reason = "eog";
        out.stop_token = t;
        break;
    }
    generated.push(t);
    if (generated.length >= 120) break;
}
out.generated = generated;
out.text = m.detokenize(generated);
// node-llama-cpp's evaluate() ends by itself on an end-of-generation token without
// yielding it: the token after the answer, teacher-forced, says which one it was
const ctx2 = await m.createContext({contextSize: 512, threads: 2, sequences: 1});
const all = promptIds.split(",").map(Number).concat(generated);
const res = await ctx2.getSequence().controlledEvaluate(all.map((t, i) => i === all.length - 1
    ? [t, {generateNext: {logits: true}}] : t));
const last = Array.from(res[all.length - 1].next.logits.entries()).sort((a, b) => b[1] - a[1])[0][0];
out.next_argmax = last;
if (out.stop_reason === "length" && generated.length < 120 && m.isEogToken(last)) {
    out.stop_reason = "eog";
    out.stop_token = last;
}
await ctx2.dispose();
console.log(JSON.stringify(out));
await ctx.dispose(); await m.dispose(); await llama.dispose();
