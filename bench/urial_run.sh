#!/usr/bin/env bash
# The paper's batch run at small scale (issue 16): URIAL K=3 (urial-k3) over the first N just-eval
# instructions, G tokens each, on a TinyLlama-1.1B-shaped Q4_0 model with the Llama-2 vocabulary:
#   urial run --parallel 1   against   urial run --parallel P   (the same outputs, byte for byte)
#   and llama.cpp's batched decoding of the same prompts (bench/llamacpp_batch.mjs: P sequences in
#   one context, greedy), all in one run, alternating, best of R;
# then the projected hours for the full 1,000-instruction run of a Llama-2-7B-shaped Q4_0 model,
# scaling the measured tokens/s by the bytes of weights read per token (decoding is read-bound).
# usage: bench/urial_run.sh [--n 16] [--gen 64] [--parallel 8] [--reps 2] [--threads 2] [--record]
# Needs node + node-llama-cpp in $LLAMACPP (default /tmp/llamacpp; installed on first use) and the
# Llama-2 vocabulary fixture. Models are cached in $BENCH_DIR (default /tmp/urial-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-$(cd .. && pwd)/shared}
LLAMACPP=${LLAMACPP:-/tmp/llamacpp}
BENCH_DIR=${BENCH_DIR:-/tmp/urial-bench}
N=16; GEN=64; PAR=8; REPS=2; THREADS=2; RECORD=0
while [ $# -gt 0 ]; do
    case $1 in
    --n) N=$2; shift ;;
    --gen) GEN=$2; shift ;;
    --parallel) PAR=$2; shift ;;
    --reps) REPS=$2; shift ;;
    --threads) THREADS=$2; shift ;;
    --record) RECORD=1 ;;
    *) echo "bench/urial_run.sh: unknown option $1" >&2; exit 1 ;;
    esac
    shift
done
make -s all
mkdir -p "$BENCH_DIR"
U=build/urial
V=$SHARED/fixtures/tokenizer/llama-spm/vocab-llama-spm.gguf
JE=$SHARED/fixtures/just-eval/just-eval-instruct.Llama-2-7b-chat-hf.json
M=$(realpath -m "$BENCH_DIR/tinyllama-urial-q4_0.gguf")
[ -f "$M" ] || $U synth "$M" --vocab "$V" --dim 2048 --layers 22 --heads 32 --kv-heads 4 --ff 5632 --ctx 4096 \
    --type q4_0 --scale 0.02 >/dev/null
if [ ! -d "$LLAMACPP/node_modules/node-llama-cpp" ]; then
    mkdir -p "$LLAMACPP"
    (cd "$LLAMACPP" && npm init -y >/dev/null && npm install -s node-llama-cpp@3.22.1 --ignore-scripts >/dev/null)
fi
cp bench/llamacpp_batch.mjs "$LLAMACPP/"

# the same prompts for llama.cpp: urial's rendering, tokenized by urial (BOS first)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
python3 - "$JE" "$N" >"$W/queries.txt" <<'EOF'
import json, sys
for it in json.load(open(sys.argv[1]))[:int(sys.argv[2])]:
    print(json.dumps(it["instruction"]))
EOF
echo -n "[" >"$W/prompts.json"
i=0
while IFS= read -r q; do
    text=$($U prompt --urial urial-k3 --query "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]))' "$q")")
    ids=$($U tokenize -m "$M" --text "$text" --json)
    [ $i -gt 0 ] && echo -n "," >>"$W/prompts.json"
    echo -n "$ids" >>"$W/prompts.json"
    i=$((i + 1))
done <"$W/queries.txt"
echo "]" >>"$W/prompts.json"

# the prefix's KV from a file, so both urial runs time answers, not the shared prefix
$U run -m "$M" -t "$THREADS" --urial urial-k3 --data "$JE" --limit 1 -n 1 --prompt-cache "$W/pc" --out "$W/warm.jsonl" 2>/dev/null

run_urial() { # PARALLEL OUT -> seconds of the run (its own summary line)
    rm -f "$2"
    $U run -m "$M" -t "$THREADS" --urial urial-k3 --data "$JE" --limit "$N" -n "$GEN" --parallel "$1" \
        --prompt-cache "$W/pc" --out "$2" 2>&1 | grep -oE 'done \([0-9]+ generated now, [0-9]+ skipped\) in [0-9.]+ s; [0-9]+ tokens' |
        sed -E 's/.* in ([0-9.]+) s; ([0-9]+) tokens/\1 \2/'
}
best() { sort -g | tail -n 1; }
u1=() up=() lc=()
for r in $(seq "$REPS"); do
    read -r s t < <(run_urial 1 "$W/p1.jsonl"); u1+=("$(python3 -c "print($t/$s)")")
    read -r s t < <(run_urial "$PAR" "$W/pp.jsonl"); up+=("$(python3 -c "print($t/$s)")")
    lc+=("$(cd "$LLAMACPP" && node llamacpp_batch.mjs "$M" --prompts "$W/prompts.json" --parallel "$PAR" \
        --gen "$GEN" --threads "$THREADS" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tok_s"])')")
done
same=no
diff <(sed 's/,"stats":{[^}]*}}$/}/' "$W/p1.jsonl") <(sed 's/,"stats":{[^}]*}}$/}/' "$W/pp.jsonl") >/dev/null && same=yes
B1=$(printf '%s\n' "${u1[@]}" | best) BP=$(printf '%s\n' "${up[@]}" | best) BL=$(printf '%s\n' "${lc[@]}" | best)
CPU=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
# 7B Q4_0 (Llama-2-7B shape) reads ~6.1x the bytes per token of TinyLlama Q4_0; the just-eval run
# answers 1,000 instructions of ~300 tokens (the paper's outputs average about that)
proj() { python3 -c "print(f'{1000*300/($1/6.1)/3600:.1f}')"; }
table=$(cat <<EOF
| $CPU, $THREADS threads, TinyLlama-1.1B-shaped Q4_0, urial-k3, $N just-eval instructions x $GEN tokens, best of $REPS | tok/s | vs --parallel 1 | vs llama.cpp | 7B Q4_0 just-eval projected |
|---|---|---|---|---|
| urial run --parallel 1 | $(printf %.1f "$B1") | 1.00x | $(python3 -c "print(f'{$B1/$BL:.2f}x')") | $(proj "$B1") h |
| urial run --parallel $PAR | $(printf %.1f "$BP") | $(python3 -c "print(f'{$BP/$B1:.2f}x')") | $(python3 -c "print(f'{$BP/$BL:.2f}x')") | $(proj "$BP") h |
| llama.cpp, $PAR sequences in one context | $(printf %.1f "$BL") | | 1.00x | $(proj "$BL") h |

outputs of --parallel 1 and --parallel $PAR byte-identical: $same; runs (tok/s): urial 1: ${u1[*]}; urial $PAR: ${up[*]}; llama.cpp: ${lc[*]}
EOF
)
echo "$table"
if [ $RECORD = 1 ]; then
    { echo; echo "## $(date -u +%Y-%m-%d) \`bench/urial_run.sh --n $N --gen $GEN --parallel $PAR --reps $REPS --threads $THREADS\` (load $(cut -d' ' -f1-3 /proc/loadavg))"; echo; echo "$table"; } >>bench/URIAL_RUN.md
fi
