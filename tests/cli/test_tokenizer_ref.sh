#!/usr/bin/env bash
# Current-generation tokenizers against Hugging Face's tokenizers.js: the real tokenizer.json
# files that npm ships (tests/ref/tok/package.json, installed by `npm ci` in .ci/run) are
# converted with urial convert-tokenizer, and 2,400 generated strings (tests/ref/tok/gen_cases.mjs:
# English, code, 30 scripts, emoji, whitespace runs, digits, contractions, NFD, special-token texts,
# invalid UTF-8) must tokenize to tokenizers.js's ids, string for string, for every vocabulary.
# Then what the converted files say about themselves: kind, pre-tokenizer, BOS, EOG; and a
# random-weight Llama-3-shaped model made on the converted vocab with urial synth --vocab.
source "$(dirname "$0")/lib.sh"
REF=$(cd "$(dirname "$0")/../ref/tok" && pwd)
VOCABS="llama3 llama3_1 qwen2_5 qwen3 gemma3 deepseek_v3"
if ! command -v node >/dev/null || [ ! -d "$REF/node_modules/@huggingface/tokenizers" ]; then
    skip tokenizers_js "node or tests/ref/tok/node_modules missing (cd tests/ref/tok && npm ci)"
    exit 0
fi
node "$REF/gen_cases.mjs" >"$TMP/cases.jsonl"
n=$(wc -l <"$TMP/cases.jsonl")
[ "$n" -ge 2000 ] && pass cases_generated || fail cases_generated "$n cases"

for v in $VOCABS; do
    dir=$(node "$REF/ref_ids.mjs" path "$v")
    if ! "$URIAL" convert-tokenizer "$dir/tokenizer.json" "$TMP/$v.gguf" 2>"$TMP/err"; then
        fail "convert_$v" "$(head -c 300 "$TMP/err")"
        continue
    fi
    pass "convert_$v"
    # both sides in the background: the reference (node) and urial on the same cases
    node "$REF/ref_ids.mjs" ids "$v" "$TMP/cases.jsonl" >"$TMP/ref-$v.jsonl" &
    "$URIAL" tokenize -m "$TMP/$v.gguf" --batch "$TMP/cases.jsonl" --no-bos --special >"$TMP/got-$v.jsonl" 2>"$TMP/err-$v"
    wait
    if out=$(node "$REF/ref_ids.mjs" check "$v" "$TMP/cases.jsonl" "$TMP/ref-$v.jsonl" "$TMP/got-$v.jsonl"); then
        pass "tokenizers_js_$v"
        echo "# $(echo "$out" | tail -n 1)"
    else
        fail "tokenizers_js_$v" "$(echo "$out" | tail -n 1; echo "$out" | head -n 6) $(head -c 200 "$TMP/err-$v")"
    fi
done

# what urial info says: kind, pre-tokenizer, BOS, end-of-generation tokens
expect_info() { # NAME VOCAB REGEX...
    local name=$1 v=$2 out
    shift 2
    [ -f "$TMP/$v.gguf" ] || { fail "$name" "no $v.gguf"; return; }
    out=$("$URIAL" info "$TMP/$v.gguf" 2>&1)
    for re in "$@"; do
        if ! grep -qE -- "$re" <<<"$out"; then fail "$name" "no /$re/ in: $(grep -E 'tokenizer|end of gen|pre-tok' <<<"$out")"; return; fi
    done
    pass "$name"
}
expect_info info_llama3_1 llama3_1 "^tokenizer: +byte-level BPE \(gpt2\), 128256 tokens, bos 128000 <\|begin_of_text\|> \(added\)" \
    "^pre-tokenizer: +llama-bpe" "^end of gen: +128001 <\|end_of_text\|>, 128009 <\|eot_id\|>$"
expect_info info_qwen3 qwen3 "^pre-tokenizer: +qwen2 \(NFC first\)" "^end of gen: +151643 <\|endoftext\|>, 151645 <\|im_end\|>$" \
    "bos 11 , \(not added\), eos 151645 <\|im_end\|>"
expect_info info_gemma3 gemma3 "^tokenizer: +SentencePiece BPE \(llama\), 262145 tokens, bos 2 <bos> \(added\)" \
    "^end of gen: +106 <end_of_turn>$"
expect_info info_deepseek_v3 deepseek_v3 "^pre-tokenizer: +deepseek-v3" "bos 0 .* \(added\)"

# BOS rules through urial tokenize (BOS unless --no-bos, when the vocab adds one)
bos_first() { # NAME VOCAB FIRST-ID-OR-NONE
    local out
    out=$("$URIAL" tokenize -m "$TMP/$2.gguf" --text "Hello world" --json 2>&1)
    case "$3:$out" in
    none:\[9707,1879\] | "$3":\["$3",*) pass "$1" ;;
    *) fail "$1" "$out" ;;
    esac
}
bos_first bos_llama3 llama3 128000
bos_first bos_gemma3 gemma3 2
bos_first bos_qwen3 qwen3 none
out=$("$URIAL" tokenize -m "$TMP/llama3_1.gguf" --text "<|start_header_id|>user<|end_header_id|>" --no-bos --special --json)
[ "$out" = "[128006,882,128007]" ] && pass special_llama3 || fail special_llama3 "$out"
out=$("$URIAL" tokenize -m "$TMP/llama3_1.gguf" --text "<|eot_id|>" --no-bos --json)
[ "$out" = "[27,91,68,354,851,91,29]" ] && pass special_as_text_llama3 || fail special_as_text_llama3 "$out"

# a random-weight Llama-3-shaped model on the converted vocab: loads, runs, detokenizes
if "$URIAL" synth "$TMP/l3m.gguf" --vocab "$TMP/llama3_1.gguf" --dim 64 --layers 1 --heads 2 --kv-heads 1 --ff 128 \
    2>"$TMP/err" && "$URIAL" info "$TMP/l3m.gguf" | grep -q "runnable:      yes"; then
    pass synth_llama3_vocab
else
    fail synth_llama3_vocab "$(head -c 300 "$TMP/err") $("$URIAL" info "$TMP/l3m.gguf" 2>&1 | tail -n 2)"
fi
if "$URIAL" generate -m "$TMP/l3m.gguf" -p "Hello" -n 8 --temp 0 >"$TMP/gen" 2>"$TMP/err"; then
    pass generate_llama3_vocab
else
    fail generate_llama3_vocab "$(head -c 300 "$TMP/err")"
fi

# convert-tokenizer's errors: one line naming the file
echo '{"model": {"type": "Unigram", "vocab": []}}' >"$TMP/tokenizer.json"
fails_with convert_unigram "tokenizer.json: model type 'Unigram' is not supported" \
    "$URIAL" convert-tokenizer "$TMP/tokenizer.json" "$TMP/x.gguf"
fails_with convert_missing "nope/tokenizer.json: cannot open" "$URIAL" convert-tokenizer "$TMP/nope/tokenizer.json" "$TMP/x.gguf"
echo '{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel", "use_regex": false}, "decoder": {"type": "ByteLevel"}}' >"$TMP/tokenizer.json"
fails_with convert_unknown_pre "cannot tell which pre-tokenizer.*--pre NAME" \
    "$URIAL" convert-tokenizer "$TMP/tokenizer.json" "$TMP/x.gguf"
