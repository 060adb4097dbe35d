#!/usr/bin/env bash
# urial chat, run, merge and bench --urial end to end, on a small random-weight model
# with the Llama-2 vocabulary (so that the URIAL prompt is its real ~1.3k tokens):
# chat over a pipe (turns, /prompt, /reset, a full context), a run over 20
# just-eval instructions, kill -9 and resume, shards merged, the prompt cache
# (loaded, stale, foreign) giving the same outputs as no cache, every input format,
# and one-line errors for bad input.
source "$(dirname "$0")/lib.sh"
V=$FIX/tokenizer/llama-spm/vocab-llama-spm.gguf
JE=$FIX/just-eval/just-eval-instruct.Llama-2-7b-chat-hf.json
MT=$FIX/urial/mt-bench-question.jsonl
for c in chat run merge; do
    if "$URIAL" $c --help | grep -q "usage: urial $c"; then pass "help_$c"; else fail "help_$c"; fi
    "$URIAL" --help | grep -q "^  $c " && pass "listed_$c" || fail "listed_$c"
done
if [ ! -f "$V" ] || [ ! -f "$JE" ]; then
    skip run_suite "no fixtures at $FIX"
    exit 0
fi
M=$TMP/m.gguf
SYNTH=(synth --vocab "$V" --ctx 4096 --dim 64 --layers 2 --heads 4 --kv-heads 2 --ff 128 --type q8_0 --scale 0.3)
"$URIAL" "${SYNTH[@]}" "$M" --seed 5 >/dev/null 2>&1 || { fail synth "cannot write the test model"; exit 0; }

# outputs of a results file (JSONL or merged JSON), one per line, in file order
outputs() { grep -oE '"output": ?"([^"\\]|\\.)*"' "$1" | sed 's/^"output": /"output":/'; }
ids() { grep -oE '^ *\{?"id": ?[0-9]+' "$1" | grep -oE '[0-9]+$'; }
seq_ids() { seq 0 $(($1 - 1)); }

# ---- chat over a pipe: two turns, /prompt, /reset, the same first answer again -------------
printf 'Hello there\nWhat is 2+2?\n/prompt\n/reset\nHello there\n/bogus\n/quit\nnot read\n' |
    "$URIAL" chat -t 1 -m "$M" -n 8 >"$TMP/c.out" 2>"$TMP/c.err"
rc=$?
a1=$(sed -n 1p "$TMP/c.out")
a2=$(sed -n 2p "$TMP/c.out")
last=$(tail -n 1 "$TMP/c.out")
[ $rc = 0 ] && [ -n "$a1" ] && [ "$a1" = "$last" ] && pass chat_reset_same_answer ||
    fail chat_reset_same_answer "rc $rc, first '$a1', after /reset '$last'"
want=$'\n# Query:\n```\nHello there\n```\n\n# Answer:\n```\n'"$a1"$'\n```\n\n# Query:\n```\nWhat is 2+2?\n```\n\n# Answer:\n```\n'"$a2"$'\n```\n'
out=$(cat "$TMP/c.out"; echo x)
[[ "$out" == *"$want"* ]] && [[ "$out" == *"# Guidelines"* ]] && pass chat_prompt_shows_turns ||
    fail chat_prompt_shows_turns "$(head -c 300 "$TMP/c.out")"
# turn 2 starts from turn 1's whole prompt in the KV cache; the prefix is cached from the start
read -r n1 c1 < <(grep -oE 'prompt [0-9]+ tokens, [0-9]+ cached' "$TMP/c.err" | sed -n 1p | grep -oE '[0-9]+' | xargs)
read -r n2 c2 < <(grep -oE 'prompt [0-9]+ tokens, [0-9]+ cached' "$TMP/c.err" | sed -n 2p | grep -oE '[0-9]+' | xargs)
pre=$(grep -oE 'computed the [0-9]+-token prompt prefix' "$TMP/c.err" | grep -oE '[0-9]+')
if [ -n "${c2:-}" ] && [ -n "$pre" ] && [ "$c1" -ge "$pre" ] && [ "$c2" -ge "$n1" ] && [ "$n2" -gt "$n1" ]; then
    pass chat_reuses_kv_across_turns
else
    fail chat_reuses_kv_across_turns "prefix ${pre:-?}, turn 1 ${n1:-?}/${c1:-?}, turn 2 ${n2:-?}/${c2:-?}"
fi
grep -q "urial: new conversation" "$TMP/c.err" && grep -q "unknown command '/bogus'" "$TMP/c.err" &&
    [ "$(wc -l <"$TMP/c.out")" -lt 200 ] && ! grep -q "not read" "$TMP/c.out" && pass chat_commands || fail chat_commands "$(cat "$TMP/c.err")"

# a full context: the answer is cut, the next turn does not fit; /reset and the chat goes on
printf 'Hello there\nWhat is 2+2?\n/reset\nHi\n' | "$URIAL" chat -t 1 -m "$M" -n 100 --ctx 1400 >"$TMP/o.out" 2>"$TMP/o.err"
rc=$?
if [ $rc = 0 ] && grep -q "the context is full (1400 tokens): the answer was cut; /reset" "$TMP/o.err" &&
    grep -q "the prompt has [0-9]* tokens but the context holds 1400: the conversation no longer fits; /reset" "$TMP/o.err" &&
    [ "$(grep -c 'generated at' "$TMP/o.err")" = 2 ] && [ "$(wc -l <"$TMP/o.out")" = 2 ]; then
    pass chat_context_overflow
else
    fail chat_context_overflow "rc $rc: $(cat "$TMP/o.err")"
fi

# ---- run: 20 just-eval instructions --------------------------------------------------------
RUN=(run -t 1 -m "$M" --data "$JE" --limit 20 -n 48)
"$URIAL" "${RUN[@]}" --out "$TMP/ref.jsonl" >"$TMP/r.out" 2>"$TMP/r.err"
rc=$?
n=$(grep -c '' "$TMP/ref.jsonl")
good=$(grep -cE '^\{"id":[0-9]+,"instruction":"[^"]+.*"source_id":"[^"]+","dataset":"[^"]+",.*"output":"([^"\\]|\\.)*","generator":"m\+urial-k3","datasplit":"just_eval","input_index":[0-9]+,"config":\{"model":"m.gguf",.*"prompt":"urial-k3",.*"repeat_penalty":1.1,.*"max_tokens":48\},"stats":\{"prompt_tokens":[0-9]+,"cached_tokens":[0-9]+,"output_tokens":[0-9]+,.*\}\}$' "$TMP/ref.jsonl")
if [ $rc = 0 ] && [ "$n" = 20 ] && [ "$good" = 20 ] && [ "$(ids "$TMP/ref.jsonl")" = "$(seq_ids 20)" ] &&
    grep -q "20 of 20 done (20 generated now, 0 skipped)" "$TMP/r.err" && [ ! -s "$TMP/r.out" ]; then
    pass run_20_records
else
    fail run_20_records "rc $rc, $n lines, $good well-formed: $(tail -n 2 "$TMP/r.err")"
fi
[ "$(outputs "$TMP/ref.jsonl" | sort -u | wc -l)" -gt 5 ] && pass run_outputs_differ || fail run_outputs_differ
cached=$(grep -oE '"cached_tokens":[0-9]+' "$TMP/ref.jsonl" | sort -u)
[ "$cached" = "\"cached_tokens\":$pre" ] && pass run_reuses_prefix || fail run_reuses_prefix "$cached (prefix $pre)"
cp "$TMP/ref.jsonl" "$TMP/ref.keep"
"$URIAL" "${RUN[@]}" --out "$TMP/ref.jsonl" >/dev/null 2>"$TMP/r2.err"
rc=$?
[ $rc = 0 ] && cmp -s "$TMP/ref.jsonl" "$TMP/ref.keep" && grep -q "20 already in .*, 0 to generate" "$TMP/r2.err" &&
    pass run_rerun_is_noop || fail run_rerun_is_noop "$(cat "$TMP/r2.err")"

# ---- kill -9 midway, then resume: the same ids, no duplicates, the same outputs ------------
K=$TMP/k.jsonl
"$URIAL" "${RUN[@]}" --out "$K" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 3000); do
    [ -f "$K" ] && [ "$(grep -c '' "$K")" -ge 4 ] && break
    sleep 0.01
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
at_kill=$(grep -c '' "$K")
printf '{"id":17,"instruction":"a record cut sh' >>"$K" # as if the crash had hit a write
"$URIAL" "${RUN[@]}" --out "$K" >/dev/null 2>"$TMP/k.err"
rc=$?
if [ "$at_kill" -ge 4 ] && [ "$at_kill" -lt 20 ] && [ $rc = 0 ] && grep -q "dropped an incomplete last line (39 bytes" "$TMP/k.err" &&
    [ "$(ids "$K")" = "$(seq_ids 20)" ] && [ "$(outputs "$K")" = "$(outputs "$TMP/ref.jsonl")" ]; then
    pass run_kill9_resume
else
    fail run_kill9_resume "killed at $at_kill lines, rc $rc, $(grep -c '' "$K") lines: $(head -c 300 "$TMP/k.err")"
fi

# ---- shards 0/2 + 1/2 of the first 8 items, merged, equal the unsharded run's first 8 -----------
"$URIAL" "${RUN[@]}" --limit 8 --shard 0/2 --out "$TMP/s0.jsonl" 2>/dev/null
"$URIAL" "${RUN[@]}" --limit 8 --shard 1/2 --out "$TMP/s1.jsonl" 2>/dev/null
"$URIAL" merge "$TMP/sh.json" "$TMP/s1.jsonl" "$TMP/s0.jsonl" 2>"$TMP/m.err"
rc=$?
"$URIAL" merge "$TMP/all.json" "$TMP/ref.jsonl" 2>/dev/null
if [ $rc = 0 ] && [ "$(ids "$TMP/s0.jsonl" | xargs)" = "0 2 4 6" ] && [ "$(ids "$TMP/s1.jsonl" | xargs)" = "1 3 5 7" ] &&
    [ "$(ids "$TMP/sh.json")" = "$(seq_ids 8)" ] && [ "$(outputs "$TMP/sh.json")" = "$(outputs "$TMP/all.json" | head -n 8)" ] &&
    grep -q "merge: 8 records from 2 files written to" "$TMP/m.err"; then
    pass shards_merge_equal_unsharded
else
    fail shards_merge_equal_unsharded "rc $rc: $(cat "$TMP/m.err")"
fi
# the merged file is a JSON array in just-eval's format: our own dataset reader takes it back
"$URIAL" run -t 1 -m "$M" --data "$TMP/all.json" --out "$TMP/none.jsonl" --limit 0 >/dev/null 2>"$TMP/back.err"
[ "$(head -c 1 "$TMP/all.json")" = "[" ] && grep -q "all.json: 20 items (just-eval)" "$TMP/back.err" &&
    pass merge_output_reads_back || fail merge_output_reads_back "$(cat "$TMP/back.err")"
"$URIAL" merge "$TMP/dup.json" "$TMP/ref.jsonl" "$TMP/k.jsonl" 2>"$TMP/d.err"
[ $? = 0 ] && grep -q "dropped 20 repeated records" "$TMP/d.err" && [ "$(ids "$TMP/dup.json")" = "$(seq_ids 20)" ] &&
    pass merge_dedups || fail merge_dedups "$(cat "$TMP/d.err")"
sed -n 3p "$TMP/ref.jsonl" | sed 's/"output":"/"output":"CHANGED /' >"$TMP/conflict.jsonl"
fails_with merge_conflict "merge: id 2 is in .*ref.jsonl \\(line 3\\) and .*conflict.jsonl \\(line 1\\) with different outputs" \
    "$URIAL" merge "$TMP/c.json" "$TMP/ref.jsonl" "$TMP/conflict.jsonl"
{ head -n 2 "$TMP/ref.jsonl"; printf '{"id":5,"out'; } >"$TMP/torn.jsonl"
"$URIAL" merge "$TMP/t.json" "$TMP/torn.jsonl" 2>"$TMP/t.err"
[ $? = 0 ] && grep -q "ignored an incomplete last line" "$TMP/t.err" && [ "$(ids "$TMP/t.json" | xargs)" = "0 1" ] &&
    pass merge_ignores_torn_line || fail merge_ignores_torn_line "$(cat "$TMP/t.err")"

# ---- --parallel: answers decoded together are byte for byte the ones decoded alone, in the same file
# order; greedy (the reference run used the default, 8) and sampled (each item's own seed) ---------
"$URIAL" "${RUN[@]}" --parallel 1 --out "$TMP/par1.jsonl" 2>/dev/null
"$URIAL" "${RUN[@]}" --parallel 3 --out "$TMP/par3.jsonl" 2>"$TMP/par3.err"
RS=(run -t 1 -m "$M" --data "$JE" --limit 12 -n 24 --temp 0.8 --top-p 0.9 --seed 7)
"$URIAL" "${RS[@]}" --parallel 1 --out "$TMP/ps1.jsonl" 2>/dev/null
"$URIAL" "${RS[@]}" --parallel 5 --out "$TMP/ps5.jsonl" 2>/dev/null
strip_stats() { sed 's/,"stats":{[^}]*}}$/}/' "$1"; }
if [ "$(strip_stats "$TMP/par1.jsonl")" = "$(strip_stats "$TMP/ref.jsonl")" ] &&
    [ "$(strip_stats "$TMP/par3.jsonl")" = "$(strip_stats "$TMP/ref.jsonl")" ] && grep -q "3 answers decoded together" "$TMP/par3.err" &&
    [ "$(strip_stats "$TMP/ps1.jsonl")" = "$(strip_stats "$TMP/ps5.jsonl")" ] && [ "$(grep -c '' "$TMP/ps5.jsonl")" = 12 ]; then
    pass parallel_byte_identical
else
    fail parallel_byte_identical "$(cat "$TMP/par3.err")"
fi
fails_with parallel_no_cache "--no-prefix-cache computes every prompt alone" "$URIAL" "${RUN[@]}" --parallel 2 --no-prefix-cache --out "$TMP/x.jsonl"

# ---- prefix cache: in memory, on disk (written, loaded, stale, foreign) and none: same outputs --
want=$(outputs "$TMP/ref.jsonl" | head -n 2)
R4=(run -t 1 -m "$M" --data "$JE" --limit 2 -n 48)
"$URIAL" "${R4[@]}" --out "$TMP/nc.jsonl" --no-prefix-cache 2>/dev/null
[ "$(outputs "$TMP/nc.jsonl")" = "$want" ] && grep -q '"cached_tokens":0,' "$TMP/nc.jsonl" &&
    pass no_prefix_cache_same_outputs || fail no_prefix_cache_same_outputs
"$URIAL" "${R4[@]}" --out "$TMP/p1.jsonl" --prompt-cache "$TMP/pc" 2>"$TMP/p1.err"
kv=$(ls "$TMP"/pc/m.urial-k3.*.kv 2>/dev/null)
"$URIAL" "${R4[@]}" --out "$TMP/p2.jsonl" --prompt-cache "$TMP/pc" 2>"$TMP/p2.err"
if [ -f "$kv" ] && [ "$(outputs "$TMP/p1.jsonl")" = "$want" ] && [ "$(outputs "$TMP/p2.jsonl")" = "$want" ] &&
    grep -q "computed the $pre-token prompt prefix" "$TMP/p1.err" && grep -q "loaded the $pre-token prompt prefix from $kv" "$TMP/p2.err" &&
    ! grep -q "computed" "$TMP/p2.err"; then
    pass prompt_cache_same_outputs
else
    fail prompt_cache_same_outputs "$(cat "$TMP/p1.err" "$TMP/p2.err")"
fi
printf 'garbage' | dd of="$kv" bs=1 seek=100000 conv=notrunc 2>/dev/null
"$URIAL" "${R4[@]}" --out "$TMP/p3.jsonl" --prompt-cache "$TMP/pc" 2>"$TMP/p3.err"
[ "$(grep -c 'prompt cache ignored' "$TMP/p3.err")" = 1 ] && grep -q "prompt cache ignored: $kv: checksum mismatch .*; recomputing the prefix" "$TMP/p3.err" &&
    [ "$(outputs "$TMP/p3.jsonl")" = "$want" ] && pass prompt_cache_corrupt_ignored || fail prompt_cache_corrupt_ignored "$(cat "$TMP/p3.err")"
"$URIAL" "${R4[@]}" --out "$TMP/p4.jsonl" --prompt-cache "$TMP/pc" 2>"$TMP/p4.err"
grep -q "loaded the" "$TMP/p4.err" && pass prompt_cache_rewritten || fail prompt_cache_rewritten "$(cat "$TMP/p4.err")"
"$URIAL" "${SYNTH[@]}" "$M" --seed 6 >/dev/null 2>&1 # another model under the same name
"$URIAL" "${R4[@]}" --out "$TMP/p5.jsonl" --prompt-cache "$TMP/pc" 2>"$TMP/p5.err"
grep -q "prompt cache ignored: $kv: written for a different model file than $M; recomputing the prefix" "$TMP/p5.err" &&
    pass prompt_cache_foreign_model || fail prompt_cache_foreign_model "$(cat "$TMP/p5.err")"
"$URIAL" "${SYNTH[@]}" "$M" --seed 5 >/dev/null 2>&1 # back to the first model for what follows

# ---- input formats -------------------------------------------------------------------------------
printf '[{"instruction": "Name a color.", "dataset": "toy"}, {"instruction": "Say hi."}, {"instruction": "Count to 3."}]' >"$TMP/ae.json"
"$URIAL" run -t 1 -m "$M" --data "$TMP/ae.json" --out "$TMP/ae.jsonl" -n 4 2>"$TMP/ae.err"
[ $? = 0 ] && [ "$(ids "$TMP/ae.jsonl" | xargs)" = "0 1 2" ] && grep -q '^{"id":0,"instruction":"Name a color.","dataset":"toy","output":' "$TMP/ae.jsonl" &&
    grep -q "3 items (alpaca-eval)" "$TMP/ae.err" && pass format_alpaca_eval || fail format_alpaca_eval "$(cat "$TMP/ae.err")"
printf '{"id": "q-a", "instruction": "One?"}\n\n{"id": "q-b", "instruction": "Two?", "extra": [1, 2]}\n' >"$TMP/p.jsonl"
"$URIAL" run -t 1 -m "$M" --data "$TMP/p.jsonl" --out "$TMP/po.jsonl" -n 4 --template llama-2 2>"$TMP/p.err"
[ $? = 0 ] && grep -q '^{"id":"q-b","instruction":"Two?","extra":\[1,2\],"output":' "$TMP/po.jsonl" &&
    grep -q '"generator":"m","input_index":1,"config":{[^}]*"prompt":"llama-2","prompt_kind":"template","temp":0.0,[^}]*"repeat_penalty":1.0,' "$TMP/po.jsonl" &&
    grep -q "2 items (jsonl)" "$TMP/p.err" && pass format_jsonl_template || fail format_jsonl_template "$(cat "$TMP/p.err") $(head -c 400 "$TMP/po.jsonl")"
if [ -f "$MT" ]; then
    "$URIAL" run -t 1 -m "$M" --data "$MT" --limit 2 --out "$TMP/mt.jsonl" -n 8 2>"$TMP/mt.err"
    rc=$?
    keys=$(grep -oE '"turn":[0-9]' "$TMP/mt.jsonl" | tr '\n' ' ')
    a81=$(sed -n 1p "$TMP/mt.jsonl" | grep -oE '"output":"([^"\\]|\\.)*"' | sed 's/^"output"://')
    if [ $rc = 0 ] && [ "$keys" = '"turn":1 "turn":2 "turn":1 "turn":2 ' ] && grep -q "4 turns in this selection" "$TMP/mt.err" &&
        sed -n 2p "$TMP/mt.jsonl" | grep -qF '"history":[{"role":"user","content":"Compose an engaging travel blog post' &&
        sed -n 2p "$TMP/mt.jsonl" | grep -qF "{\"role\":\"assistant\",\"content\":$a81}]" &&
        sed -n 2p "$TMP/mt.jsonl" | grep -q '^{"id":81,"question_id":81,"category":"writing","instruction":"Rewrite your previous response.'; then
        pass format_mt_bench_two_turns
    else
        fail format_mt_bench_two_turns "rc $rc, turns '$keys': $(cat "$TMP/mt.err")"
    fi
    # resume between the turns: turn 2 of question 82 is generated again from turn 1's recorded answer
    cp "$TMP/mt.jsonl" "$TMP/mt.keep"
    head -n 3 "$TMP/mt.keep" >"$TMP/mt.jsonl"
    "$URIAL" run -t 1 -m "$M" --data "$MT" --limit 2 --out "$TMP/mt.jsonl" -n 8 2>"$TMP/mt2.err"
    [ $? = 0 ] && grep -q "3 already in .*, 1 to generate" "$TMP/mt2.err" && [ "$(outputs "$TMP/mt.jsonl")" = "$(outputs "$TMP/mt.keep")" ] &&
        pass mt_bench_resume_turn2 || fail mt_bench_resume_turn2 "$(cat "$TMP/mt2.err")"
else
    skip format_mt_bench_two_turns "no $MT"
fi

# ---- bench --urial: time to first token with and without the cached prefix -------------------------
last=$("$URIAL" bench -t 1 -m "$M" --urial urial-k3 --json | tail -n 1)
case "$last" in
*'"prefix_tokens":'"$pre"',"query_tokens":'*'"ttft_uncached_ms":'*'"ttft_cached_ms":'*) pass bench_ttft_json ;;
*) fail bench_ttft_json "$last" ;;
esac

# ---- bad input: one line naming the file and what is wrong --------------------------------------
fails_with run_missing_data "urial: $TMP/nope.json: cannot read dataset: No such file" "$URIAL" run -t 1 -m "$M" --data "$TMP/nope.json" --out "$TMP/x.jsonl"
printf '[{"id": 1, "instruction": "a"},]' >"$TMP/bad.json"
fails_with run_invalid_json "urial: $TMP/bad.json: not valid JSON: .*line 1" "$URIAL" run -t 1 -m "$M" --data "$TMP/bad.json" --out "$TMP/x.jsonl"
printf '{"id": 1, "instruction": "a"}\n{"id": 2, "prompt": "b"}\n' >"$TMP/noins.jsonl"
fails_with run_no_instruction "urial: $TMP/noins.jsonl: line 2 has no \"instruction\" string" "$URIAL" run -t 1 -m "$M" --data "$TMP/noins.jsonl" --out "$TMP/x.jsonl"
fails_with run_bad_shard "--shard '2/2' is not I/N" "$URIAL" run -t 1 -m "$M" --data "$JE" --out "$TMP/x.jsonl" --shard 2/2
fails_with run_missing_args "-m MODEL, --data FILE and --out FILE are required" "$URIAL" run -t 1 -m "$M" --data "$JE"
fails_with run_both_formats "either --urial or --template" "$URIAL" run -t 1 -m "$M" --data "$JE" --out "$TMP/x.jsonl" --urial urial-k1 --template zephyr
fails_with run_cache_conflict "contradict" "$URIAL" run -t 1 -m "$M" --data "$JE" --out "$TMP/x.jsonl" --no-prefix-cache --prompt-cache "$TMP/pc"
fails_with run_config_changed "ref.jsonl: line 1 was generated with another repeat_penalty \\(1.1, now 1.2\\); use another --out" \
    "$URIAL" "${RUN[@]}" --out "$TMP/ref.jsonl" --repeat-penalty 1.2
printf '{"id": 0, "instruction": "Not the same instruction."}\n' >"$TMP/other.jsonl"
fails_with run_other_dataset "ae.jsonl: line 1 \\(id 0\\) answers another instruction than the dataset's item with that id" \
    "$URIAL" run -t 1 -m "$M" --data "$TMP/other.jsonl" --out "$TMP/ae.jsonl" -n 4
printf '{"id":0,"output":"x"}\nnot json\n' >"$TMP/garbage.jsonl"
fails_with run_damaged_out "garbage.jsonl: line 2 is not valid JSON" "$URIAL" "${RUN[@]}" --out "$TMP/garbage.jsonl"
fails_with merge_missing "urial: $TMP/nope.jsonl: cannot open results file" "$URIAL" merge "$TMP/o.json" "$TMP/nope.jsonl"
fails_with merge_no_inputs "give OUT.json and at least one results file" "$URIAL" merge "$TMP/o.json"
fails_with chat_no_model "chat: -m MODEL is required" "$URIAL" chat
fails_with bench_query_needs_urial "--query needs --urial" "$URIAL" bench -m "$M" --query hi
