// Compare `urial logits --top N` output (JSON lines) with a llama.cpp reference file of
// tests/ref/gen_logits.sh ("# ..." header lines, then "POS ID:LOGIT ..." rows, llama.cpp's top 10).
// usage: node cmp_logits.mjs REF.txt URIAL.jsonl BOUND
// Prints "argmax A/N, relative difference median M, max X" and exits 1 when the largest difference
// over llama.cpp's top ids, relative to the largest |logit|, exceeds BOUND, or an id of llama.cpp's
// top is missing from urial's top N.
import fs from "fs";
const [refPath, urPath, boundArg] = process.argv.slice(2);
const ref = fs.readFileSync(refPath, "utf8").split("\n").filter(l => l && !l.startsWith("#"))
    .map(l => l.split(" ").slice(1).map(p => p.split(":").map(Number)));
const ur = fs.readFileSync(urPath, "utf8").trim().split("\n").map(l => new Map(JSON.parse(l).top));
let scale = 0;
for (const row of ref) for (const [, l] of row) scale = Math.max(scale, Math.abs(l));
let agree = 0, worst = 0, missing = 0;
const errs = [];
ref.forEach((row, p) => {
    const u = ur[p];
    if (!u) { missing++; return; }
    const best = [...u.entries()].reduce((a, b) => (b[1] > a[1] ? b : a))[0];
    if (best === row[0][0]) agree++;
    let e = 0;
    for (const [id, l] of row) {
        if (!u.has(id)) { missing++; continue; }
        e = Math.max(e, Math.abs(u.get(id) - l) / scale);
    }
    errs.push(e);
    worst = Math.max(worst, e);
});
errs.sort((a, b) => a - b);
console.log(`argmax ${agree}/${ref.length}, relative difference median ${errs[errs.length >> 1].toExponential(1)}, ` +
    `max ${worst.toExponential(2)}${missing ? `, ${missing} ids missing` : ""}`);
process.exit(worst <= +boundArg && !missing ? 0 : 1);
