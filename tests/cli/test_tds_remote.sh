#!/usr/bin/env bash
# urial tds --backend openai against urial serve: the base model on the server (it gets
# the base's own sequence: the authors' zero-shot wrapper + the answer), the aligned one
# local. Two random models with the Llama-2 vocabulary (a peaked one as base, answers
# sampled from it at temperature 1, so the base ranks range from 1 to far beyond the top
# 20), ranking the aligned model's top token (the default) and the written one: every
# position's token, aligned top token, class, P_align and top 3 equal the local run's,
# every rank <= K is the local rank and every rank_gt K is a local rank > K, P_base agrees
# to 1e-5 (the server's logprobs are floats; unknown only for a ranked token beyond the
# top K that is not the written one), the full-vocabulary KLs are null, AlignTDS's top-30
# KL is exact with K >= 30, and the summary's class ratios are the local ones;
# --top-logprobs 3 keeps the classes; resume; shards; one-line errors for a closed port,
# a wrong path (404) and a missing --base-url.
source "$(dirname "$0")/lib.sh"
V=$FIX/tokenizer/llama-spm/vocab-llama-spm.gguf
JE=$FIX/just-eval/just-eval-instruct.Llama-2-7b-chat-hf.json
"$URIAL" tds --help | grep -q -- "--top-logprobs K" && pass help_tds_remote || fail help_tds_remote
fails_with tds_remote_needs_url "tds: --backend openai needs --base-url" \
    "$URIAL" tds --base b --aligned x.gguf --data x --out x --backend openai
fails_with tds_remote_bad_k "--top-logprobs" "$URIAL" tds --top-logprobs 2
if [ ! -f "$V" ] || [ ! -f "$JE" ]; then
    skip tds_remote_suite "no fixtures at $FIX"
    exit 0
fi
if ! command -v jq >/dev/null; then
    skip tds_remote_suite "jq is not installed (needed to compare the records)"
    exit 0
fi
SYNTH=(synth --vocab "$V" --ctx 1024 --dim 64 --layers 2 --heads 4 --kv-heads 2 --ff 128 --scale 1.0 --type f16)
"$URIAL" "${SYNTH[@]}" --seed 1 "$TMP/b.gguf" >/dev/null 2>&1 && "$URIAL" "${SYNTH[@]}" --seed 2 "$TMP/a.gguf" >/dev/null 2>&1 ||
    { fail synth "cannot write the test models"; exit 0; }
"$URIAL" run -m "$TMP/b.gguf" -t 1 --template llama-2 --data "$JE" --limit 8 -n 24 --temp 1 --seed 3 \
    --out "$TMP/answers.jsonl" >/dev/null 2>&1 || { fail answers "urial run failed"; exit 0; }

serve_bg "$TMP/serve.err" -m "$TMP/b.gguf" --template llama-2 -t 1 --parallel 2
trap '[ -n "${SRV_PID:-}" ] && kill $SRV_PID 2>/dev/null; rm -rf "$TMP"' EXIT
if [ -z "$PORT" ]; then
    fail serve_starts "$(cat "$TMP/serve.err")"
    exit 0
fi
URL=http://127.0.0.1:$PORT/v1
# the base reads what it answered after (the llama-2 template: --base-prompt same) and the written
# tokens are ranked, so that the ranks spread from 1 to far beyond the top K; the authors' protocol
# (the defaults) is compared too, below
DEF=(tds -t 1 --base "$TMP/b.gguf" --aligned "$TMP/a.gguf" --template llama-2 --data "$JE" --outputs "$TMP/answers.jsonl" --limit 8)
TDS=("${DEF[@]}" --base-prompt same --rank given)
REMOTE=(--backend openai --base-url "$URL" --concurrency 3)
"$URIAL" "${TDS[@]}" --out "$TMP/loc" >/dev/null 2>"$TMP/e0"
"$URIAL" "${TDS[@]}" "${REMOTE[@]}" --out "$TMP/rem" >/dev/null 2>"$TMP/e1"
rc=$?

# mismatches of the remote records against the local ones, position by position (K: --top-logprobs)
compare() {
    jq -n --argjson K "$1" --slurpfile L "$TMP/loc/tokens.jsonl" --slurpfile R "$2" '
      ($L | map({key: (.id | tostring), value: .tokens}) | from_entries) as $l
      | [$R[] | .id as $id | .tokens[] as $r | $l[$id | tostring][$r.pos] as $x
         | select($x == null or $x.token != $r.token or $x.aligned_top != $r.aligned_top or $x.class != $r.class
             or $x.p_align != $r.p_align
             or (if $r.rank == null then ($x.rank <= $K or $r.rank_gt != $K) else $x.rank != $r.rank end)
             or $r.kl_align_base != null or $r.kl_base_align != null
             or (if $r.p_base == null then $r.rank != null or $x.aligned_top == $x.token
                 else (($x.p_base - $r.p_base) | if . < 0 then -. else . end) > 1e-5 * $x.p_base end)
             or ([$x.top[][0]] != [$r.top[][0]]))] | length'
}
n_pos=$(jq -s 'map(.n_tokens) | add' "$TMP/loc/tokens.jsonl")
n_rem=$(jq -s 'map(.n_tokens) | add' "$TMP/rem/tokens.jsonl")
bad=$(compare 20 "$TMP/rem/tokens.jsonl")
n_gt=$(jq -s '[.[].tokens[] | select(.rank == null and .rank_gt == 20)] | length' "$TMP/rem/tokens.jsonl")
n_mid=$(jq -s '[.[].tokens[] | select(.rank != null and .rank > 3)] | length' "$TMP/rem/tokens.jsonl")
if [ $rc = 0 ] && [ "$(wc -l <"$TMP/rem/tokens.jsonl")" = 8 ] && [ "$n_pos" = "$n_rem" ] && [ "$bad" = 0 ] &&
    [ "$n_gt" -gt 0 ] && [ "$n_mid" -gt 0 ] && [ "$n_gt" -lt "$n_pos" ]; then
    pass tds_remote_equals_local
else
    fail tds_remote_equals_local "rc $rc, $n_rem/$n_pos positions, $bad differ, $n_gt beyond top 20, $n_mid exact > 3: $(tail -n 2 "$TMP/e1")"
fi
echo "# tds remote: $n_pos positions, $n_gt beyond the top 20, $n_mid with 3 < rank <= 20"
# the records say where the base was; the summary has the local class ratios and no KL
if grep -q '"config":{"command":"tds","base":"b","backend":"openai","top_logprobs":20,' "$TMP/rem/tokens.jsonl" &&
    [ "$(jq -c '[.counts, .ratios, .first_tokens, .by_position.shifted, .top_shifted, .written_is_aligned_top]' "$TMP/loc/summary.json")" = \
      "$(jq -c '[.counts, .ratios, .first_tokens, .by_position.shifted, .top_shifted, .written_is_aligned_top]' "$TMP/rem/summary.json")" ] &&
    [ "$(jq -c '[.kl.align_base.mean, .kl_available, .ranks_beyond_top_k, .by_bucket[0].mean_kl_align_base]' "$TMP/rem/summary.json")" = "[null,false,$n_gt,null]" ] &&
    grep -q 'KL not available with a remote base' "$TMP/rem/report.html" && grep -q '"rank_gt":20,"no_kl":true' "$TMP/rem/report.html"; then
    pass tds_remote_summary
else
    fail tds_remote_summary "$(head -c 600 "$TMP/rem/summary.json")"
fi

# K = 3: ranks 1-3 exact, everything else "> 3" — the same classes
"$URIAL" "${TDS[@]}" "${REMOTE[@]}" --top-logprobs 3 --out "$TMP/k3" >/dev/null 2>"$TMP/e2"
rc=$?
bad=$(compare 3 "$TMP/k3/tokens.jsonl")
[ $rc = 0 ] && [ "$bad" = 0 ] && [ "$(jq -c .ratios "$TMP/k3/summary.json")" = "$(jq -c .ratios "$TMP/loc/summary.json")" ] &&
    pass tds_remote_top3_classes || fail tds_remote_top3_classes "rc $rc, $bad differ: $(tail -n 1 "$TMP/e2")"

# the defaults (the base reads the authors' zero-shot wrapper, the aligned model's top token is
# ranked): the same agreement with a local run of that protocol
"$URIAL" "${DEF[@]}" --out "$TMP/loc-d" >/dev/null 2>&1
mv "$TMP/loc" "$TMP/loc-s" && cp -r "$TMP/loc-d" "$TMP/loc"
"$URIAL" "${DEF[@]}" "${REMOTE[@]}" --out "$TMP/rem-d" >/dev/null 2>"$TMP/e5"
rc=$?
bad=$(compare 20 "$TMP/rem-d/tokens.jsonl")
[ $rc = 0 ] && [ "$bad" = 0 ] && [ "$(jq -c .ratios "$TMP/rem-d/summary.json")" = "$(jq -c .ratios "$TMP/loc/summary.json")" ] &&
    grep -q '"base_prompt":"aligntds","tokenize":"joint","rank":"aligned"' "$TMP/rem-d/tokens.jsonl" &&
    pass tds_remote_default_protocol || fail tds_remote_default_protocol "rc $rc, $bad differ: $(tail -n 1 "$TMP/e5")"
rm -rf "$TMP/loc" && mv "$TMP/loc-s" "$TMP/loc"

# resume: keep 3 records, rerun; and two shards merged: the records of the whole run
head -n 3 "$TMP/rem/tokens.jsonl" >"$TMP/part" && mkdir -p "$TMP/res" && cp "$TMP/part" "$TMP/res/tokens.jsonl"
"$URIAL" "${TDS[@]}" "${REMOTE[@]}" --out "$TMP/res" >/dev/null 2>"$TMP/e3"
rc=$?
sorted() { sort "$1"; }
[ $rc = 0 ] && grep -q "3 already in" "$TMP/e3" && grep -q "5 to score" "$TMP/e3" &&
    [ "$(sorted "$TMP/res/tokens.jsonl")" = "$(sorted "$TMP/rem/tokens.jsonl")" ] && cmp -s "$TMP/res/summary.json" "$TMP/rem/summary.json" &&
    pass tds_remote_resume || fail tds_remote_resume "rc $rc: $(tail -n 3 "$TMP/e3")"
"$URIAL" "${TDS[@]}" "${REMOTE[@]}" --shard 0/2 --out "$TMP/s0" >/dev/null 2>&1
"$URIAL" "${TDS[@]}" "${REMOTE[@]}" --shard 1/2 --out "$TMP/s1" >/dev/null 2>&1
mkdir -p "$TMP/all"
if "$URIAL" merge --jsonl "$TMP/all/tokens.jsonl" "$TMP/s0/tokens.jsonl" "$TMP/s1/tokens.jsonl" 2>"$TMP/e4" &&
    "$URIAL" tds report "$TMP/all" 2>>"$TMP/e4" && [ "$(sorted "$TMP/all/tokens.jsonl")" = "$(sorted "$TMP/rem/tokens.jsonl")" ] &&
    cmp -s "$TMP/all/summary.json" "$TMP/rem/summary.json" && cmp -s "$TMP/all/report.html" "$TMP/rem/report.html"; then
    pass tds_remote_shards
else
    fail tds_remote_shards "$(cat "$TMP/e4")"
fi
# a local run does not resume a remote one
fails_with tds_remote_other_config "line 1 was made with another base \(\"b\", now \"b.gguf\"\)" "$URIAL" "${TDS[@]}" --out "$TMP/rem"

# errors: one line naming the URL, exit 1 (besides the start line saying what is to be scored)
one_error() { # NAME REGEX CMD...
    local n=$1 re=$2; shift 2
    "$@" >/dev/null 2>"$TMP/err"
    local rc=$?
    grep -v 'KV cache\|items (' "$TMP/err" >"$TMP/err1"
    if [ $rc = 1 ] && [ "$(grep -c '' "$TMP/err1")" = 1 ] && grep -qE -- "$re" "$TMP/err1"; then
        pass "$n"
    else
        fail "$n" "rc $rc: $(cat "$TMP/err")"
    fi
}
one_error tds_remote_closed_port "^urial: tds: item [0-9]+: http://127.0.0.1:9/v1/completions: .*\(retries exhausted\)" \
    "$URIAL" "${TDS[@]}" --backend openai --base-url http://127.0.0.1:9/v1 --retries 0 --out "$TMP/closed"
one_error tds_remote_404 "^urial: tds: http://127.0.0.1:$PORT/nope/completions: HTTP 404" \
    "$URIAL" "${TDS[@]}" --backend openai --base-url "http://127.0.0.1:$PORT/nope" --out "$TMP/404"

kill $SRV_PID 2>/dev/null
wait $SRV_PID 2>/dev/null
SRV_PID=
