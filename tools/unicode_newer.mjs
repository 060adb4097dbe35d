// The code points that Debian 12's unicode-data (Unicode 15.0) leaves unassigned but the local
// JavaScript engine's Unicode (node 20's ICU: Unicode 17.0) assigns, with their general category,
// as ranges: "FIRST..LAST GC" lines. tools/gen_unicode.py --newer FILE adds them to the tables, so
// that the pre-tokenizers classify letters, digits, marks and symbols of Unicode 15.1-17.0 as
// tokenizers.js (which runs on that engine) does. Regenerate with a newer node:
//   node tools/unicode_newer.mjs /usr/share/unicode/UnicodeData.txt > tools/unicode_newer.txt
import fs from "fs";

const ucd = process.argv[2] || "/usr/share/unicode/UnicodeData.txt";
const assigned = new Uint8Array(0x110000);
let first = -1;
for (const line of fs.readFileSync(ucd, "utf8").split("\n")) {
  if (!line) continue;
  const f = line.split(";");
  const cp = parseInt(f[0], 16);
  if (f[1].endsWith(", First>")) { first = cp; continue; }
  if (f[1].endsWith(", Last>")) { assigned.fill(1, first, cp + 1); continue; }
  assigned[cp] = 1;
}
const cats = ["Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po",
  "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Co"];
const res = cats.map((c) => [c, new RegExp(`^\\p{General_Category=${c}}$`, "u")]);
const out = [];
let run = null;
for (let cp = 0; cp < 0x110000; cp++) {
  let gc = null;
  if (!assigned[cp] && !(cp >= 0xd800 && cp <= 0xdfff)) {
    const s = String.fromCodePoint(cp);
    for (const [c, re] of res) if (re.test(s)) { gc = c; break; }
  }
  if (run && gc === run.gc && cp === run.last + 1) { run.last = cp; continue; }
  if (run) out.push(run);
  run = gc ? {first: cp, last: cp, gc} : null;
}
if (run) out.push(run);
const hex = (n) => n.toString(16).toUpperCase().padStart(4, "0");
process.stdout.write(`# Unicode ${process.versions.unicode} (node ${process.version}, ICU ${process.versions.icu}) beyond ${ucd}\n`);
for (const r of out) process.stdout.write(`${hex(r.first)}${r.last > r.first ? ".." + hex(r.last) : ""} ${r.gc}\n`);
