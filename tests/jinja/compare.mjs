// Compare urial's engine renderings (build/tests/jinja_render) with Hugging Face's, case by case:
//   node compare.mjs CASES.json REF.json GOT.json
// One PASS/FAIL line per group (a family, a built-in template, the semantics cases); a case
// matches when both texts are equal byte for byte, or both renderers fail (a raise_exception
// message then appears in urial's error).
import fs from "fs";
const [cases, ref, got] = process.argv.slice(2).map((f) => JSON.parse(fs.readFileSync(f, "utf8")));
const groups = new Map();
cases.forEach((c, i) => {
    const r = ref[i], g = got[i];
    let ok;
    if (typeof r === "string") ok = r === g;
    else ok = typeof g === "object" && (!r.error || !c.template.includes(r.error) || g.error.includes(r.error));
    const s = groups.get(c.group) || { n: 0, bad: [] };
    s.n++;
    if (!ok) s.bad.push(`${c.label || c.name}: want ${JSON.stringify(r).slice(0, 200)} got ${JSON.stringify(g).slice(0, 200)}`);
    groups.set(c.group, s);
});
let total = 0, same = 0;
for (const [name, s] of groups) {
    total += s.n, same += s.n - s.bad.length;
    if (s.bad.length) console.log(`FAIL test_chat_ref/engine_${name}: ${s.bad.length} of ${s.n} differ; first: ${s.bad[0]}`);
    else console.log(`PASS test_chat_ref/engine_${name}`);
}
console.log(`# engine: ${same} of ${total} renderings equal to @huggingface/jinja's`);
