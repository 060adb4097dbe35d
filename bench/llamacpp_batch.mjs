// llama.cpp's batched decoding (through node-llama-cpp) of the same prompts urial run answers:
//   node llamacpp_batch.mjs MODEL.gguf --prompts PROMPTS.json --parallel 8 --gen 64 --threads 2
// PROMPTS.json is [[ids...], ...] (the rendered prompts as urial tokenizes them). N sequences of
// one context generate greedily side by side (node-llama-cpp batches what the sequences evaluate
// in the same tick into one llama_decode); prompts go to free sequences as earlier ones finish.
// Prints JSON {gen_tokens, seconds, tok_s, prompt_tokens}.
import {getLlama} from "node-llama-cpp";
import fs from "fs";

const [model, ...rest] = process.argv.slice(2);
const opt = {parallel: 8, gen: 64, threads: 2, prompts: ""};
for (let i = 0; i < rest.length; i += 2) opt[rest[i].replace(/^--/, "")] = rest[i + 1];
const prompts = JSON.parse(fs.readFileSync(opt.prompts));
const N = +opt.parallel, gen = +opt.gen;
const longest = Math.max(...prompts.map(p => p.length));

const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const m = await llama.loadModel({modelPath: model, gpuLayers: 0, useMmap: true});
const ctx = await m.createContext({contextSize: N * (longest + gen + 8), sequences: N, threads: +opt.threads,
                                   batchSize: 512});
let next = 0, genTokens = 0, promptTokens = 0;
async function worker() {
    const seq = ctx.getSequence();
    while (next < prompts.length) {
        const p = prompts[next++];
        promptTokens += p.length;
        let got = 0;
        for await (const tok of seq.evaluate(p, {temperature: 0})) {
            void tok;
            if (++got >= gen) break;
        }
        genTokens += got;
        await seq.clearHistory();
    }
}
const t0 = performance.now();
await Promise.all(Array.from({length: N}, worker));
const seconds = (performance.now() - t0) / 1000;
console.log(JSON.stringify({engine: "llama.cpp", parallel: N, gen_tokens: genTokens, prompt_tokens: promptTokens,
                            seconds, tok_s: genTokens / seconds}));
await ctx.dispose(); await m.dispose(); await llama.dispose();
