// llama.cpp applies a urial LoRA adapter: top-3 logits per position of BASE with ADAPTER, to compare with
// `node llamacpp.mjs logits MERGED.gguf` (the merged checkpoint of the same run). Copy next to llamacpp.mjs
// (see ../shared/tools/README.md) and run: node lora_logits.mjs BASE.gguf ADAPTER.gguf 1,2,3
import {getLlama} from "node-llama-cpp";
const [model, adapter, toksArg] = process.argv.slice(2);
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const m = await llama.loadModel({modelPath: model, gpuLayers: 0});
const ctx = await m.createContext({contextSize: 512, threads: 2, lora: {adapters: [{filePath: adapter}]}});
const seq = ctx.getSequence();
const toks = toksArg.split(",").map(Number);
const res = await seq.controlledEvaluate(toks.map(t => [t, {generateNext: {logits: true}}]));
console.log(JSON.stringify(res.map((r, pos) => ({pos, top: Array.from(r.next.logits.entries()).sort((a, b) => b[1] - a[1]).slice(0, 3)}))));
await ctx.dispose(); await m.dispose(); await llama.dispose();
