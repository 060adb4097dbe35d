#!/usr/bin/env bash
# urial run --format fastchat: MT-Bench answers in FastChat's model_answer JSONL (what
# fastchat/llm_judge reads): exactly the fields question_id (the question's, same JSON
# type), answer_id (22 characters of shortuuid's alphabet), model_id, choices [{index 0,
# turns: both answers}], tstamp (a number); sorted by question_id; the answers equal a
# plain run's turn records; kill -9 and resume gives the same file (tstamp aside);
# one-line errors.
source "$(dirname "$0")/lib.sh"
V=$FIX/tokenizer/llama-spm/vocab-llama-spm.gguf
MT=$FIX/urial/mt-bench-question.jsonl
JE=$FIX/just-eval/just-eval-instruct.Llama-2-7b-chat-hf.json
"$URIAL" run --help | grep -q -- "--format records|fastchat" && pass help_format || fail help_format
if [ ! -f "$V" ] || [ ! -f "$MT" ]; then
    skip fastchat_suite "no fixtures at $FIX"
    exit 0
fi
M=$TMP/m.gguf
"$URIAL" synth --vocab "$V" --ctx 4096 --dim 64 --layers 2 --heads 4 --kv-heads 2 --ff 128 --type q8_0 --scale 0.3 \
    "$M" --seed 5 >/dev/null 2>&1 || { fail synth "cannot write the test model"; exit 0; }
# the questions in reverse order: the answer file must still come sorted by question_id
head -6 "$MT" | tac >"$TMP/q.jsonl"
RUN=(run -m "$M" --data "$TMP/q.jsonl" -n 10 -t 1)
F=$TMP/model_answer/m.jsonl
mkdir -p "$TMP/model_answer"
"$URIAL" "${RUN[@]}" --format fastchat --out "$F" 2>"$TMP/err" && pass runs || fail runs "$(tail -2 "$TMP/err")"
grep -q "6 questions with every turn answered in .*m.jsonl (FastChat)" "$TMP/err" && pass says_written ||
    fail says_written "$(tail -1 "$TMP/err")"
[ "$(grep -c '' "$F")" = 6 ] && pass one_line_per_question || fail one_line_per_question "$(grep -c '' "$F") lines"
shape=$(jq -c '[keys_unsorted, (.question_id|type), (.answer_id|type), (.answer_id|length), (.model_id|type),
                (.choices|length), (.choices[0]|keys_unsorted), .choices[0].index, (.choices[0].turns|length),
                ([.choices[0].turns[]|type]|unique), (.tstamp|type)]' "$F" | sort -u)
want='[["question_id","answer_id","model_id","choices","tstamp"],"number","string",22,"string",1,["index","turns"],0,2,["string"],"number"]'
[ "$shape" = "$want" ] && pass fields_and_types || fail fields_and_types "$shape"
jq -r .answer_id "$F" | grep -qvE '^[2-9A-HJ-NP-Za-km-z]{22}$' && fail answer_id_alphabet || pass answer_id_alphabet
[ "$(jq -r .question_id "$F" | tr '\n' ' ')" = "$(jq -r .question_id "$MT" | head -6 | sort -n | tr '\n' ' ')" ] &&
    pass sorted_by_question_id || fail sorted_by_question_id "$(jq -r .question_id "$F" | tr '\n' ' ')"
[ "$(jq -r .model_id "$F" | sort -u)" = "m+urial-k3" ] && pass model_id || fail model_id "$(jq -r .model_id "$F" | sort -u)"
# FastChat's judge reads choices[0].turns[t]; they are the turn records of a plain run
"$URIAL" "${RUN[@]}" --out "$TMP/plain.jsonl" 2>/dev/null
a=$(jq -c '[.question_id, .choices[0].turns[0], .choices[0].turns[1]]' "$F")
b=$(jq -s -c 'group_by(.id)[] | sort_by(.turn) | [.[0].id, .[0].output, .[1].output]' "$TMP/plain.jsonl")
[ "$a" = "$b" ] && [ -n "$a" ] && pass turns_equal_run || fail turns_equal_run "$(diff <(echo "$a") <(echo "$b") | head -5)"
[ -s "$F.turns.jsonl" ] && [ "$(grep -c '' "$F.turns.jsonl")" = 12 ] && pass turn_records_kept || fail turn_records_kept

# kill -9 midway, resume: the same file (tstamp aside); a rerun keeps the answer ids
K=$TMP/k.jsonl
"$URIAL" "${RUN[@]}" --parallel 1 --format fastchat --out "$K" >/dev/null 2>&1 &   # one at a time: a kill lands midway
pid=$!
for _ in $(seq 1 3000); do
    [ -f "$K.turns.jsonl" ] && [ "$(grep -c '' "$K.turns.jsonl")" -ge 3 ] && break
    sleep 0.01
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
at_kill=$(grep -c '' "$K.turns.jsonl")
"$URIAL" "${RUN[@]}" --format fastchat --out "$K" >/dev/null 2>"$TMP/k.err"
rc=$?
if [ "$at_kill" -lt 12 ] && [ $rc = 0 ] && [ "$(jq -c 'del(.tstamp)' "$K")" = "$(jq -c 'del(.tstamp)' "$F")" ]; then
    pass kill9_resume_same_answers
else
    fail kill9_resume_same_answers "killed at $at_kill, rc $rc: $(tail -2 "$TMP/k.err")"
fi
# only the first turn
"$URIAL" "${RUN[@]}" --format fastchat --mt-turns 1 --out "$TMP/one.jsonl" 2>/dev/null
[ "$(jq -c '.choices[0].turns|length' "$TMP/one.jsonl" | sort -u)" = 1 ] && pass mt_turns_1 || fail mt_turns_1
fails_with not_mt_bench "--format fastchat needs MT-Bench questions" "$URIAL" run -m "$M" --data "$JE" --format fastchat --out "$TMP/x.jsonl"
fails_with bad_format "records\|fastchat|format" "$URIAL" run -m "$M" --data "$MT" --format csv --out "$TMP/x.jsonl"
