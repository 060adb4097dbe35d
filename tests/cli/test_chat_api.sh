#!/usr/bin/env bash
# --backend openai-chat: generation through /v1/chat/completions (the server applies the
# model's chat template), against `urial serve` on a small random-weight model with the
# Llama-2 vocabulary. The server's format for a base model is the default URIAL prompt, so
# greedy answers through the chat API must equal a local `urial run` with that prompt:
# just-eval items and two-turn MT-Bench questions (the second turn sent as the whole
# conversation), records that name the backend and the model, kill -9 midway and resume,
# urial chat over the chat API, and one-line errors.
source "$(dirname "$0")/lib.sh"
V=$FIX/tokenizer/llama-spm/vocab-llama-spm.gguf
JE=$FIX/just-eval/just-eval-instruct.Llama-2-7b-chat-hf.json
MT=$FIX/urial/mt-bench-question.jsonl
"$URIAL" run --help | grep -q -- "--backend local|openai|openai-chat" && pass help_backend || fail help_backend
fails_with needs_url "run: --backend openai-chat needs --base-url" "$URIAL" run -m x --data x --out x --backend openai-chat
fails_with no_urial "run: --backend openai-chat: the server applies the model's chat template" \
    "$URIAL" run -m x --data x --out x --backend openai-chat --urial k3 --base-url http://127.0.0.1:9/v1
fails_with chat_no_template "chat: --backend openai-chat: the server applies" \
    "$URIAL" chat -m x --backend openai-chat --template chatml --base-url http://127.0.0.1:9/v1
fails_with tds_no_chat "--backend openai-chat gives no logprobs" \
    "$URIAL" tds --base x --aligned y --data x --out x --backend openai-chat --base-url http://127.0.0.1:9/v1
if [ ! -f "$V" ] || [ ! -f "$JE" ]; then
    skip chat_api_suite "no fixtures at $FIX"
    exit 0
fi
M=$TMP/m.gguf
"$URIAL" synth --vocab "$V" --ctx 4096 --dim 64 --layers 2 --heads 4 --kv-heads 2 --ff 128 --type q8_0 --scale 0.3 \
    "$M" --seed 5 >/dev/null 2>&1 || { fail synth "cannot write the test model"; exit 0; }
serve_bg "$TMP/serve.err" -m "$M" -t 1 --parallel 3
trap 'kill $SRV_PID 2>/dev/null; rm -rf "$TMP"' EXIT
[ -n "$PORT" ] || { fail serve_starts "$(cat "$TMP/serve.err")"; exit 0; }
URL=http://127.0.0.1:$PORT/v1
outs() { jq -r '"\(.id) \(.turn // 0) \(.output | @json)"' "$1" | sort -n -k1,1 -k2,2; }

RUN=(run -m "$M" --data "$JE" --limit 12 -n 24)
"$URIAL" "${RUN[@]}" -t 1 --out "$TMP/local.jsonl" 2>/dev/null
"$URIAL" "${RUN[@]}" --backend openai-chat --base-url "$URL" --concurrency 3 --out "$TMP/chat.jsonl" 2>"$TMP/r.err"
rc=$?
n=$(grep -c '' "$TMP/chat.jsonl")
if [ $rc = 0 ] && [ "$n" = 12 ] && [ "$(outs "$TMP/chat.jsonl")" = "$(outs "$TMP/local.jsonl")" ] &&
    [ "$(outs "$TMP/local.jsonl" | cut -d' ' -f3- | sort -u | wc -l)" -gt 5 ]; then
    pass run_chat_equals_local
else
    fail run_chat_equals_local "rc $rc, $n records: $(tail -n 2 "$TMP/r.err")"
fi
cfg=$(head -1 "$TMP/chat.jsonl" | jq -c '[.config.model, .config.backend, .config.prompt_kind, .generator]')
[ "$cfg" = '["m","openai-chat","chat-api","m"]' ] && pass records_name_backend_and_model || fail records_name_backend_and_model "$cfg"

# kill -9 midway, then resume: every record once, the same outputs
K=$TMP/k.jsonl
"$URIAL" "${RUN[@]}" --limit 12 --backend openai-chat --base-url "$URL" --concurrency 1 --out "$K" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 3000); do
    [ -f "$K" ] && [ "$(grep -c '' "$K")" -ge 3 ] && break
    sleep 0.01
done
{ kill -9 $pid; wait $pid; } 2>/dev/null
at_kill=$(grep -c '' "$K")
"$URIAL" "${RUN[@]}" --backend openai-chat --base-url "$URL" --out "$K" >/dev/null 2>"$TMP/k.err"
rc=$?
if [ "$at_kill" -ge 3 ] && [ "$at_kill" -lt 12 ] && [ $rc = 0 ] && grep -q "$at_kill already in" "$TMP/k.err" &&
    [ "$(jq -r .id "$K" | sort -n | uniq | wc -l)" = 12 ] && [ "$(grep -c '' "$K")" = 12 ] &&
    [ "$(outs "$K")" = "$(outs "$TMP/local.jsonl")" ]; then
    pass run_chat_kill9_resume
else
    fail run_chat_kill9_resume "killed at $at_kill, rc $rc: $(head -c 300 "$TMP/k.err")"
fi
# a resume with the other backend is refused (the config differs)
fails_with resume_other_backend "generated with another backend \(\"openai-chat\", now \"openai\"\)" "$URIAL" "${RUN[@]}" --backend openai --base-url "$URL" --out "$K"

if [ -f "$MT" ]; then
    "$URIAL" run -t 1 -m "$M" --data "$MT" --limit 3 -n 12 --out "$TMP/mtl.jsonl" 2>/dev/null
    "$URIAL" run -m "$M" --data "$MT" --limit 3 -n 12 --backend openai-chat --base-url "$URL" --concurrency 4 \
        --out "$TMP/mtc.jsonl" 2>"$TMP/mt.err"
    rc=$?
    [ $rc = 0 ] && [ "$(grep -c '"turn":2' "$TMP/mtc.jsonl")" = 3 ] && [ "$(outs "$TMP/mtc.jsonl")" = "$(outs "$TMP/mtl.jsonl")" ] &&
        pass run_chat_mt_bench_turns || fail run_chat_mt_bench_turns "rc $rc: $(tail -n 2 "$TMP/mt.err")"
else
    skip run_chat_mt_bench_turns "no $MT"
fi

printf 'Hello there\nWhat is 2+2?\n' | "$URIAL" chat -t 1 -m "$M" -n 12 >"$TMP/cl.out" 2>/dev/null
printf 'Hello there\nWhat is 2+2?\n' | "$URIAL" chat -m "$M" -n 12 --backend openai-chat --base-url "$URL" \
    >"$TMP/cr.out" 2>"$TMP/cr.err"
rc=$?
[ $rc = 0 ] && [ "$(grep -c '' "$TMP/cr.out")" = 2 ] && cmp -s "$TMP/cl.out" "$TMP/cr.out" && pass chat_equals_local ||
    fail chat_equals_local "rc $rc: $(cat "$TMP/cr.err")"
# a closed port: the item fails after --retries, the run says which URL
"$URIAL" run -m "$M" --data "$JE" --limit 1 --backend openai-chat --base-url "http://127.0.0.1:9/v1" --retries 0 \
    --out "$TMP/closed.jsonl" >/dev/null 2>"$TMP/closed.err"
rc=$?
[ $rc = 1 ] && grep -q "run: item 0 failed: http://127.0.0.1:9/v1/chat/completions: " "$TMP/closed.err" &&
    pass closed_port || fail closed_port "rc $rc: $(cat "$TMP/closed.err")"
