#!/usr/bin/env bash
# Speed against llama.cpp, measured in one run on the very same files (issue 2):
# TinyLlama-1.1B-shaped random-weight models (gguf_synth.py) in Q4_0 and Q8_0,
# prefill (one batch of PROMPT tokens) and decode (GEN greedy steps), 2 threads,
# each engine run REPS times alternately, best run kept. Also urial's peak RSS
# against the budget file size + KV cache + 64 MiB.
#
# usage: bench/run.sh [--record] [--out FILE] [--types "q4_0 q8_0"] [--prompt "256"] [--gen 64] [--reps 3]
#   --prompt   one or more prompt lengths (a row per length and type)
#   --record   also write the table to FILE (--out, default bench/RESULTS.md); the long-context
#              table: bench/run.sh --types q4_0 --prompt "1536 3072" --record --out bench/LONGCTX.md
# Needs: node + node-llama-cpp (installed into $LLAMACPP, default /tmp/llamacpp, on first use),
#        python3-numpy and python3-sentencepiece (apt) for gguf_synth.py. Models are cached in
#        $BENCH_DIR (default /tmp/urial-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-$(cd .. && pwd)/shared}
LLAMACPP=${LLAMACPP:-/tmp/llamacpp}
BENCH_DIR=${BENCH_DIR:-/tmp/urial-bench}
TYPES="q4_0 q8_0"; PROMPTS=256; GEN=64; REPS=3; RECORD=0; THREADS=2; OUT=bench/RESULTS.md
while [ $# -gt 0 ]; do
    case $1 in
    --record) RECORD=1 ;;
    --types) TYPES=$2; shift ;;
    --prompt) PROMPTS=$2; shift ;;
    --out) OUT=$2; shift ;;
    --gen) GEN=$2; shift ;;
    --reps) REPS=$2; shift ;;
    *) echo "bench/run.sh: unknown option $1" >&2; exit 1 ;;
    esac
    shift
done

make -s all
mkdir -p "$BENCH_DIR"
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
if ! /usr/bin/python3 -c 'import numpy, sentencepiece' 2>/dev/null; then
    apt-get install -y -qq python3-numpy python3-sentencepiece >/dev/null
fi
if [ ! -d "$LLAMACPP/node_modules/node-llama-cpp" ]; then
    mkdir -p "$LLAMACPP"
    (cd "$LLAMACPP" && npm init -y >/dev/null && npm install -s node-llama-cpp@3.22.1 --ignore-scripts >/dev/null)
fi
cp "$SHARED/tools/llamacpp.mjs" "$LLAMACPP/"

json_field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
best() { awk 'BEGIN{m=0} {if ($1+0 > m) m=$1+0} END{printf "%.1f", m}'; }

rows=""
for PROMPT in $PROMPTS; do
for t in $TYPES; do
    M=$BENCH_DIR/tinyllama-$t.gguf
    if [ ! -f "$M" ]; then
        /usr/bin/python3 "$SHARED/tools/gguf_synth.py" "$M" --vocab "$SHARED/fixtures/tokenizer/llama-spm/tokenizer.model" \
            --dim 2048 --layers 22 --heads 32 --kv-heads 4 --ff 5632 --type "$t" >/dev/null
    fi
    : >"$BENCH_DIR/u.txt"; : >"$BENCH_DIR/l.txt"
    for r in $(seq "$REPS"); do
        build/urial bench -m "$M" --prompt "$PROMPT" --gen "$GEN" --ctx $((PROMPT + GEN)) --threads $THREADS --json | tail -n 1 >>"$BENCH_DIR/u.txt"
        (cd "$LLAMACPP" && node llamacpp.mjs bench "$M" --threads $THREADS --prompt "$PROMPT" --gen "$GEN") | tail -n 1 >>"$BENCH_DIR/l.txt"
    done
    up=$(json_field prefill_tok_s <"$BENCH_DIR/u.txt" | best); ud=$(json_field decode_tok_s <"$BENCH_DIR/u.txt" | best)
    lp=$(json_field prefill_tok_s <"$BENCH_DIR/l.txt" | best); ld=$(json_field decode_tok_s <"$BENCH_DIR/l.txt" | best)
    rp=$(awk -v a="$up" -v b="$lp" 'BEGIN{printf "%.2f", a/b}'); rd=$(awk -v a="$ud" -v b="$ld" 'BEGIN{printf "%.2f", a/b}')
    # peak RSS of a urial bench run against file + KV cache + 64 MiB
    /usr/bin/time -f '%M' -o "$BENCH_DIR/rss.txt" build/urial bench -m "$M" --prompt "$PROMPT" --gen "$GEN" --ctx $((PROMPT + GEN)) \
        --threads $THREADS >/dev/null 2>"$BENCH_DIR/kv.txt"
    rss_kb=$(tail -n 1 "$BENCH_DIR/rss.txt")
    kv_mib=$(sed -n 's/.*KV cache \([0-9.]*\) MiB.*/\1/p' "$BENCH_DIR/kv.txt" | head -n 1)
    file_mib=$(awk -v b="$(stat -L -c %s "$M")" 'BEGIN{printf "%.1f", b/1048576}')
    rss_mib=$(awk -v k="$rss_kb" 'BEGIN{printf "%.1f", k/1024}')
    budget=$(awk -v f="$file_mib" -v k="$kv_mib" 'BEGIN{printf "%.1f", f+k+64}')
    rows="$rows| $PROMPT | $t | $up | $lp | **$rp** | $ud | $ld | **$rd** | $rss_mib / $budget |"$'\n'
done
done

table="| prompt | type | urial prefill tok/s | llama.cpp prefill tok/s | ratio | urial decode tok/s | llama.cpp decode tok/s | ratio | urial peak RSS / budget (MiB) |
|---|---|---|---|---|---|---|---|---|
$rows"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
head="TinyLlama-1.1B shape (dim 2048, 22 layers, 32 heads / 4 kv, ff 5632, vocab 32000), random weights from
gguf_synth.py; $THREADS threads; prompt of the given length in one batch, $GEN greedy decode steps; best of $REPS alternating runs;
$(date -u +%Y-%m-%d), $cpu, urial $(git rev-parse --short HEAD), llama.cpp via node-llama-cpp 3.22.1.
Budget = file size + KV cache + 64 MiB.
Command: bench/run.sh --types \"$TYPES\" --prompt \"$PROMPTS\" --gen $GEN --reps $REPS"
echo "$head"; echo; echo "$table"
if [ $RECORD = 1 ]; then
    { echo "# urial vs llama.cpp (bench/run.sh)"; echo; echo "$head"; echo; echo "$table"; } >"$OUT"
    echo "wrote $OUT"
fi
