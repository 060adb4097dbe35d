#!/usr/bin/env bash
# The TDS authors' protocol on their own data: urial tds --tokenize separate on their file
# (all 1000 items, the first 4 answer tokens of each; the first 20 answers whole) builds the
# aligned and the base inputs and the answer tokens that AlignTDS's logit_analysis.py builds,
# token for token, with the Llama-2 vocabulary; the reference is an independent tokenizer
# (tests/aligntds/inputs.mjs: transformers.js on the fixture's SentencePiece model). The
# default joint tokenization departs from it only by the second BOS and the prompt's last "▁".
source "$(dirname "$0")/lib.sh"
V=$FIX/tokenizer/llama-spm/vocab-llama-spm.gguf
SPM=$FIX/tokenizer/llama-spm/tokenizer.model
F=$FIX/aligntds/Llama-2-7b-chat-hf.json
if [ ! -f "$V" ] || [ ! -f "$SPM" ] || [ ! -f "$F" ]; then
    skip tds_aligntds_suite "no fixtures at $FIX"
    exit 0
fi
REF=tests/aligntds
if ! command -v node >/dev/null; then
    skip tds_aligntds_suite "node is not installed"
    exit 0
fi
if [ ! -d "$REF/node_modules/@lenml/tokenizers" ]; then
    (cd "$REF" && npm ci --silent >/dev/null 2>&1) || { fail aligntds_setup "npm ci failed in $REF"; exit 0; }
fi
"$URIAL" synth --ctx 2048 --dim 32 --layers 1 --heads 2 --kv-heads 1 --ff 64 --vocab "$V" --type f16 --seed 5 \
    "$TMP/m.gguf" >/dev/null 2>&1 || { fail synth "cannot write the test model"; exit 0; }
T=(tds -t 1 --base "$TMP/m.gguf" --aligned "$TMP/m.gguf" --data "$F" --outputs "$F")
"$URIAL" "${T[@]}" --tokenize separate -n 4 --out "$TMP/sep" >/dev/null 2>"$TMP/e1" &&
    "$URIAL" "${T[@]}" --tokenize separate --limit 20 --out "$TMP/sep20" >/dev/null 2>>"$TMP/e1" &&
    "$URIAL" "${T[@]}" -n 4 --out "$TMP/joint" >/dev/null 2>>"$TMP/e1"
rc=$?
n=$(wc -l <"$TMP/sep/tokens.jsonl" 2>/dev/null)
[ $rc = 0 ] && [ "$n" = 1000 ] && pass tds_aligntds_runs || fail tds_aligntds_runs "rc $rc, $n records: $(tail -n 2 "$TMP/e1")"
cat "$TMP/sep20/tokens.jsonl" >"$TMP/both.jsonl" && tail -n +21 "$TMP/sep/tokens.jsonl" >>"$TMP/both.jsonl"
node "$REF/inputs.mjs" "$SPM" "$F" "$TMP/both.jsonl" "$TMP/joint/tokens.jsonl"
