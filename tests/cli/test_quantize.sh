#!/usr/bin/env bash
# urial quantize end to end: every file type loads and runs, with the tensor types of
# llama.cpp's rules; `urial sft --save-type` writes what `urial quantize` writes from the
# F32 checkpoint (the same code); one-line errors. (Error bounds and llama.cpp's logits on
# these files: tests/unit/test_quantize.c.)
source "$(dirname "$0")/lib.sh"
M=$TMP/f32.gguf
"$URIAL" synth "$M" --dim 256 --layers 8 --heads 4 --kv-heads 2 --ff 512 --seed 3 2>/dev/null
"$URIAL" quantize --help | grep -q "usage: urial quantize" && pass help || fail help

types() { "$URIAL" info "$1" --json | jq -c '.tensor_types | to_entries | map({(.key): .value.count}) | add'; }
declare -A want=(
    [q8_0]='{"q8_0":58,"f32":17}'
    [q4_0]='{"q4_0":57,"f32":17,"q6_K":1}'
    [q4_K_M]='{"q4_K":49,"f32":17,"q6_K":9}'
    [q4_K]='{"q4_K":49,"f32":17,"q6_K":9}'
    [q5_K_M]='{"q5_K":49,"f32":17,"q6_K":9}'
    [q4_K_S]='{"q4_K":52,"f32":17,"q5_K":5,"q6_K":1}'
    [q6_K]='{"q6_K":58,"f32":17}'
    [f16]='{"f16":58,"f32":17}'
)
for t in "${!want[@]}"; do
    if ! "$URIAL" quantize "$M" "$TMP/$t.gguf" "$t" -t 2 2>"$TMP/err"; then fail "quantize_$t" "$(cat "$TMP/err")"; continue; fi
    got=$(types "$TMP/$t.gguf" | jq -cS .)
    exp=$(echo "${want[$t]}" | jq -cS .)
    [ "$got" = "$exp" ] && pass "types_$t" || fail "types_$t" "$got, expected $exp"
    "$URIAL" generate -m "$TMP/$t.gguf" -p "hello" -n 4 --temp 0 >/dev/null 2>"$TMP/err" && pass "runs_$t" ||
        fail "runs_$t" "$(tail -1 "$TMP/err")"
done
"$URIAL" quantize "$M" "$TMP/pure.gguf" q4_K --pure 2>/dev/null
[ "$(types "$TMP/pure.gguf" | jq -cS .)" = '{"f32":17,"q4_K":58}' ] && pass pure || fail pure "$(types "$TMP/pure.gguf")"
# the thread count does not change a byte
"$URIAL" quantize "$M" "$TMP/t1.gguf" q4_K_M -t 1 2>/dev/null
cmp -s "$TMP/t1.gguf" "$TMP/q4_K_M.gguf" && pass threads_same_bytes || fail threads_same_bytes
# requantizing a quantized file (dequantized to F32 first) works
"$URIAL" quantize "$TMP/q8_0.gguf" "$TMP/re.gguf" q4_0 2>/dev/null && [ "$(types "$TMP/re.gguf" | jq -r .q4_0)" = 57 ] &&
    pass requantize || fail requantize

# ---- sft --save-type: the same code as urial quantize
D=$TMP/train.jsonl
for i in 1 2 3 4; do
    printf '{"messages":[{"role":"user","content":"q%d"},{"role":"assistant","content":"answer number %d."}]}\n' $i $i
done >"$D"
B=$TMP/base.gguf
"$URIAL" synth "$B" --dim 256 --layers 2 --heads 4 --kv-heads 2 --ff 512 --seed 4 2>/dev/null
sft() { "$URIAL" sft -m "$B" --data "$D" --epochs 1 --batch 2 --samples 0 --quiet -t 2 --out "$@" >/dev/null 2>"$TMP/err"; }
if sft "$TMP/s32" && sft "$TMP/sq" --save-type q4_K_M; then
    "$URIAL" quantize "$TMP/s32/epoch-001.gguf" "$TMP/s32q.gguf" q4_K_M 2>/dev/null
    [ "$(types "$TMP/sq/epoch-001.gguf" | jq -cS .)" = '{"f32":5,"q4_K":13,"q6_K":3}' ] && pass sft_save_type_mixture ||
        fail sft_save_type_mixture "$(types "$TMP/sq/epoch-001.gguf")"
    "$URIAL" logits -m "$TMP/sq/epoch-001.gguf" --text "answer number" >"$TMP/l1" 2>/dev/null
    "$URIAL" logits -m "$TMP/s32q.gguf" --text "answer number" >"$TMP/l2" 2>/dev/null
    [ -s "$TMP/l1" ] && cmp -s "$TMP/l1" "$TMP/l2" && pass sft_save_type_equals_quantize || fail sft_save_type_equals_quantize
else
    fail sft_save_type_runs "$(tail -2 "$TMP/err")"
fi
fails_with sft_bad_save_type "--save-type: unknown type 'q3_K'" "$URIAL" sft -m "$B" --data "$D" --out "$TMP/x" --save-type q3_K

# ---- errors
fails_with unknown_type "quantize: unknown type 'q2_K' \(f32 f16" "$URIAL" quantize "$M" "$TMP/x.gguf" q2_K
fails_with missing_input "nope.gguf" "$URIAL" quantize "$TMP/nope.gguf" "$TMP/x.gguf" q8_0
fails_with same_file "the output must be another file" "$URIAL" quantize "$M" "$M" q8_0
fails_with args "expected IN.gguf OUT.gguf TYPE|argument" "$URIAL" quantize "$M" q8_0
echo "not gguf" >"$TMP/bad.gguf"
fails_with not_gguf "bad.gguf" "$URIAL" quantize "$TMP/bad.gguf" "$TMP/x.gguf" q8_0
[ ! -e "$TMP/x.gguf" ] && pass no_output_on_error || fail no_output_on_error
