#!/usr/bin/env bash
# TDS scoring speed (issue 4): `urial tds` with the answers given scores each answer
# with one teacher-forced forward per model over its own input + the answer, so it should
# run close to two prefills (`urial bench --prompt L --gen 0`, one per model) of the same
# lengths L. Target: TDS tokens/s >= 0.8 x the two prefills' tokens/s.
#
# Models: a TinyLlama-1.1B-shaped pair of random-weight Q4_0 files from gguf_synth.py
# (the default seed as base, --seed 2 as "aligned"; same Llama-2 tokenizer), cached in
# $BENCH_DIR (default /tmp/urial-bench, shared with bench/run.sh). Data: the first N
# answers of the TDS authors' file (../shared/fixtures/aligntds), each cut to
# MAX_TOKENS tokens. Tokens/s counts the tokens fed through the two models (each its own
# input + answer - 1 per answer, summed) over the seconds spent scoring (urial tds reports
# both); the prefill side times each model's length L and sums.
#
# usage: bench/tds.sh [--n 8] [--max-tokens 256] [--reps 3] [--threads 2]
# Run it when the machine is quiet: every figure is the best of REPS runs.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-$(cd .. && pwd)/shared}
BENCH_DIR=${BENCH_DIR:-/tmp/urial-bench}
N=8; MAXT=256; REPS=3; THREADS=2
while [ $# -gt 0 ]; do
    case $1 in
    --n) N=$2; shift ;;
    --max-tokens) MAXT=$2; shift ;;
    --reps) REPS=$2; shift ;;
    --threads) THREADS=$2; shift ;;
    *) echo "bench/tds.sh: unknown option $1" >&2; exit 1 ;;
    esac
    shift
done
make -s all
mkdir -p "$BENCH_DIR"
BASE=${BASE:-$BENCH_DIR/tinyllama-q4_0.gguf}
ALIGNED=${ALIGNED:-$BENCH_DIR/tinyllama-q4_0-seed2.gguf}
for pair in "$BASE:1" "$ALIGNED:2"; do
    m=${pair%:*} seed=${pair##*:}
    [ -f "$m" ] && continue
    if ! /usr/bin/python3 -c 'import numpy, sentencepiece' 2>/dev/null; then
        apt-get install -y -qq python3-numpy python3-sentencepiece >/dev/null
    fi
    /usr/bin/python3 "$SHARED/tools/gguf_synth.py" "$m" --vocab "$SHARED/fixtures/tokenizer/llama-spm/tokenizer.model" \
        --dim 2048 --layers 22 --heads 32 --kv-heads 4 --ff 5632 --type q4_0 --seed "$seed" >/dev/null
done
F=$SHARED/fixtures/aligntds/Llama-2-7b-chat-hf.json
OUT=$BENCH_DIR/tds-out
best() { awk 'BEGIN{m=0} {if ($1+0 > m) m=$1+0} END{printf "%.2f", m}'; }

# One round: the TDS run, then the two prefills of every answer's length (input +
# answer - 1 tokens) on each model. Rounds alternate the two sides so that both see the
# same machine load; the best of REPS rounds is kept for each side.
: >"$BENCH_DIR/tds.txt"; : >"$BENCH_DIR/two.txt"
for r in $(seq "$REPS"); do
    rm -rf "$OUT"
    build/urial tds -t "$THREADS" --base "$BASE" --aligned "$ALIGNED" --data "$F" --outputs "$F" --limit "$N" \
        -n "$MAXT" --out "$OUT" 2>"$BENCH_DIR/tds.log"
    sed -n 's/.*scoring: \([0-9]*\) tokens through both models in \([0-9.]*\) s.*/\1 \2/p' "$BENCH_DIR/tds.log" |
        awk '{printf "%.3f\n", $1 / $2}' >>"$BENCH_DIR/tds.txt"
    # each model reads its own input (issue 17): the base's and the aligned model's lengths
    lens_b=$(jq -r '.n_base_input + .n_tokens - 1' "$OUT/tokens.jsonl")
    lens_a=$(jq -r '.n_aligned_input + .n_tokens - 1' "$OUT/tokens.jsonl")
    secs=0
    for side in "$BASE:$lens_b" "$ALIGNED:$lens_a"; do
        m=${side%%:*}
        for L in ${side#*:}; do
            rate=$(build/urial bench -m "$m" --prompt "$L" --gen 0 --threads "$THREADS" --json 2>/dev/null |
                tail -n 1 | sed -n 's/.*"prefill_tok_s":\([0-9.]*\).*/\1/p')
            secs=$(awk -v s="$secs" -v l="$L" -v r="$rate" 'BEGIN{printf "%.6f", s + l / r}')
        done
    done
    total=$(awk '{s += $1} END{print s}' <<<"$lens_b"$'\n'"$lens_a")
    awk -v t="$total" -v s="$secs" 'BEGIN{printf "%.3f\n", t / s}' >>"$BENCH_DIR/two.txt"
done
tds=$(best <"$BENCH_DIR/tds.txt")
two=$(best <"$BENCH_DIR/two.txt")
fed=$(sed -n 's/.*scoring: \([0-9]*\) tokens.*/\1/p' "$BENCH_DIR/tds.log")
ratio=$(awk -v a="$tds" -v b="$two" 'BEGIN{printf "%.2f", a / b}')
rounds=$(paste -d/ "$BENCH_DIR/tds.txt" "$BENCH_DIR/two.txt" | paste -sd' ')
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
echo "TDS scoring vs two prefills: TinyLlama-1.1B shape Q4_0 pair (random weights), $N answers of the AlignTDS file"
echo "cut to $MAXT tokens ($total tokens through each model; the TDS run counted $fed), $THREADS threads,"
echo "best of $REPS"
echo "rounds (TDS/two prefills tok/s): $rounds;"
echo "$(date -u +%Y-%m-%d), $cpu, urial $(git rev-parse --short HEAD)"
echo
echo "| TDS tok/s (both models) | two prefills tok/s | ratio (target >= 0.80) |"
echo "|---|---|---|"
echo "| $tds | $two | **$ratio** |"
