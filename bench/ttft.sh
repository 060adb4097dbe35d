#!/usr/bin/env bash
# Time to first token for a query after a URIAL prompt, with the prompt's prefix
# computed every time (uncached) and with its KV already in the context (cached)
# — issue 3's target: >= 10x faster cached, on the TinyLlama-1.1B-shaped Q4_0
# model with the default urial-k3 prompt (~1.3k tokens).
#
# usage: bench/ttft.sh [MODEL.gguf] [--urial NAME|FILE] [--query TEXT] [--reps R] [--threads N]
#   MODEL   default /tmp/bench/tl-q4_0.gguf; written with `urial synth` (TinyLlama-1.1B shape,
#           Q4_0, the Llama-2 vocabulary from ../shared/fixtures) when it does not exist
# Prints urial bench's JSON line, then one line with the ratio. Measure on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
FIX=${URIAL_FIXTURES:-$(cd .. && pwd)/shared/fixtures}
MODEL=/tmp/bench/tl-q4_0.gguf
URIAL_PROMPT=urial-k3; REPS=3; THREADS=2; QUERY=()
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then MODEL=$1; shift; fi
while [ $# -gt 0 ]; do
    case $1 in
    --urial) URIAL_PROMPT=$2; shift ;;
    --query) QUERY=(--query "$2"); shift ;;
    --reps) REPS=$2; shift ;;
    --threads) THREADS=$2; shift ;;
    *) echo "bench/ttft.sh: unknown option $1" >&2; exit 1 ;;
    esac
    shift
done

make -s all
if [ ! -f "$MODEL" ]; then
    mkdir -p "$(dirname "$MODEL")"
    build/urial synth "$MODEL" --vocab "$FIX/tokenizer/llama-spm/vocab-llama-spm.gguf" --dim 2048 --layers 22 \
        --heads 32 --kv-heads 4 --ff 5632 --ctx 2048 --type q4_0
fi
json=$(build/urial bench -m "$MODEL" --urial "$URIAL_PROMPT" "${QUERY[@]}" --reps "$REPS" --threads "$THREADS" --json |
    tail -n 1)
echo "$json"
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" <<<"$json"; }
echo "ttft: $(field ttft_uncached_ms) ms uncached (prefix $(field prefix_tokens) + query $(field query_tokens) tokens)," \
    "$(field ttft_cached_ms) ms with the prefix cached: $(field speedup)x (target >= 10x)"
