#!/usr/bin/env bash
# urial serve as a process, and the remote backend (--backend openai) against it, on
# a small random-weight model with the Llama-2 vocabulary: the port read back from
# the start line (--port 0), urial run over the server giving the local greedy
# outputs (just-eval items and two-turn MT-Bench questions, several requests in
# flight), resume, urial chat over the server equal to local (turn by turn), the
# OpenAI Node SDK and the chat page in headless Chromium (when node and the npm
# packages are installed), one-line errors, and SIGTERM stopping the server.
source "$(dirname "$0")/lib.sh"
V=$FIX/tokenizer/llama-spm/vocab-llama-spm.gguf
JE=$FIX/just-eval/just-eval-instruct.Llama-2-7b-chat-hf.json
MT=$FIX/urial/mt-bench-question.jsonl
BROWSER=$(cd "$(dirname "$0")/../browser" && pwd)
"$URIAL" serve --help | grep -q "usage: urial serve" && pass help_serve || fail help_serve
"$URIAL" --help | grep -q "^  serve " && pass listed_serve || fail listed_serve
"$URIAL" run --help | grep -q -- "--backend local|openai|openai-chat" && pass help_run_backend || fail help_run_backend
fails_with serve_needs_model "serve: -m MODEL is required" "$URIAL" serve
fails_with run_backend_needs_url "run: --backend openai needs --base-url" "$URIAL" run -m x --data x --out x --backend openai
fails_with run_backend_bad "--backend 'vllm': give local, openai or openai-chat" "$URIAL" run -m x --data x --out x --backend vllm
if [ ! -f "$V" ] || [ ! -f "$JE" ]; then
    skip serve_suite "no fixtures at $FIX"
    exit 0
fi
M=$TMP/m.gguf
"$URIAL" synth --vocab "$V" --ctx 4096 --dim 64 --layers 2 --heads 4 --kv-heads 2 --ff 128 --type q8_0 --scale 0.3 \
    "$M" --seed 5 >/dev/null 2>&1 || { fail synth "cannot write the test model"; exit 0; }

# start a server on a free port; SRV_PID and PORT are set, the server is killed on exit
start_server() {
    serve_bg "$TMP/serve.err" -m "$M" -t 1 "$@"
}
trap '[ -n "${SRV_PID:-}" ] && kill $SRV_PID 2>/dev/null; rm -rf "$TMP"' EXIT
start_server --parallel 3
if [ -z "$PORT" ]; then
    fail serve_starts "$(cat "$TMP/serve.err")"
    exit 0
fi
pass serve_starts
URL=http://127.0.0.1:$PORT/v1
# GET PATH from the server with bash's /dev/tcp (no curl needed)
http_get() {
    exec 3<>"/dev/tcp/127.0.0.1/$PORT" || return 1
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$1" >&3
    cat <&3
    exec 3<&-
}
http_get /health | grep -q '"status":"ok"' && pass health || fail health

# records as "id turn output" lines sorted by id and turn (remote records come in finishing order)
outs() {
    while IFS= read -r l; do
        id=$(grep -oE '^\{"id":[0-9]+' <<<"$l" | grep -oE '[0-9]+$')
        turn=$(grep -oE '"turn":[0-9]+' <<<"$l" | grep -oE '[0-9]+$')
        printf '%s %s %s\n' "$id" "${turn:-0}" "$(grep -oE '"output":"([^"\\]|\\.)*"' <<<"$l")"
    done <"$1" | sort -n -k1,1 -k2,2
}

# ---- urial run: remote greedy outputs equal the local ones ------------------------------------
RUN=(run -m "$M" --data "$JE" --limit 12 -n 24)
"$URIAL" "${RUN[@]}" -t 1 --out "$TMP/local.jsonl" 2>/dev/null
"$URIAL" "${RUN[@]}" --backend openai --base-url "$URL" --concurrency 3 --out "$TMP/remote.jsonl" 2>"$TMP/r.err"
rc=$?
n=$(grep -c '' "$TMP/remote.jsonl")
if [ $rc = 0 ] && [ "$n" = 12 ] && [ "$(outs "$TMP/remote.jsonl")" = "$(outs "$TMP/local.jsonl")" ] &&
    [ "$(outs "$TMP/local.jsonl" | cut -d' ' -f3- | sort -u | wc -l)" -gt 5 ] &&
    grep -q '"config":{"model":"m","backend":"openai","prompt":"urial-k3"' "$TMP/remote.jsonl" &&
    grep -q '"generator":"m+urial-k3"' "$TMP/remote.jsonl"; then
    pass run_remote_equals_local
else
    fail run_remote_equals_local "rc $rc, $n records: $(tail -n 2 "$TMP/r.err")"
fi
"$URIAL" "${RUN[@]}" --backend openai --base-url "$URL" --out "$TMP/remote.jsonl" 2>"$TMP/r2.err"
[ $? = 0 ] && grep -q "12 already in .*, 0 to generate" "$TMP/r2.err" && pass run_remote_resume ||
    fail run_remote_resume "$(cat "$TMP/r2.err")"
# the server's cached prefix: every request but the first reuses it
grep -q '"cached_tokens":1[0-9][0-9][0-9]' "$TMP/remote.jsonl" && pass run_remote_prefix_cached || fail run_remote_prefix_cached
if [ -f "$MT" ]; then
    "$URIAL" run -t 1 -m "$M" --data "$MT" --limit 3 -n 12 --out "$TMP/mtl.jsonl" 2>/dev/null
    "$URIAL" run -m "$M" --data "$MT" --limit 3 -n 12 --backend openai --base-url "$URL" --concurrency 4 \
        --out "$TMP/mtr.jsonl" 2>"$TMP/mt.err"
    rc=$?
    [ $rc = 0 ] && [ "$(grep -c '"turn":2' "$TMP/mtr.jsonl")" = 3 ] && [ "$(outs "$TMP/mtr.jsonl")" = "$(outs "$TMP/mtl.jsonl")" ] &&
        pass run_remote_mt_bench_turns || fail run_remote_mt_bench_turns "rc $rc: $(tail -n 2 "$TMP/mt.err")"
else
    skip run_remote_mt_bench_turns "no $MT"
fi
# ---- urial chat: two turns over the server equal two local turns ----------------------------------
printf 'Hello there\nWhat is 2+2?\n' | "$URIAL" chat -t 1 -m "$M" -n 12 >"$TMP/cl.out" 2>/dev/null
printf 'Hello there\nWhat is 2+2?\n' | "$URIAL" chat -m "$M" -n 12 --backend openai --base-url "$URL" >"$TMP/cr.out" 2>"$TMP/cr.err"
rc=$?
# the second turn reuses the first turn's KV cache on the server
c2=$(grep -oE '[0-9]+ cached' "$TMP/cr.err" | sed -n 2p | grep -oE '[0-9]+')
[ $rc = 0 ] && [ "$(grep -c '' "$TMP/cr.out")" = 2 ] && cmp -s "$TMP/cl.out" "$TMP/cr.out" && [ "${c2:-0}" -gt 1355 ] &&
    pass chat_remote_equals_local || fail chat_remote_equals_local "rc $rc: $(cat "$TMP/cr.err")"

# a closed port: the item fails (after --retries), the run says so and exits 1
"$URIAL" run -m "$M" --data "$JE" --limit 1 --backend openai --base-url "http://127.0.0.1:9/v1" --retries 0 \
    --out "$TMP/closed.jsonl" >/dev/null 2>"$TMP/closed.err"
rc=$?
[ $rc = 1 ] && grep -q "run: item 0 failed: http://127.0.0.1:9/v1/completions: .*(retries exhausted)" "$TMP/closed.err" &&
    [ ! -s "$TMP/closed.jsonl" ] && pass run_remote_closed_port || fail run_remote_closed_port "rc $rc: $(cat "$TMP/closed.err")"

# ---- the OpenAI Node SDK, and the chat page in headless Chromium ---------------------------------
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if command -v node >/dev/null && [ -d "$BROWSER/node_modules/openai" ]; then
    node "$BROWSER/serve_sdk.mjs" "$URL"
else
    skip openai_sdk "node or the npm package openai not installed (cd tests/browser && npm ci)"
fi
if command -v node >/dev/null && [ -x "$CHROMIUM" ] && [ -d "$BROWSER/node_modules/playwright-core" ]; then
    CHROMIUM=$CHROMIUM node "$BROWSER/serve_chat.mjs" "http://127.0.0.1:$PORT/" "$TMP/chat.png"
else
    skip browser_chat "node, playwright-core or chromium ($CHROMIUM) not installed"
fi

# ---- SIGTERM: the server stops cleanly -----------------------------------------------------
kill -TERM $SRV_PID
wait $SRV_PID
rc=$?
SRV_PID=
[ $rc = 0 ] && grep -q "urial: SIGTERM: stopping" "$TMP/serve.err" && pass serve_sigterm || fail serve_sigterm "rc $rc"

# ---- issue 21: slowloris on loopback, bounded: 40 connections sending their headers one byte every
# 0.25 s (each would take 15 s) against --max-connections 30 and --header-timeout 1.5: they are cut
# at their deadline, and a normal request made during the attack is answered within seconds
SLOW_HDR=$'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'
slow_client() {
    exec 3<>"/dev/tcp/127.0.0.1/$PORT" 2>/dev/null || return
    for ((i = 0; i < ${#SLOW_HDR}; i++)); do
        printf '%s' "${SLOW_HDR:i:1}" >&3 2>/dev/null || break
        sleep 0.25
    done
    exec 3>&-
}
# a normal request with a time limit: prints the answer
timed_get() {
    timeout "$1" bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && printf "GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3 && cat <&3' "$PORT"
}
start_server --max-connections 30 --max-client-connections 100 --header-timeout 1.5
slow=()
for _ in $(seq 1 40); do
    slow_client &
    slow+=($!)
done
sleep 1
# a client as clients are: a reset connection is tried again (every 0.3 s, for 6 s at most)
t0=$(date +%s.%N)
ok_during=0
for _ in $(seq 1 20); do
    timed_get 2 2>/dev/null | grep -q '"status":"ok"' && { ok_during=1; break; }
    sleep 0.3
done
t1=$(date +%s.%N)
alive=0
for p in "${slow[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
kill "${slow[@]}" 2>/dev/null
wait "${slow[@]}" 2>/dev/null
if [ $ok_during = 1 ] && awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 6) }'; then
    pass slowloris_normal_request_served
else
    fail slowloris_normal_request_served "answered $ok_during, after $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s"
fi
timed_get 5 2>/dev/null | grep -q '"status":"ok"' && pass slowloris_serves_after || fail slowloris_serves_after
kill $SRV_PID 2>/dev/null
wait $SRV_PID 2>/dev/null
# per-client limit: 3 connections from one address at most; a 4th is refused while they are open
start_server --max-client-connections 3
slow=()
for _ in 1 2 3; do
    slow_client &
    slow+=($!)
done
sleep 0.5
timed_get 3 2>/dev/null | grep -q '"status":"ok"' && fail client_limit_refuses "a 4th connection was served" || pass client_limit_refuses
kill "${slow[@]}" 2>/dev/null
wait "${slow[@]}" 2>/dev/null
sleep 0.3
timed_get 5 | grep -q '"status":"ok"' && pass client_limit_frees || fail client_limit_frees
kill $SRV_PID 2>/dev/null
wait $SRV_PID 2>/dev/null
# the key from a file; a warning when listening beyond loopback without a key
printf 'sekret\n' >"$TMP/key"
start_server --api-key-file "$TMP/key"
resp=$(timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && printf "GET /v1/models HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Bearer sekret\r\n\r\n" >&3 && cat <&3' "$PORT")
bad=$(timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && printf "GET /v1/models HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3 && cat <&3' "$PORT")
grep -q '"object":"list"' <<<"$resp" && grep -q "invalid_api_key" <<<"$bad" && grep -q "API key required" "$TMP/serve.err" &&
    pass api_key_file || fail api_key_file "$resp $bad"
kill $SRV_PID 2>/dev/null
wait $SRV_PID 2>/dev/null
SRV_PID=
: >"$TMP/nokey"
fails_with api_key_file_empty "serve: --api-key-file .*nokey: the first line is empty" \
    "$URIAL" serve -m "$M" --port 0 --api-key-file "$TMP/nokey"
"$URIAL" serve -m "$M" --port 0 -t 1 --host 0.0.0.0 2>"$TMP/open.err" &
pid=$!
for _ in $(seq 1 100); do grep -q "serving" "$TMP/open.err" && break; sleep 0.05; done
kill $pid 2>/dev/null
wait $pid 2>/dev/null
grep -q "urial: warning: serving on 0.0.0.0 without an API key" "$TMP/open.err" && pass open_host_warns ||
    fail open_host_warns "$(cat "$TMP/open.err")"
"$URIAL" serve -m "$M" --port 0 -t 1 --api-key k 2>"$TMP/argv.err" &
pid=$!
for _ in $(seq 1 100); do grep -q "serving" "$TMP/argv.err" && break; sleep 0.05; done
kill $pid 2>/dev/null
wait $pid 2>/dev/null
grep -q "urial: note: --api-key shows the key to every user of this machine" "$TMP/argv.err" && pass api_key_argv_note ||
    fail api_key_argv_note "$(cat "$TMP/argv.err")"
