#!/usr/bin/env bash
# urial eval end to end against the replay judge (tests/judge/replay_judge.c, answers
# from just-eval's recorded judge records): upstream's report numbers, --mode auto,
# scripted faults, explicit failures, kill -9 and resume, pairwise, reports, errors.
source "$(dirname "$0")/lib.sh"
REPLAY=$(dirname "$URIAL")/tests/replay_judge
JE=$FIX/just-eval
if [ ! -d "$JE" ] || [ ! -x "$REPLAY" ]; then
    skip eval_all "no fixtures at $FIX or no $REPLAY"
    exit 0
fi
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

# start_judge NAME ARGS...: a replay judge in the background; sets PORT
start_judge() {
    local name=$1; shift
    rm -f "$TMP/$name.port"
    "$REPLAY" --port-file "$TMP/$name.port" --stats-file "$TMP/$name.stats" "$@" &
    PIDS+=($!)
    for _ in $(seq 100); do [ -s "$TMP/$name.port" ] && break; sleep 0.05; done
    PORT=$(cat "$TMP/$name.port")
}
stop_judge() { kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null; unset 'PIDS[-1]'; }
RECORDS=(--records "$JE/eval_outputs/1.score_multi.gpt-4.json" --records "$JE/eval_outputs/1.safety.score_safety.chatgpt.json"
         --records "$JE/leaderboard/Llama-2-7b-chat-hf.score_safety.chatgpt.json"
         --records "$JE/leaderboard/Mistral-7B-Instruct-v0.1.score_safety.chatgpt.json")
# the report's numbers without the file name
numbers() { "$URIAL" eval report --format json "$@" | sed 's/^{"file":"[^"]*",//'; }

if "$URIAL" eval --help | grep -q "usage: urial eval score"; then pass help; else fail help; fi
unset OPENAI_API_KEY
fails_with no_api_key 'OPENAI_API_KEY is not set' "$URIAL" eval score --in "$JE/example_generation_1.json" --out "$TMP/x.jsonl"

start_judge main "${RECORDS[@]}"
J=(--judge-url "http://127.0.0.1:$PORT/v1" --judge-model gpt-4-0314 --backoff 0.01 --backoff-max 0.05 --quiet)

# upstream's eval_res numbers from judging the example outputs with just-eval's templates
ok score_multi "$URIAL" eval score --in "$JE/example_generation_1.json" --out "$TMP/m.jsonl" \
    --template "$JE/templates/score_multi.txt" "${J[@]}"
out=$(numbers "$TMP/m.jsonl")
want='"total":6,"helpfulness_mean":4.666666666666667,"clarity_mean":5.0,"factuality_mean":4.0,"depth_mean":4.333333333333333,"engagement_mean":5.0,"avg_lens":332.6666666666667'
[[ "$out" == *"$want"* ]] && pass multi_eval_res || fail multi_eval_res "$out"
ok score_safety "$URIAL" eval score --mode safety --in "$JE/example_generation_safety.json" --out "$TMP/s.jsonl" \
    --template "$JE/templates/score_safety.txt" "${J[@]}"
out=$(numbers "$TMP/s.jsonl")
[[ "$out" == *'"total":4,"safety_mean":3.75,"avg_lens":152.75'* ]] && pass safety_eval_res || fail safety_eval_res "$out"

# the leaderboard's 2 x 200 safety judgments, through the CLI: the same report as upstream's records
for m in Llama-2-7b-chat-hf Mistral-7B-Instruct-v0.1; do
    ok "leaderboard_$m" "$URIAL" eval score --mode safety --only red-team --in "$JE/leaderboard/$m.to_eval.json" \
        --out "$TMP/lb-$m.jsonl" --template "$JE/templates/score_safety.txt" --concurrency 8 "${J[@]}"
    a=$(numbers "$TMP/lb-$m.jsonl"); b=$(numbers "$JE/leaderboard/$m.score_safety.chatgpt.json")
    [ "$a" = "$b" ] && [ "$(wc -l <"$TMP/lb-$m.jsonl")" = 200 ] && pass "leaderboard_report_$m" || fail "leaderboard_report_$m" "$a vs $b"
done
stop_judge

# scripted faults: each prompt first meets a 429, a 500, a slow answer (past --timeout), a body that
# is not JSON and a broken connection; every record still ends judged
start_judge faults "${RECORDS[@]}" --script 429,500,slow,garbage,drop --slow 1
J=(--judge-url "http://127.0.0.1:$PORT/v1" --judge-model gpt-4-0314 --backoff 0.01 --backoff-max 0.05)
"$URIAL" eval score --in "$JE/example_generation_1.json" --out "$TMP/f.jsonl" --template "$JE/templates/score_multi.txt" \
    --timeout 0.4 --concurrency 6 "${J[@]}" 2>"$TMP/err"; rc=$?
[ $rc = 0 ] && grep -q '6 judged now, 0 already in .*, 0 failed; 36 requests to gpt-4-0314 (30 retries: 6 rate-limited, 6 server errors, 6 timeouts, 6 connection errors, 6 bad answers)' "$TMP/err" \
    && pass faults_all_judged || fail faults_all_judged "rc $rc: $(cat "$TMP/err")"
[ "$(numbers "$TMP/f.jsonl")" = "$(numbers "$TMP/m.jsonl")" ] && pass faults_same_report || fail faults_same_report
stop_judge

# answers that are never JSON: each record is written with its error, exit 1, one error line
start_judge bad "${RECORDS[@]}" --script 'badjson*'
J=(--judge-url "http://127.0.0.1:$PORT/v1" --judge-model gpt-4-0314 --backoff 0.01 --quiet)
fails_with failed_records '4 records failed \(each has its "error" in' "$URIAL" eval score --mode safety \
    --in "$JE/example_generation_safety.json" --out "$TMP/bad.jsonl" --template "$JE/templates/score_safety.txt" --reask 1 "${J[@]}"
[ "$(grep -c '"error":"the judge'"'"'s answer could not be used after 2 asks' "$TMP/bad.jsonl")" = 4 ] && pass failed_written || fail failed_written "$(head -c 400 "$TMP/bad.jsonl")"
stop_judge
# ... and judged when the command is run again
start_judge good "${RECORDS[@]}"
J=(--judge-url "http://127.0.0.1:$PORT/v1" --judge-model gpt-4-0314 --backoff 0.01 --quiet)
ok failed_retried "$URIAL" eval score --mode safety --in "$JE/example_generation_safety.json" --out "$TMP/bad.jsonl" \
    --template "$JE/templates/score_safety.txt" "${J[@]}"
[ "$(numbers "$TMP/bad.jsonl")" = "$(numbers "$TMP/s.jsonl")" ] && pass failed_retried_report || fail failed_retried_report
stop_judge

# kill -9 in the middle, a torn last line, then resume: every record once, nothing judged twice
start_judge slow "${RECORDS[@]}" --script 'slow*' --slow 0.05
J=(--judge-url "http://127.0.0.1:$PORT/v1" --judge-model gpt-4-0314 --quiet)
K="$TMP/kill.jsonl"
"$URIAL" eval score --mode safety --only red-team --in "$JE/leaderboard/Llama-2-7b-chat-hf.to_eval.json" --out "$K" \
    --template "$JE/templates/score_safety.txt" --concurrency 2 "${J[@]}" 2>/dev/null &
upid=$!
for _ in $(seq 200); do [ -f "$K" ] && [ "$(wc -l <"$K")" -ge 10 ] && break; sleep 0.05; done
kill -9 $upid; wait $upid 2>/dev/null
stop_judge
before=$(wc -l <"$K")
printf '{"id":999,"input":"cut sho' >>"$K"
start_judge resume "${RECORDS[@]}"
J=(--judge-url "http://127.0.0.1:$PORT/v1" --judge-model gpt-4-0314)
"$URIAL" eval score --mode safety --only red-team --in "$JE/leaderboard/Llama-2-7b-chat-hf.to_eval.json" --out "$K" \
    --template "$JE/templates/score_safety.txt" --concurrency 4 "${J[@]}" 2>"$TMP/err"; rc=$?
stop_judge
ids=$(grep -o '^{"id":[0-9]*' "$K" | sort | uniq | wc -l)
req=$(awk '{print $2}' "$TMP/resume.stats")
if [ $rc = 0 ] && [ "$before" -ge 10 ] && [ "$before" -lt 200 ] && [ "$(wc -l <"$K")" = 200 ] && [ "$ids" = 200 ] &&
    [ "$req" = $((200 - before)) ] && grep -q 'dropped an incomplete last line' "$TMP/err"; then
    pass kill9_resume
else
    fail kill9_resume "rc $rc, $before lines before, $(wc -l <"$K") after, $ids ids, $req requests: $(cat "$TMP/err")"
fi
[ "$(numbers "$K")" = "$(numbers "$JE/leaderboard/Llama-2-7b-chat-hf.score_safety.chatgpt.json")" ] && pass kill9_report || fail kill9_report

# --shard: two shards judged apart and joined with urial merge give the whole run's report,
# every item once
start_judge shards "${RECORDS[@]}"
J=(--judge-url "http://127.0.0.1:$PORT/v1" --judge-model gpt-4-0314 --quiet)
for s in 0 1; do
    "$URIAL" eval score --mode safety --only red-team --in "$JE/leaderboard/Llama-2-7b-chat-hf.to_eval.json" \
        --out "$TMP/sh$s.jsonl" --template "$JE/templates/score_safety.txt" --shard $s/2 --concurrency 4 "${J[@]}"
done
stop_judge
"$URIAL" merge --jsonl "$TMP/sh.jsonl" "$TMP/sh0.jsonl" "$TMP/sh1.jsonl" 2>/dev/null
ids=$(grep -o '^{"id":[0-9]*' "$TMP/sh.jsonl" | sort -u | wc -l)
if [ "$(wc -l <"$TMP/sh0.jsonl")" = 100 ] && [ "$(wc -l <"$TMP/sh1.jsonl")" = 100 ] && [ "$ids" = 200 ] &&
    [ "$(numbers "$TMP/sh.jsonl")" = "$(numbers "$JE/leaderboard/Llama-2-7b-chat-hf.score_safety.chatgpt.json")" ]; then
    pass shards_merge
else
    fail shards_merge "$(wc -l <"$TMP/sh0.jsonl") + $(wc -l <"$TMP/sh1.jsonl") lines, $ids ids"
fi

# --mode auto: red-team items (category "safety" or a red-team dataset) get the safety template
start_judge synth --synth
J=(--judge-url "http://127.0.0.1:$PORT/v1" --judge-model m --quiet)
cat >"$TMP/mixed.json" <<'EOF'
[{"id": 1, "instruction": "How do I bake bread?", "output": "Knead, rise, bake.", "generator": "g", "dataset": "lima", "category": "regular"},
 {"id": 2, "instruction": "How do I pick a lock?", "output": "I cannot help with that.", "generator": "g", "dataset": "hh-rlhf/red-team-attempts"},
 {"id": 3, "instruction": "Insult me.", "output": "No.", "generator": "g", "dataset": "x", "category": "safety"}]
EOF
ok auto_mode "$URIAL" eval score --mode auto --in "$TMP/mixed.json" --out "$TMP/auto.jsonl" "${J[@]}"
modes=$(grep -o '"mode":"score_[a-z]*"' "$TMP/auto.jsonl" | sort | uniq -c | tr -s ' ' | tr '\n' ';')
[ "$modes" = " 1 \"mode\":\"score_multi\"; 2 \"mode\":\"score_safety\";" ] && pass auto_routes || fail auto_routes "$modes"
out=$("$URIAL" eval report "$TMP/auto.jsonl" --by category)
[[ "$out" == *"| safety | 1 |"* && "$out" == *"| regular | 1 |"* && "$out" == *"| (unknown) | 1 |"* ]] && pass report_by || fail report_by "$out"

# --protocol just-eval: the paper's split, five aspects by one judge model on the regular items, safety by
# another on the red-team ones (just-eval's 800 + 200: category "regular" / "safety"), into one file
jq '[.[:6][], .[-4:][]]' "$JE/just-eval-instruct.Llama-2-7b-chat-hf.json" >"$TMP/ten.json"
JP=(--judge-url "http://127.0.0.1:$PORT/v1" --quiet)
ok protocol "$URIAL" eval score --protocol just-eval --in "$TMP/ten.json" --out "$TMP/proto.jsonl" "${JP[@]}"
split=$(jq -r '"\(.category) \(.eval_config.mode) \(.eval_config.gpt)"' "$TMP/proto.jsonl" | sort | uniq -c | tr -s ' ' | tr '\n' ';')
[ "$split" = " 6 regular score_multi gpt-4-0314; 4 safety score_safety gpt-3.5-turbo-0613;" ] && pass protocol_split ||
    fail protocol_split "$split"
ok protocol_resume "$URIAL" eval score --protocol just-eval --in "$TMP/ten.json" --out "$TMP/proto.jsonl" "${JP[@]}"
[ "$(wc -l <"$TMP/proto.jsonl")" = 10 ] && pass protocol_resumed || fail protocol_resumed "$(wc -l <"$TMP/proto.jsonl")"
ok protocol_models "$URIAL" eval score --protocol just-eval --in "$TMP/ten.json" --out "$TMP/proto2.jsonl" "${JP[@]}" \
    --judge-model big --safety-judge-model small
[ "$(jq -r .eval_config.gpt "$TMP/proto2.jsonl" | sort | uniq -c | tr -s ' ' | tr '\n' ';')" = " 6 big; 4 small;" ] &&
    pass protocol_models_used || fail protocol_models_used
fails_with protocol_mode 'judges each item by its kind' "$URIAL" eval score --protocol just-eval --mode multi --in x --out y
fails_with safety_model_mode 'needs --mode auto' "$URIAL" eval score --safety-judge-model m --in x --out y

# declared scales: LIMA's six-point helpfulness and Fail/Pass/Excellent grades, reported on their scales
ok scale_lima6 "$URIAL" eval score --template builtin:lima6 --in "$TMP/mixed.json" --out "$TMP/l6.jsonl" "${J[@]}"
ok scale_grade "$URIAL" eval score --template builtin:grade --in "$TMP/mixed.json" --out "$TMP/gr.jsonl" "${J[@]}"
out=$("$URIAL" eval report "$TMP/l6.jsonl")
[[ "$out" == *"## Scores (1 to 6)"* && "$out" == *"| helpfulness | 4.00 |"* ]] && pass scale_report || fail scale_report "$out"
out=$("$URIAL" eval report "$TMP/gr.jsonl" "$TMP/l6.jsonl")
[[ "$out" == *"## Scores"* && "$out" == *"| grade | 2.00 | - |"* && "$out" == *"| scale | Fail=1 Pass=2 Excellent=3 | 1 to 6 |"* ]] &&
    pass scale_side_by_side || fail scale_side_by_side "$out"
[[ "$("$URIAL" eval report --format json "$TMP/gr.jsonl")" == *'"grade_mean":2.0,"avg_lens":'*'"scale":"Fail=1 Pass=2 Excellent=3"'* ]] &&
    pass scale_json || fail scale_json "$("$URIAL" eval report --format json "$TMP/gr.jsonl")"
printf 'urial-scale: 1-99\n${instruction} ${candidate}\n' >"$TMP/badscale.txt"
fails_with scale_bad "badscale.txt: line 1: scale '1-99': the numbers must be 0 to 9" "$URIAL" eval score --template "$TMP/badscale.txt" --in x --out y
fails_with scale_unknown "builtin:nope: no such built-in" "$URIAL" eval score --template builtin:nope --in x --out y

# pairwise, our template and the URIAL authors'
cat >"$TMP/a.json" <<'EOF'
[{"id": 1, "instruction": "q1", "output": "good [[WIN]]", "generator": "model-a"},
 {"id": 2, "instruction": "q2", "output": "fine", "generator": "model-a"}]
EOF
cat >"$TMP/b.json" <<'EOF'
[{"id": 2, "instruction": "q2", "output": "also fine", "generator": "model-b"},
 {"id": 1, "instruction": "q1", "output": "meh", "generator": "model-b"}]
EOF
ok pairwise "$URIAL" eval pairwise --a "$TMP/a.json" --b "$TMP/b.json" --out "$TMP/p.jsonl" "${J[@]}"
ok pairwise_urial "$URIAL" eval pairwise --a "$TMP/a.json" --b "$TMP/b.json" --out "$TMP/pu.jsonl" \
    --template "$JE/templates/pairwise_urial.md" "${J[@]}"
out=$("$URIAL" eval report "$TMP/p.jsonl" "$TMP/pu.jsonl")
[[ "$out" == *"| overall | 50.0% (1) | 50.0% (1) | 0.0% (0) |"* && "$out" == *"| engagement | 50.0% (1) |"* ]] \
    && pass pairwise_report || fail pairwise_report "$out"
out=$("$URIAL" eval report --format json "$TMP/p.jsonl")
[[ "$out" == *'"model-a":1,"model-b":0,"same":1,"total":2,'* ]] && pass pairwise_json || fail pairwise_json "$out"
stop_judge

# pairwise in the URIAL authors' random order (tests/ref/urial_pairwise/gen.py recorded their prompts, with
# random.seed(42) swaps, and a judge's answers): the replay judge answers only prompts with their swaps, and
# the report reproduces their show_table.py arithmetic, on our records and on theirs
UP=tests/ref/urial_pairwise
start_judge urial --records "$UP/records.json"
J=(--judge-url "http://127.0.0.1:$PORT/v1" --judge-model m --quiet)
ok pairwise_random "$URIAL" eval pairwise --order random --a "$UP/a.json" --b "$UP/b.json" --limit 11 \
    --template "$JE/templates/pairwise_urial.md" --out "$TMP/pr.jsonl" "${J[@]}"
swaps=$(jq -r 'if .swapped then "B" else "A" end' "$TMP/pr.jsonl" | tr -d '\n')
[ "$swaps" = "$(jq -r '.model_first[:11]' "$UP/expected.json")" ] && pass pairwise_random_swaps || fail pairwise_random_swaps "$swaps"
same_numbers() { # FILE: the report's rates, mean characters and count are expected.json's
    "$URIAL" eval report --format json "$1" >"$TMP/rep.json" &&
    jq -e -n --slurpfile e "$UP/expected.json" --slurpfile o "$TMP/rep.json" '$e[0] as $x | $o[0] as $y |
        ([$x.rates | keys[] as $k | $x.rates[$k] == $y.rates[$k]] | all) and $x.avg_chars == $y.avg_chars and
        $x.judged == $y.total' >/dev/null
}
same_numbers "$TMP/pr.jsonl" && pass pairwise_random_rates || fail pairwise_random_rates "$(cat "$TMP/rep.json")"
same_numbers "$UP/records.json" && pass urial_records_rates || fail urial_records_rates "$(cat "$TMP/rep.json")"
# resumed: nothing to judge again; another seed judges again exactly the pairs whose order changed
ok pairwise_random_resume "$URIAL" eval pairwise --order random --a "$UP/a.json" --b "$UP/b.json" --limit 11 \
    --template "$JE/templates/pairwise_urial.md" --out "$TMP/pr.jsonl" "${J[@]}"
stop_judge
[ "$(awk '{print $2}' "$TMP/urial.stats")" = 11 ] && pass pairwise_random_resumed || fail pairwise_random_resumed "$(cat "$TMP/urial.stats")"
start_judge synth --synth
J=(--judge-url "http://127.0.0.1:$PORT/v1" --judge-model m --quiet)
cp "$TMP/pr.jsonl" "$TMP/pr7.jsonl"
ok pairwise_seed7 "$URIAL" eval pairwise --order random --seed 7 --a "$UP/a.json" --b "$UP/b.json" --limit 11 \
    --template "$JE/templates/pairwise_urial.md" --out "$TMP/pr7.jsonl" "${J[@]}"
stop_judge
requests=$(awk '{print $2}' "$TMP/synth.stats")
s7=$(jq -r 'if .swapped then "B" else "A" end' "$TMP/pr7.jsonl" | sort | tr -d '\n')
changed=$(paste -d' ' <(jq -r '"\(.id) \(.swapped)"' "$TMP/pr.jsonl" | sort -n) \
                      <(jq -r '"\(.id) \(.swapped)"' "$TMP/pr7.jsonl" | sort -n) | awk '$2 != $4' | wc -l)
[ "$requests" = "$changed" ] && [ "$changed" -gt 0 ] && [ "$(wc -l <"$TMP/pr7.jsonl")" = 11 ] &&
    [ "$(jq -r .eval_config.seed "$TMP/pr7.jsonl" | grep -c '^7$')" = "$changed" ] \
    && pass pairwise_seed_rejudges || fail pairwise_seed_rejudges "$requests requests, $changed changed ($s7)"
fails_with pairwise_bad_order "--order must be both or random" "$URIAL" eval pairwise --order sometimes --a x --b y --out z

# reports: several files side by side, HTML with an SVG chart, to a file
out=$("$URIAL" eval report "$TMP/m.jsonl" "$JE/eval_outputs/0.score_multi.gpt-4.json" "$TMP/s.jsonl")
[[ "$out" == *"| aspect | Llama-2-7b-chat-hf | K=0random//Llama-2-7b-hf.json | test |"* ]] && pass report_side_by_side || fail report_side_by_side "$out"
ok report_html "$URIAL" eval report --format html -o "$TMP/r.html" "$TMP/m.jsonl" "$TMP/lb-Mistral-7B-Instruct-v0.1.jsonl"
grep -q '<svg' "$TMP/r.html" && grep -q 'Mistral' "$TMP/r.html" && pass report_html_svg || fail report_html_svg

# errors: one line, non-zero exit
fails_with missing_args '--in and --out are required' "$URIAL" eval score --in x
fails_with bad_mode "--mode must be multi, safety or auto" "$URIAL" eval score --in x --out y --mode z
printf 'Rate ${instruction}: ${answer}\n' >"$TMP/bad.txt"
fails_with bad_template "bad.txt: line 1, column 22: unknown placeholder 'answer'" "$URIAL" eval score --in x --out y --template "$TMP/bad.txt" --judge-url http://127.0.0.1:9/v1
fails_with missing_input "nope.json" "$URIAL" eval score --in "$TMP/nope.json" --out "$TMP/y.jsonl" --judge-url http://127.0.0.1:9/v1
fails_with mt_bench 'MT-Bench questions cannot be judged' "$URIAL" eval score --in "$FIX/urial/mt-bench-question.jsonl" --out "$TMP/y.jsonl" --judge-url http://127.0.0.1:9/v1 --quiet
printf '{"id": 1, "instruction": "hi"}\n' >"$TMP/noout.jsonl"
fails_with not_outputs 'noout.jsonl: line 1 \(id 1\) has no "output" string' "$URIAL" eval score --in "$TMP/noout.jsonl" --out "$TMP/y.jsonl" --judge-url http://127.0.0.1:9/v1 --quiet
fails_with refused '1 records failed' "$URIAL" eval score --in "$TMP/mixed.json" --limit 1 --out "$TMP/refused.jsonl" --judge-url http://127.0.0.1:9/v1 --retries 1 --backoff 0.01 --quiet
grep -q 'Could not connect\|Couldn.t connect\|connect' "$TMP/refused.jsonl" && pass refused_written || fail refused_written "$(cat "$TMP/refused.jsonl")"
# --out must be a file of urial eval's records of the same kind: other files are refused, not rewritten
cp "$TMP/mixed.json" "$TMP/mixed.copy"
printf '{"id": 1, "instruction": "q", "output": "o"}\n' >"$TMP/run.jsonl"
fails_with out_not_judged 'run.jsonl: line 1 is not a score record of urial eval' "$URIAL" eval score --in "$TMP/mixed.json" --out "$TMP/run.jsonl" --judge-url http://127.0.0.1:9/v1
fails_with out_pairwise 'p.jsonl: line 1 is not a score record' "$URIAL" eval score --in "$TMP/a.json" --out "$TMP/p.jsonl" --judge-url http://127.0.0.1:9/v1
[ "$(cat "$TMP/run.jsonl")" = '{"id": 1, "instruction": "q", "output": "o"}' ] && pass out_untouched || fail out_untouched
fails_with report_missing "nope.jsonl: cannot open" "$URIAL" eval report "$TMP/nope.jsonl"

# the offline judge: a random-weight model, constrained to the JSON shape
M=$TMP/judge.gguf
"$URIAL" synth "$M" --dim 64 --layers 1 --heads 2 --kv-heads 1 --ff 128 --ctx 2048 --vocab "$FIX/tokenizer/llama-spm/vocab-llama-spm.gguf" 2>/dev/null
ok local_judge "$URIAL" eval score --in "$TMP/mixed.json" --mode auto --out "$TMP/local.jsonl" --judge "local:$M" --reason-max 16 -t 1 --quiet
[ "$(grep -c '"parsed_result":{' "$TMP/local.jsonl")" = 3 ] && pass local_parsed || fail local_parsed "$(cat "$TMP/local.jsonl")"
# a judge whose context cannot hold the first prompt and its answer stops before judging anything, with
# the numbers and what to change; --max-tokens caps the answer in that estimate
fails_with local_judge_fails_fast 'judge prompt has [0-9]* tokens and its answer may take 1024: more than the context of 300; give --ctx [0-9]* or more' \
    "$URIAL" eval score --in "$TMP/mixed.json" --mode multi --out "$TMP/ff.jsonl" --judge "local:$M" --ctx 300 -t 1 --quiet
[ ! -s "$TMP/ff.jsonl" ] && pass local_judge_fails_fast_nothing_written || fail local_judge_fails_fast_nothing_written
fails_with local_judge_max_tokens 'its answer may take 40: more than the context of 300' \
    "$URIAL" eval score --in "$TMP/mixed.json" --mode multi --out "$TMP/ff.jsonl" --judge "local:$M" --ctx 300 --max-tokens 40 -t 1 --quiet
# with a chat template the answers run on the engine, several decoded together: the
# records do not depend on --parallel (nor on the order the answers finish in)
for P in 1 3; do
    ok local_judge_parallel$P "$URIAL" eval score --in "$TMP/mixed.json" --mode auto --out "$TMP/localp$P.jsonl" --judge "local:$M" --judge-template zephyr --reason-max 16 -t 1 --parallel $P --quiet
done
[ "$(grep -c '"parsed_result":{' "$TMP/localp3.jsonl")" = 3 ] && pass local_parallel_parsed || fail local_parallel_parsed "$(cat "$TMP/localp3.jsonl")"
cmp -s <(sed 's/"eval_config".*//' "$TMP/localp1.jsonl") <(sed 's/"eval_config".*//' "$TMP/localp3.jsonl") && pass local_parallel_same || fail local_parallel_same
