#!/usr/bin/env bash
# By hand (not in make test: node-llama-cpp is a ~700 MB install): the same cases through
# llama.cpp's tokenizer, on the same converted vocab files, against tokenizers.js and urial.
#   tests/ref/tok/llamacpp_agree.sh [VOCAB...]      (default: all six)
# Prints per vocab: how many strings llama.cpp and tokenizers.js agree on, and how many of
# urial's ids (without --special, as llama.cpp is called) equal llama.cpp's, over all strings
# and over the ones where the two references agree. Results: tests/ref/tok/README.md.
# Needs node-llama-cpp in $LLAMACPP (default /tmp/llamacpp) and ../shared/tools/llamacpp.mjs.
set -euo pipefail
cd "$(dirname "$0")/../../.."
LLAMACPP=${LLAMACPP:-/tmp/llamacpp}
SHARED=${SHARED:-$(cd .. && pwd)/shared}
T=$(mktemp -d /tmp/urial-agree-XXXXXX)
trap 'rm -rf "$T"' EXIT
VOCABS=${*:-llama3 llama3_1 qwen2_5 qwen3 gemma3 deepseek_v3}
REF=tests/ref/tok
cp "$SHARED/tools/llamacpp.mjs" "$LLAMACPP/"
node $REF/gen_cases.mjs >"$T/cases.jsonl"
# llama.cpp takes JS strings: {"hex"} cases decoded as a WHATWG decoder does, as for tokenizers.js
node -e 'const fs=require("fs");const c=fs.readFileSync(process.argv[1],"utf8").split("\n").filter(Boolean).map(JSON.parse);
  fs.writeFileSync(process.argv[2], JSON.stringify(c.map(x=>({text:x.hex!==undefined?Buffer.from(x.hex,"hex").toString("utf8"):x.text}))));' \
    "$T/cases.jsonl" "$T/cases.json"
for v in $VOCABS; do
    dir=$(node $REF/ref_ids.mjs path "$v")
    build/urial convert-tokenizer "$dir/tokenizer.json" "$T/$v.gguf" 2>/dev/null
    node $REF/ref_ids.mjs ids "$v" "$T/cases.jsonl" >"$T/hf.jsonl"
    build/urial tokenize -m "$T/$v.gguf" --batch "$T/cases.jsonl" --no-bos >"$T/urial.jsonl"
    (cd "$LLAMACPP" && node llamacpp.mjs tokenize-batch "$T/$v.gguf" --cases "$T/cases.json" 2>/dev/null) >"$T/ll.json"
    node -e '
        const fs = require("fs");
        const lines = (f) => fs.readFileSync(f, "utf8").split("\n").filter(Boolean);
        const [v, hfF, urF, llF] = process.argv.slice(1);
        const hf = lines(hfF), ur = lines(urF), ll = JSON.parse(fs.readFileSync(llF, "utf8")).map((a) => JSON.stringify(a));
        let agree = 0, urLl = 0, urLlAgree = 0;
        for (let i = 0; i < hf.length; i++) {
            const a = hf[i] === ll[i];
            agree += a; urLl += ur[i] === ll[i]; urLlAgree += a && ur[i] === ll[i];
        }
        console.log(`${v}: ${hf.length} strings; llama.cpp = tokenizers.js on ${agree}; urial = llama.cpp on ${urLl} (on ${urLlAgree}/${agree} where the references agree)`);
    ' "$v" "$T/hf.jsonl" "$T/urial.jsonl" "$T/ll.json"
done
