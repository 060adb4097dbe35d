#!/usr/bin/env bash
# Load on urial serve (issue 8): CLIENTS concurrent clients x REQUESTS requests each on
# loopback against a small model; reports failed requests (must be 0), latency
# p50/p90/p99, throughput, and the server's RSS over the run (must stay flat), and
# the /health counters after it.
#
# Model: a random-weight Q8_0 model with the Llama-2 vocabulary (dim 64, 2 layers;
# written with urial synth into $BENCH_DIR), so the URIAL prompt is its real ~1.3k
# tokens (its prefix computed once at start and shared) and the numbers measure the
# server (HTTP, queue, slots, batching, streaming), not the matrix kernels.
# Requests: a mix of chat completions (1/2), streamed chat completions (1/4) and
# completions (1/4), each with max_tokens MAX_TOKENS, questions varied per request.
# The load generator is bench/serve_load.mjs (node, no packages).
#
# usage: bench/serve_load.sh [--clients 32] [--requests 200] [--parallel 8] [--max-tokens 16] [--threads 1]
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-$(cd .. && pwd)/shared}
BENCH_DIR=${BENCH_DIR:-/tmp/urial-bench}
CLIENTS=32; REQUESTS=200; PARALLEL=8; MAXT=16; THREADS=1
while [ $# -gt 0 ]; do
    case $1 in
    --clients) CLIENTS=$2; shift ;;
    --requests) REQUESTS=$2; shift ;;
    --parallel) PARALLEL=$2; shift ;;
    --max-tokens) MAXT=$2; shift ;;
    --threads) THREADS=$2; shift ;;
    *) echo "bench/serve_load.sh: unknown option $1" >&2; exit 1 ;;
    esac
    shift
done
URIAL=${URIAL:-build/urial}
[ -x "$URIAL" ] || make -j2 >/dev/null
mkdir -p "$BENCH_DIR"
M=$BENCH_DIR/serve-tiny.gguf
[ -f "$M" ] || "$URIAL" synth --vocab "$SHARED/fixtures/tokenizer/llama-spm/vocab-llama-spm.gguf" --ctx 4096 \
    --dim 64 --layers 2 --heads 4 --kv-heads 2 --ff 128 --type q8_0 --scale 0.3 --seed 5 "$M" >/dev/null
LOG=$(mktemp)
"$URIAL" serve -m "$M" --port 0 -t "$THREADS" --parallel "$PARALLEL" --queue 256 --ctx 2048 2>"$LOG" &
PID=$!
trap 'kill $PID 2>/dev/null; rm -f "$LOG"' EXIT
PORT=
for _ in $(seq 1 200); do
    PORT=$(grep -oE 'on http://127\.0\.0\.1:[0-9]+/' "$LOG" | grep -oE '[0-9]+/$' | tr -d /) || true
    [ -n "$PORT" ] && break
    sleep 0.05
done
[ -n "$PORT" ] || { cat "$LOG" >&2; exit 1; }
echo "urial serve: pid $PID, port $PORT, $PARALLEL slots, $THREADS thread(s); $CLIENTS clients x $REQUESTS requests, max_tokens $MAXT" >&2
node bench/serve_load.mjs "http://127.0.0.1:$PORT/v1" "$PID" "$CLIENTS" "$REQUESTS" "$MAXT"
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /health HTTP/1.0\r\n\r\n' >&3
echo "health: $(tail -n 1 <&3)" >&2
