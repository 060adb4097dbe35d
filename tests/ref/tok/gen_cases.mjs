// Deterministic test strings for the tokenizer reference test (tests/cli/test_tokenizer_ref.sh).
//   node gen_cases.mjs [N] > cases.jsonl      (default N = 2400)
//   node gen_cases.mjs --text BYTES > mixed.txt   the valid cases as one text of BYTES bytes (bench/tokenize.sh)
// One JSON object a line: {"text": "..."} or, for bytes that are not valid UTF-8, {"hex": "..."}.
// The strings mix English, code, 20+ scripts, emoji, whitespace runs, digits, contractions,
// combining marks (NFD), special-token texts and invalid UTF-8; every category also appears
// alone. A fixed xorshift generator makes the file the same on every machine.
let st = 0x9E3779B9 >>> 0;
const rnd = () => { st ^= st << 13; st >>>= 0; st ^= st >>> 17; st ^= st << 5; st >>>= 0; return st; };
const pick = (a) => a[rnd() % a.length];
const upto = (n) => rnd() % n;

const english = ["The quick brown fox jumps over the lazy dog.", "Hello, world!", "It was the best of times, it was the worst of times.",
  "What is the capital of France?", "Please summarize the following text in three sentences.", "Sure! Here's a short poem:",
  "In 1969, Apollo 11 landed on the Moon.", "e-mail me at john.doe@example.com (or call +1-555-0100).",
  "Mr. Smith's dog barked; Mrs. Jones' cat didn't.", "THE END", "naïve café résumé coöperate", "Don't panic!",
  "well-known state-of-the-art", "U.S.A. vs. U.K.", "$5.99 / 12% off — limited time…", "“Quoted” ‘text’ «guillemets»"];
const code = ["def f(x):\n    return x ** 2\n", "for (int i = 0; i < n; i++) {\n\tsum += a[i];\n}", "if x != nil { return err }",
  "const y = arr.map((v) => v * 2);", "#include <stdio.h>\nint main(void) { printf(\"%d\\n\", 42); }",
  "{\"key\": [1, 2.5, -3e10, true, null]}", "<div class=\"a\">&nbsp;<br/></div>", "SELECT * FROM t WHERE id >= 10;",
  "x+=1;y-=2;z*=3", "    # indented comment\n        deeper()", "$ ls -la | grep '\\.c$' > out.txt 2>&1",
  "fn main() -> Result<(), Box<dyn Error>> {}", "a_b_c __init__ CamelCaseWord snake_case_123", "https://example.org/path?q=1&r=%20"];
const scripts = {
  greek: "Η γρήγορη καφέ αλεπού πηδάει", cyrillic: "Съешь же ещё этих мягких французских булок", armenian: "Բարեւ աշխարհ",
  hebrew: "שלום עולם, מה שלומך?", arabic: "مرحبا بالعالم، كيف حالك؟", devanagari: "नमस्ते दुनिया, आप कैसे हैं?",
  bengali: "আমি বাংলায় গান গাই", tamil: "வணக்கம் உலகம்", telugu: "నమస్కారం ప్రపంచం", thai: "สวัสดีชาวโลก ภาษาไทย",
  georgian: "გამარჯობა მსოფლიო", hangul: "안녕하세요 세계, 한국어 텍스트", japanese: "こんにちは世界、カタカナとひらがな",
  chinese: "你好，世界！这是中文文本。", ethiopic: "ሰላም ለዓለም", khmer: "សួស្តីពិភពលោក", myanmar: "မင်္ဂလာပါ ကမ္ဘာ",
  sinhala: "ආයුබෝවන් ලෝකය", tibetan: "བཀྲ་ཤིས་བདེ་ལེགས།", gujarati: "નમસ્તે વિશ્વ", gurmukhi: "ਸਤ ਸ੍ਰੀ ਅਕਾਲ ਦੁਨੀਆ",
  kannada: "ನಮಸ್ಕಾರ ಜಗತ್ತು", malayalam: "നമസ്കാരം ലോകം", mongolian: "ᠮᠣᠩᠭᠣᠯ ᠪᠢᠴᠢᠭ", cherokee: "ᎣᏏᏲ ᎡᎶᎯ",
  lao: "ສະບາຍດີ ໂລກ", vietnamese: "Xin chào thế giới, tiếng Việt", turkish: "İstanbul'da ğüşıöç", polish: "Zażółć gęślą jaźń",
  german: "Größenwahn Straße ÄÖÜ", syriac: "ܫܠܡܐ ܥܠܡܐ", thaana: "ހެލޯ ދުނިޔެ", math: "∀x∈ℝ: x²≥0, ∑ᵢ aᵢ ≤ ∞, 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
  // newer than Debian 12's unicode-data (15.0): Garay letters and digits (16.0), CJK Extension I (15.1)
  newer: "\u{10D50}\u{10D51}\u{10D52} \u{10D40}\u{10D41} \u{2EBF0}\u{2EBF1}\u{1FAE9}"};
const scriptList = Object.values(scripts);
const emoji = ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷🇯🇵", "❤️", "🦙🦙🦙", "☕", "🤖💬", "1️⃣", "🫠", "👩🏾‍💻", "✊🏿"];
const spaces = [" ", "  ", "   ", "    ", "        ", "\t", "\t\t", "\n", "\n\n", "\n\n\n", "\r\n", "\r\n\r\n", " \n", "\n ",
  "  \n  ", "\u00a0", "\u3000", "\u2003", " \u00a0 ", "\u2028", "\u0085", "\ufeff", "\u000b", "\u000c", " \t \n"];
const digits = () => pick([String(upto(10)), String(upto(1000)), String(rnd()), String(rnd()) + String(rnd()), "3.14159",
  "1,234,567.89", "-42", "0x1F", "1e-9", "٣٤٥", "１２３", "²³", "Ⅻ", "½", "2024-01-01", "10:30pm", "v1.2.3", "007"]);
const contractions = () => pick(["I'm", "you're", "he's", "we've", "they'll", "she'd", "don't", "can't", "won't", "it's",
  "I'M", "YOU'RE", "WE'VE", "THEY'LL", "DON'T", "It'S", "y'all", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S",
  "'Ll", "rock 'n' roll", "o'clock", "I’m", "ʼs", "''", "'''", "' s"]);
const nfd = () => pick(["e\u0301", "a\u0300\u0301", "Cafe\u0301", "n\u0303o", "\u1100\u1161\u11a8", "A\u030a", "o\u0308\u0304",
  "\u0915\u093c", "i\u0307", "q\u0323\u0307", "\u0041\u0328\u0301", "s\u0323\u0307"]);
const specials = () => pick(["<|begin_of_text|>", "<|eot_id|>", "<|end_of_text|>", "<|im_start|>", "<|im_end|>",
  "<|endoftext|>", "<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>", "<pad>", "<s>", "</s>", "<unk>", "<|start_header_id|>user<|end_header_id|>",
  "<|im_start|>user\nhi<|im_end|>", "<start_of_turn>model\n", "<table>", "[multimodal]", "<|fim_prefix|>", "<|reserved_special_token_5|>"]);
const randCp = () => {
  const r = [[0x20, 0x7e], [0xa0, 0x24f], [0x370, 0x52f], [0x590, 0x6ff], [0x900, 0xdff], [0xe00, 0xfff], [0x1100, 0x11ff],
    [0x2000, 0x2bff], [0x3000, 0x30ff], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0xf900, 0xfaff], [0xfe00, 0xffef],
    [0x10000, 0x1ffff], [0x1f300, 0x1faff], [0x20000, 0x2a6df], [0xe0000, 0xe007f]][upto(17)];
  return String.fromCodePoint(r[0] + upto(r[1] - r[0] + 1));
};
const randText = () => { let s = ""; const n = 1 + upto(12); for (let i = 0; i < n; i++) s += randCp(); return s; };

const makers = [() => pick(english), () => pick(code), () => pick(scriptList), () => pick(emoji), () => pick(spaces),
  digits, contractions, nfd, specials, randText];

function invalid() {
  // valid text with broken bytes: lone continuation bytes, truncated sequences, overlongs,
  // surrogates, bytes that never appear in UTF-8, and code points above U+10FFFF
  const bad = ["80", "bf", "c0af", "c1bf", "e282", "e2", "f09f98", "f0", "eda080", "edbfbf", "f4908080", "ff", "fe",
    "c3", "e0808f", "f8888080", "c328", "a0a1", "e228a1", "f0288cbc", "fc80808080af"];
  let h = "";
  const n = 1 + upto(4);
  for (let i = 0; i < n; i++) {
    h += Buffer.from(pick(makers)(), "utf8").toString("hex");
    h += pick(bad);
  }
  if (rnd() % 2) h += Buffer.from(pick(english), "utf8").toString("hex");
  return {hex: h};
}

const textBytes = process.argv[2] === "--text" ? +process.argv[3] : 0;
const N = textBytes ? Math.ceil(textBytes / 20) : +(process.argv[2] || 2400);
const out = [];
// every fragment alone first
for (const list of [english, code, scriptList, emoji, spaces]) for (const s of list) out.push({text: s});
for (let i = 0; i < 40; i++) out.push({text: digits()}, {text: contractions()}, {text: nfd()}, {text: specials()});
while (out.length < N) {
  const r = upto(20);
  if (r === 0) { out.push(invalid()); continue; }
  let s = "";
  const parts = 1 + upto(6);
  for (let i = 0; i < parts; i++) {
    s += pick(makers)();
    if (rnd() % 3) s += pick([" ", " ", "", "\n", pick(spaces)]);
  }
  if (r === 1) s = s.repeat(2 + upto(3));
  if (r === 2) s = " ".repeat(1 + upto(40)) + s + " ".repeat(upto(5));
  if (r === 3) s = pick(spaces).repeat(1 + upto(20));
  if (r === 4) s = pick(["0123456789".repeat(1 + upto(5)), digits() + digits() + digits()]);
  out.push({text: s});
}
if (textBytes) {
  // whole lines of valid text, cut at a character boundary at BYTES
  const buf = Buffer.from(out.filter((c) => c.text !== undefined).map((c) => c.text).join("\n"), "utf8");
  let end = Math.min(textBytes, buf.length);
  while (end > 0 && (buf[end] & 0xc0) === 0x80) end--;
  process.stdout.write(buf.subarray(0, end));
} else {
  for (const c of out.slice(0, N)) process.stdout.write(JSON.stringify(c) + "\n");
}
