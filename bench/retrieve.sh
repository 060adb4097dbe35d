#!/usr/bin/env bash
# Retrieval ICL (urial --retrieve POOL --k K) over a large pool: 1,000 queries (the
# just-eval-instruct instructions) over a synthetic 50,000-item pool made
# deterministically from them (build/bench_retrieve make-pool: each item's words varied
# with a fixed LCG). Twice: first with no index file (the BM25 index built and cached in
# POOL.bm25), then with it. Each query's whole retrieval prompt is rendered (scores,
# top K, the examples), on THREADS threads. Target (issue 18): under a minute on 2 threads.
#
# usage: bench/retrieve.sh [--items N] [--threads T] [--k K]
set -euo pipefail
cd "$(dirname "$0")/.."
FIX=${URIAL_FIXTURES:-$(cd .. && pwd)/shared/fixtures}
JE=$FIX/just-eval/just-eval-instruct.Llama-2-7b-chat-hf.json
ITEMS=50000; THREADS=2; K=3
while [ $# -gt 0 ]; do
    case $1 in
    --items) ITEMS=$2; shift ;;
    --threads) THREADS=$2; shift ;;
    --k) K=$2; shift ;;
    *) echo "bench/retrieve.sh: unknown option $1" >&2; exit 1 ;;
    esac
    shift
done
make -s build/liburial.a build/bench_retrieve
mkdir -p /tmp/bench
POOL=/tmp/bench/pool-$ITEMS.jsonl
[ -f "$POOL" ] || build/bench_retrieve make-pool "$JE" "$ITEMS" "$POOL"
rm -f "$POOL.bm25"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores"
echo "== no index file (built and cached):"
build/bench_retrieve run "$POOL" "$JE" "$THREADS" "$K"
echo "== the index file loaded:"
build/bench_retrieve run "$POOL" "$JE" "$THREADS" "$K"
