#!/usr/bin/env bash
# make demo: the whole URIAL story on the bundled demo models (models/MODEL_CARD.md):
#   1. urial info on the base model and its SFT-aligned twin;
#   2. three sample questions (data/demo/questions.txt) answered side by side by the base model
#      under URIAL (data/demo/urial-demo.txt, K=3) and by the aligned twin (its chat template);
#   3. the token distribution shift between the pair over 50 held-out prompts
#      ($DEMO_HELDOUT): the twin answers (urial run), the base ranks every token;
#      writes OUT/tds/ (tokens.jsonl, summary.json, report.html), the aligned model against itself
#      (OUT/tds-self/, the baseline) and both side by side (OUT/tds-pairs.html), and prints where they are.
# Models, prompt and decoding (both models): tools/demo_settings.sh.
# Environment: OUT (default BUILD/demo), THREADS (default: all cores), DEMO_MAX_TOKENS (160).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
U=$BUILD/urial
OUT=${OUT:-$BUILD/demo}
THREADS=${THREADS:-$(nproc)}
N=${DEMO_MAX_TOKENS:-160}
source tools/demo_settings.sh
BASE=$DEMO_BASE CHAT=$DEMO_CHAT PROMPT=$DEMO_PROMPT
for f in "$BASE" "$CHAT" "$PROMPT" data/demo/questions.txt "$DEMO_HELDOUT"; do
    [ -s "$f" ] || { echo "demo: $f missing (make demo-models rebuilds the models)" >&2; exit 1; }
done
SECONDS=0
mkdir -p "$OUT"

echo "== urial info $BASE"
"$U" info "$BASE" | sed -n '1,6p;/^chat/p;/^tokenizer/p'
echo "== urial info $CHAT"
"$U" info "$CHAT" | sed -n '1,6p;/^chat/p;/^tokenizer/p'

W=$(( ${COLUMNS:-120} < 100 ? 100 : ${COLUMNS:-120} ))
C=$(( (W - 3) / 2 ))
side() { # left-title left-text right-title right-text
    local l r
    l=$(mktemp); r=$(mktemp)
    { echo "$1"; printf '%*s\n' "$C" '' | tr ' ' '-'; printf '%s\n' "$2" | fold -s -w "$C"; } > "$l"
    { echo "$3"; printf '%*s\n' "$C" '' | tr ' ' '-'; printf '%s\n' "$4" | fold -s -w "$C"; } > "$r"
    local nl nr
    nl=$(wc -l <"$l"); nr=$(wc -l <"$r")
    while [ "$nl" -lt "$nr" ]; do echo >>"$l"; nl=$((nl + 1)); done
    paste -d '|' <(awk -v w="$C" '{printf "%-" w "s \n", $0}' "$l") "$r" | sed 's/|/| /'
    rm -f "$l" "$r"
}
n=0
while IFS= read -r q; do
    [ -n "$q" ] || continue
    n=$((n + 1))
    a=$(printf '%s\n' "$q" | "$U" chat -q -m "$BASE" --urial "$PROMPT" -n "$N" "${DEMO_DEC[@]}" -t "$THREADS" 2>"$OUT/chat.log") ||
        { cat "$OUT/chat.log" >&2; exit 1; }
    b=$(printf '%s\n' "$q" | "$U" chat -q -m "$CHAT" --template auto -n "$N" "${DEMO_DEC[@]}" -t "$THREADS" 2>"$OUT/chat.log") ||
        { cat "$OUT/chat.log" >&2; exit 1; }
    echo
    echo "== question $n: $q"
    side "base model + URIAL (no tuning: K=3 examples in the prompt)" "$a" \
         "aligned twin (LIMA-style SFT, its chat template)" "$b"
done < data/demo/questions.txt

echo
echo "== token distribution shift over 50 held-out prompts (urial tds)"
rm -rf "$OUT/tds" "$OUT/tds-self" "$OUT/chat-heldout.jsonl"
"$U" run -m "$CHAT" --template auto --data "$DEMO_HELDOUT" --out "$OUT/chat-heldout.jsonl" -n "$N" \
    "${DEMO_DEC[@]}" -t "$THREADS" >"$OUT/tds.log" 2>&1 || { cat "$OUT/tds.log" >&2; exit 1; }
"$U" tds --base "$BASE" --aligned "$CHAT" --data "$DEMO_HELDOUT" --outputs "$OUT/chat-heldout.jsonl" \
    --out "$OUT/tds" -t "$THREADS" >>"$OUT/tds.log" 2>&1 || { cat "$OUT/tds.log" >&2; exit 1; }
s=$OUT/tds/summary.json
sed -n 's/^urial: tds: \(.*answers,.*positions.*\); wrote.*/\1/p; s/^urial: tds: \(most frequent shifted tokens.*\)/\1/p' "$OUT/tds.log"
# the baseline: the aligned model against itself with the same two prompts (its chat template and
# the TDS authors' zero-shot wrapper), so the shift of the prompt alone
"$U" tds --base "$CHAT" --aligned "$CHAT" --data "$DEMO_HELDOUT" --outputs "$OUT/chat-heldout.jsonl" \
    --out "$OUT/tds-self" -t "$THREADS" >"$OUT/tds-self.log" 2>&1 || { cat "$OUT/tds-self.log" >&2; exit 1; }
"$U" tds report "$OUT/tds" "$OUT/tds-self" --out "$OUT/tds-pairs.html" >>"$OUT/tds-self.log" 2>&1 ||
    { cat "$OUT/tds-self.log" >&2; exit 1; }
sed -n 's/^urial: tds: \(.*answers,.*positions.*\); wrote.*/baseline, the aligned model against itself: \1/p' "$OUT/tds-self.log" | head -n 1
echo
echo "TDS report: $OUT/tds/report.html  (summary: $s, tokens: $OUT/tds/tokens.jsonl; with the baseline: $OUT/tds-pairs.html)"
echo "demo done in ${SECONDS} s"
