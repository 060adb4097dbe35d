// llama.cpp's tokenizer (through node-llama-cpp's prebuilt binaries) on one text file:
//   node tokenize_llamacpp.mjs VOCAB.gguf TEXT [REPS]
// Prints {"engine":"llama.cpp","bytes":..,"tokens":..,"best_s":..,"mb_s":..}: the best of REPS
// (default 5) calls of model.tokenize(text) (llama_tokenize, no BOS, no special parsing), the
// same work bench_tokenize times in urial. Run from a folder where node-llama-cpp is installed.
import {getLlama} from "node-llama-cpp";
import fs from "fs";

const [model, textFile, reps = "5"] = process.argv.slice(2);
const text = fs.readFileSync(textFile, "utf8");
const bytes = Buffer.byteLength(text, "utf8");
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const m = await llama.loadModel({modelPath: model, gpuLayers: 0, useMmap: true, vocabOnly: true});
let best = Infinity, n = 0;
for (let r = 0; r < +reps; r++) {
    const t0 = performance.now();
    n = m.tokenize(text, false).length;
    best = Math.min(best, (performance.now() - t0) / 1000);
}
console.log(JSON.stringify({engine: "llama.cpp", bytes, tokens: n, best_s: +best.toFixed(4), mb_s: +(bytes / best / 1e6).toFixed(2)}));
await m.dispose();
await llama.dispose();
