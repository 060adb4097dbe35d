#!/usr/bin/env bash
# Training end to end: a tiny model overfits a handful of SFT examples (loss near
# 0) and `urial generate` then reproduces them; a run killed with -9 midway and
# resumed gives bit-identical checkpoints to an uninterrupted run; pretraining
# with `urial train`; LoRA checkpoints and adapters; one-line errors.
source "$(dirname "$0")/lib.sh"
# fails_after_plan NAME REGEX CMD...: exits non-zero, and the last stderr line (after the
# training plan lines) matches REGEX
fails_after_plan() {
    local n=$1 re=$2; shift 2
    if "$@" >"$TMP/out" 2>"$TMP/err"; then fail "$n" "expected failure, got exit 0"; return; fi
    [ $? -lt 128 ] && tail -1 "$TMP/err" | grep -qE -- "$re" && pass "$n" || fail "$n" "$(tail -1 "$TMP/err")"
}
M=$TMP/base.gguf
"$URIAL" synth "$M" --dim 64 --layers 2 --heads 4 --kv-heads 2 --ff 128 --ctx 256 --seed 5 2>/dev/null

for c in sft train; do
    if "$URIAL" $c --help | grep -q "usage: urial $c"; then pass "help_$c"; else fail "help_$c"; fi
done

# six question/answer pairs in the three accepted formats
D=$TMP/train.jsonl
{
    printf '{"messages":[{"role":"user","content":"gamma kappa beta"},{"role":"assistant","content":"The answer to gamma kappa beta is theta lambda eta."}]}\n'
    printf '{"messages":[{"role":"user","content":"delta beta alpha"},{"role":"assistant","content":"The answer to delta beta alpha is eta kappa mu."}]}\n'
    printf '{"conversations":["epsilon mu delta","The answer to epsilon mu delta is zeta alpha lambda."]}\n'
    printf '{"conversations":["iota alpha eta","The answer to iota alpha eta is delta mu iota."]}\n'
    printf '{"instruction":"theta iota delta","output":"The answer to theta iota delta is zeta lambda epsilon."}\n'
    printf '\n{"instruction":"alpha eta iota","input":"","output":"The answer to alpha eta iota is beta gamma mu."}\n'
} >"$D"

# ---- overfit, then reproduce with urial generate
O=$TMP/overfit
if "$URIAL" sft -m "$M" --data "$D" --out "$O" --epochs 150 --batch 6 --lr 1e-2 --lr-end 1e-3 --dropout 0 \
    --weight-decay 0 --ckpt-every 150 --samples 6 --sample-tokens 40 --quiet -t 1 >"$TMP/out" 2>"$TMP/err"; then
    pass sft_overfit_runs
else
    fail sft_overfit_runs "$(tail -3 "$TMP/err")"
fi
loss=$(grep '"step":150,' "$O/log.jsonl" | sed 's/.*"loss":\([0-9.e-]*\).*/\1/')
awk -v l="${loss:-9}" 'BEGIN { exit !(l < 0.01) }' && pass sft_overfit_loss_near_zero || fail sft_overfit_loss_near_zero "final loss '$loss'"
out=$("$URIAL" generate -m "$O/epoch-150.gguf" -p "<|user|>
delta beta alpha</s>
<|assistant|>
" --special -n 40 2>/dev/null)
[ "$out" = "The answer to delta beta alpha is eta kappa mu." ] && pass sft_generate_reproduces ||
    fail sft_generate_reproduces "got '$out'"
grep -q "The answer to theta iota delta is zeta lambda epsilon." "$O/report.md" && pass sft_report_samples ||
    fail sft_report_samples "$(head -c 300 "$O/report.md")"
"$URIAL" prompt --template auto -m "$O/epoch-150.gguf" --query hi >"$TMP/p" 2>&1
printf '<|user|>\nhi</s>\n<|assistant|>\n' >"$TMP/p.want"
cmp -s "$TMP/p" "$TMP/p.want" && pass sft_ckpt_template_recorded || fail sft_ckpt_template_recorded "$(cat "$TMP/p")"

# ---- kill -9 midway, resume, finish: identical to an uninterrupted run (the resumed part runs on
# another thread count: the sums do not depend on it)
args=(-m "$M" --data "$D" --epochs 60 --batch 2 --lr 3e-3 --dropout 0.2 --ckpt-every 30 --save-every 1 --samples 1
    --sample-tokens 8 --quiet -t 1)
"$URIAL" sft "${args[@]}" --out "$TMP/a" >/dev/null 2>&1
"$URIAL" sft "${args[@]}" --out "$TMP/b" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 400); do
    [ -f "$TMP/b/log.jsonl" ] && [ "$(wc -l <"$TMP/b/log.jsonl")" -ge 70 ] && break
    sleep 0.01
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
n=$(wc -l <"$TMP/b/log.jsonl")
if [ "$n" -lt 180 ] && [ ! -f "$TMP/b/epoch-060.gguf" ]; then pass resume_killed_midway; else fail resume_killed_midway "run finished before the kill ($n log lines)"; fi
"$URIAL" sft "${args[@]}" --out "$TMP/b" --resume -t 2 >/dev/null 2>"$TMP/err" && pass resume_finishes || fail resume_finishes "$(tail -2 "$TMP/err")"
cmp -s "$TMP/a/epoch-060.gguf" "$TMP/b/epoch-060.gguf" && cmp -s "$TMP/a/epoch-030.gguf" "$TMP/b/epoch-030.gguf" &&
    pass resume_bit_identical || fail resume_bit_identical "checkpoints differ"
steps=$(grep -c '"loss"' "$TMP/b/log.jsonl")
[ "$steps" = 180 ] && pass resume_log_complete || fail resume_log_complete "$steps step records"
fails_after_plan resume_other_settings "state.gguf: the run was started with other settings \('batch=3' now, 'batch=2'" "$URIAL" sft "${args[@]}" --batch 3 --out "$TMP/b" --resume

# ---- LoRA on a quantized base: merged checkpoints and llama.cpp-format adapters
Q=$TMP/q8.gguf
"$URIAL" synth "$Q" --dim 64 --layers 2 --heads 4 --kv-heads 2 --ff 128 --ctx 256 --seed 5 --type q8_0 2>/dev/null
if "$URIAL" sft -m "$Q" --data "$D" --out "$TMP/lora" --lora 4 --export both --epochs 2 --batch 3 --samples 1 \
    --sample-tokens 8 --quiet -t 1 >/dev/null 2>"$TMP/err"; then pass lora_runs; else fail lora_runs "$(tail -2 "$TMP/err")"; fi
"$URIAL" info "$TMP/lora/adapter-002.gguf" >/dev/null 2>&1 # not a model: info may refuse; the keys matter
if grep -q "adapter.lora.alpha" "$TMP/lora/adapter-002.gguf" && grep -q "blk.1.ffn_down.weight.lora_b" "$TMP/lora/adapter-002.gguf"; then
    pass lora_adapter_written
else
    fail lora_adapter_written
fi
"$URIAL" generate -m "$TMP/lora/epoch-002.gguf" -p "hi" -n 4 >/dev/null 2>&1 && pass lora_merged_loads || fail lora_merged_loads

# ---- pretraining
T=$TMP/corpus.txt
for i in $(seq 1 40); do printf 'the cat sat on the mat number %d.\nit was a good mat.\n\n' "$i"; done >"$T"
if "$URIAL" train --text "$T" --tokenizer "$M" --config "tiny,ctx=32" --out "$TMP/pt" --epochs 3 --batch 4 --quiet -t 1 \
    --sample-tokens 8 >/dev/null 2>"$TMP/err"; then pass train_runs; else fail train_runs "$(tail -2 "$TMP/err")"; fi
first=$(grep '"step":1,' "$TMP/pt/log.jsonl" | sed 's/.*"loss":\([0-9.e-]*\).*/\1/')
last=$(grep '"loss"' "$TMP/pt/log.jsonl" | tail -1 | sed 's/.*"loss":\([0-9.e-]*\).*/\1/')
awk -v a="${first:-0}" -v b="${last:-9}" 'BEGIN { exit !(b < a - 1) }' && pass train_loss_falls || fail train_loss_falls "$first -> $last"
ls "$TMP/pt"/epoch-003.gguf >/dev/null 2>&1 && grep -q "dev loss" "$TMP/pt/report.md" && pass train_checkpoint_report ||
    fail train_checkpoint_report
"$URIAL" generate -m "$TMP/pt/epoch-003.gguf" -p "the cat" -n 6 >/dev/null 2>&1 && pass train_ckpt_loads || fail train_ckpt_loads

# ---- errors
fails_with sft_needs_args "--model, --data and --out are required" "$URIAL" sft -m "$M"
printf '{"messages":[{"role":"user","content":"x"}]}\n' >"$TMP/bad.jsonl"
fails_with sft_bad_example "bad.jsonl:1: a conversation must end with an assistant message" \
    "$URIAL" sft -m "$M" --data "$TMP/bad.jsonl" --out "$TMP/x"
printf 'not json\n' >"$TMP/bad2.jsonl"
fails_with sft_bad_json "bad2.jsonl:1: not valid JSON" "$URIAL" sft -m "$M" --data "$TMP/bad2.jsonl" --out "$TMP/x"
fails_with train_bad_config "unknown key 'depth'" "$URIAL" train --text "$T" --tokenizer "$M" --config depth=3 --out "$TMP/x"
fails_with sft_bad_template "unknown template 'nope'" "$URIAL" sft -m "$M" --data "$D" --out "$TMP/x" --template nope

# ---- issue 21: malformed "messages" (a crash before), reusing a run directory, a corrupt state,
# divergence, which checkpoints stay
i=0
for v in '"x"' 1 null true '{"role":"user"}'; do
    i=$((i + 1))
    printf '{"messages":%s}\n' "$v" >"$TMP/msg.jsonl"
    fails_with "sft_messages_not_array_$i" 'msg.jsonl:1: "messages" must be an array' \
        "$URIAL" sft -m "$M" --data "$TMP/msg.jsonl" --out "$TMP/msg"
done
small=(-m "$M" --data "$D" --batch 3 --samples 0 --quiet -t 1)
before=$(wc -l <"$O/log.jsonl")
fails_after_plan sft_refuses_existing_run "overfit: holds a run already \(state.gguf\): --resume continues it, --overwrite starts over" \
    "$URIAL" sft "${small[@]}" --max-steps 1 --out "$O"
[ "$(wc -l <"$O/log.jsonl")" = "$before" ] && [ -f "$O/epoch-150.gguf" ] && pass sft_existing_run_untouched ||
    fail sft_existing_run_untouched "log.jsonl now $(wc -l <"$O/log.jsonl") lines, was $before"
mkdir -p "$TMP/empty"
fails_after_plan sft_resume_without_state "empty/state.gguf: no training state to resume" \
    "$URIAL" sft "${small[@]}" --max-steps 1 --out "$TMP/empty" --resume
ok sft_empty_dir_accepted "$URIAL" sft "${small[@]}" --max-steps 1 --out "$TMP/empty"
cp -r "$O" "$TMP/over"
if "$URIAL" sft "${small[@]}" --max-steps 1 --out "$TMP/over" --overwrite >/dev/null 2>"$TMP/err" &&
    [ "$(grep -c '"loss"' "$TMP/over/log.jsonl")" = 1 ] && [ ! -f "$TMP/over/epoch-150.gguf" ]; then
    pass sft_overwrite_starts_over
else
    fail sft_overwrite_starts_over "$(tail -1 "$TMP/err")"
fi
# a state with bytes changed in its tensors (NaNs written over adam.v) is refused
cp -r "$TMP/b" "$TMP/corrupt"
sz=$(stat -c %s "$TMP/corrupt/state.gguf")
printf '\377\377\377\377\377\377\377\377' | dd of="$TMP/corrupt/state.gguf" bs=1 seek=$((sz - 64)) conv=notrunc 2>/dev/null
fails_after_plan sft_corrupt_state_refused "corrupt/state.gguf: checksum mismatch: the training state is corrupt" \
    "$URIAL" sft "${args[@]}" --out "$TMP/corrupt" --resume
# a base with NaN weights: the first step's loss is NaN; the run stops naming the step, no checkpoint
cp "$M" "$TMP/nan.gguf"
sz=$(stat -c %s "$TMP/nan.gguf")
head -c 256 /dev/zero | tr '\0' '\377' | dd of="$TMP/nan.gguf" bs=1 seek=$((sz - 4096)) conv=notrunc 2>/dev/null
fails_after_plan sft_nan_stops "step 1: the (loss|gradient norm) is nan: training diverged" \
    "$URIAL" sft -m "$TMP/nan.gguf" --data "$D" --batch 3 --samples 0 --quiet -t 1 --epochs 2 --out "$TMP/nan"
ls "$TMP/nan"/*.gguf >/dev/null 2>&1 && fail sft_nan_no_checkpoint "$(ls "$TMP/nan")" || pass sft_nan_no_checkpoint
# --keep: last keeps the newest checkpoint only; best the one with the lowest dev loss
keep=(-m "$M" --data "$D" --dev-split 2 --batch 2 --epochs 4 --lr 3e-3 --samples 0 --quiet -t 1)
"$URIAL" sft "${keep[@]}" --out "$TMP/k-all" >/dev/null 2>&1
"$URIAL" sft "${keep[@]}" --keep last --out "$TMP/k-last" >/dev/null 2>&1
[ "$(cd "$TMP/k-all" && ls epoch-*.gguf | tr '\n' ' ')" = "epoch-001.gguf epoch-002.gguf epoch-003.gguf epoch-004.gguf " ] &&
    pass keep_all_default || fail keep_all_default "$(ls "$TMP/k-all")"
[ "$(cd "$TMP/k-last" && ls epoch-*.gguf | tr '\n' ' ')" = "epoch-004.gguf " ] && pass keep_last ||
    fail keep_last "$(ls "$TMP/k-last")"
"$URIAL" sft "${keep[@]}" --lr 5e-2 --keep best --out "$TMP/k-best" >/dev/null 2>&1
want=$(jq -s -r 'min_by(.dev_loss) | .file' "$TMP/k-best/checkpoints.jsonl" 2>/dev/null)
[ -n "$want" ] && [ "$(cd "$TMP/k-best" && ls epoch-*.gguf | tr '\n' ' ')" = "$want " ] && pass keep_best ||
    fail keep_best "want $want, have $(ls "$TMP/k-best")"
fails_after_plan keep_best_needs_dev "--keep best needs dev data" \
    "$URIAL" sft "${small[@]}" --max-steps 1 --keep best --out "$TMP/k-nodev"
