#!/usr/bin/env bash
# make demo-eval: the figures of models/MODEL_CARD.md, measured on the bundled demo models over the
# 50 held-out prompts (data/demo/heldout.jsonl), greedy with a repetition penalty of 1.2 over the last
# 24 tokens (tools/demo_settings.sh, as make demo; DEMO_DECODING="..." to change it), at most 160 tokens
# per answer:
#   base-template  the base model given the twin's chat template (zephyr): no URIAL
#   base-k0        the base model given the URIAL preamble without examples (K=0)
#   base-urial     the base model under URIAL (data/demo/urial-demo.txt, K=3)
#   chat           the SFT-aligned twin with its template
# then `urial eval style` (answers that open by addressing the question and close with an offer)
# and `urial tds` between the pair and of the twin against itself (the baseline). Writes OUT/*.jsonl,
# OUT/style.json, OUT/tds/, OUT/tds-self/ and OUT/tds-pairs.html.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
U=$BUILD/urial
OUT=${OUT:-$BUILD/demo-eval}
THREADS=${THREADS:-$(nproc)}
N=${DEMO_MAX_TOKENS:-160}
source tools/demo_settings.sh
BASE=$DEMO_BASE CHAT=$DEMO_CHAT DATA=$DEMO_HELDOUT
mkdir -p "$OUT"
# K=0: the demo prompt's preamble alone (everything before the first "# Query:")
awk '/^# Query:/ {exit} {print}' "$DEMO_PROMPT" > "$OUT/urial-demo-k0.txt"
run() { # name args...
    local name=$1; shift
    "$U" run --data "$DATA" --out "$OUT/$name.jsonl" -n "$N" -t "$THREADS" --generator "$name" "${DEMO_DEC[@]}" "$@" 2>>"$OUT/run.log"
}
run base-template -m "$BASE" --template zephyr
run base-k0 -m "$BASE" --urial "$OUT/urial-demo-k0.txt"
run base-urial -m "$BASE" --urial "$DEMO_PROMPT"
run chat -m "$CHAT" --template auto
echo "== style over $(wc -l < "$DATA") held-out prompts (urial eval style)"
"$U" eval style "$OUT/base-template.jsonl" "$OUT/base-k0.jsonl" "$OUT/base-urial.jsonl" "$OUT/chat.jsonl" \
    --json "$OUT/style.json"
echo "== token distribution shift (urial tds: the twin's answers above, scored by the base)"
"$U" tds --base "$BASE" --aligned "$CHAT" --data "$DATA" --outputs "$OUT/chat.jsonl" --out "$OUT/tds" \
    -t "$THREADS" 2>&1 | tail -n 2
echo "== the baseline: the twin against itself with the same two prompts (the prompt's effect alone)"
"$U" tds --base "$CHAT" --aligned "$CHAT" --data "$DATA" --outputs "$OUT/chat.jsonl" --out "$OUT/tds-self" \
    -t "$THREADS" 2>&1 | tail -n 2
"$U" tds report "$OUT/tds" "$OUT/tds-self" --out "$OUT/tds-pairs.html" 2>/dev/null
echo "wrote $OUT/style.json $OUT/tds/summary.json $OUT/tds-self/summary.json $OUT/tds-pairs.html"
