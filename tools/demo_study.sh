#!/usr/bin/env bash
# make demo-study: `urial study` on the bundled demo pair (models/MODEL_CARD.md) over the 50
# held-out prompts ($DEMO_HELDOUT): the base model under the demo's URIAL prompt (K=3 examples,
# data/demo/urial-demo.txt) and the built-in preamble alone (K=0), the aligned twin under its chat
# template, every answer judged offline by the twin itself (a 3M-parameter judge: the scores mean
# nothing, but the whole pipeline runs), TDS between the pair, and the report. Ends with its path.
# Models and decoding: tools/demo_settings.sh. Rerun it to resume; delete OUT to start over.
# Environment: OUT (default BUILD/demo-study), THREADS (default: all cores), DEMO_STUDY_ITEMS (the first
# N prompts; default 50, all), DEMO_MAX_TOKENS (160). ~40 s on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
U=$BUILD/urial
OUT=${OUT:-$BUILD/demo-study}
THREADS=${THREADS:-$(nproc)}
N=${DEMO_MAX_TOKENS:-160}
ITEMS=${DEMO_STUDY_ITEMS:-50}
source tools/demo_settings.sh
for f in "$DEMO_BASE" "$DEMO_CHAT" "$DEMO_PROMPT" "$DEMO_HELDOUT"; do
    [ -s "$f" ] || { echo "demo-study: $f missing (make demo-models rebuilds the models)" >&2; exit 1; }
done
SECONDS=0
STUDY=(study --base "$DEMO_BASE" --aligned "$DEMO_CHAT" --data "$DEMO_HELDOUT" --limit "$ITEMS" --out "$OUT"
       --methods "urial-k0,urial-demo=$DEMO_PROMPT,aligned" -n "$N" "${DEMO_DEC[@]}" -t "$THREADS"
       --judge "local:$DEMO_CHAT" --judge-ctx 2048 --judge-reason-max 40)
echo "== urial ${STUDY[*]} --plan"
"$U" "${STUDY[@]}" --plan
echo
echo "== urial ${STUDY[*]}"
"$U" "${STUDY[@]}"
echo
echo "demo-study: done in ${SECONDS} s; the report: $OUT/report.html (numbers: $OUT/study.json)"
