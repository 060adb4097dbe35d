#!/usr/bin/env bash
# The URIAL paper's baselines as prompt kinds (docs/baselines.md), end to end: urial prompt
# renders each byte for byte as the authors' src/adapt_utils.py does (zero-shot, the
# paper-era URIAL format on their prompt file, retrieval ICL); urial run with retrieval on
# a random-weight model with the Llama-2 vocabulary (records carry the retrieved ids,
# never the item itself; the config carries kind, pool hash and k), kill -9 and resume,
# two shards merged equal to the unsharded run, a resume with another kind refused;
# prefix decoding (records keep prefix and continuation, output = prefix + " " +
# continuation); tds with the zero-shot base prompt; chat with --zero-shot; one-line
# errors for bad input and for the commands where a baseline makes no sense.
source "$(dirname "$0")/lib.sh"
V=$FIX/tokenizer/llama-spm/vocab-llama-spm.gguf
JE=$FIX/just-eval/just-eval-instruct.Llama-2-7b-chat-hf.json
AT=$FIX/aligntds/Llama-2-7b-chat-hf.json
P1K=$FIX/urial/prompts/inst_1k.txt
for c in prompt run chat serve tds; do
    "$URIAL" $c --help >"$TMP/h" 2>&1
    if grep -q -- "--zero-shot" "$TMP/h" && grep -q -- "--urial-format backticks|legacy" "$TMP/h" &&
        grep -q -- "--prefix-from FILE" "$TMP/h" && grep -q -- "--retrieve POOL" "$TMP/h"; then
        pass "help_$c"
    else
        fail "help_$c" "the baseline options are not in urial $c --help"
    fi
done

# ---- zero-shot: f"# Query: \n ```{in_text}``` \n\n \n# Answer: \n ``` " (adapt_utils.py) ---------
"$URIAL" prompt --zero-shot --query "How do I boil an egg?" >"$TMP/z" 2>"$TMP/e"
printf '# Query: \n ```How do I boil an egg?``` \n\n \n# Answer: \n ``` ' >"$TMP/z.want"
cmp -s "$TMP/z" "$TMP/z.want" && [ ! -s "$TMP/e" ] && pass prompt_zero_shot_bytes || fail prompt_zero_shot_bytes "$(od -c "$TMP/z" | head -3)"

# the demo's own URIAL prompt in the paper's format: PROMPT + "\n# Query:\n```" + q + "```\n\n# Answer:\n```\n"
"$URIAL" prompt --urial data/demo/urial-demo.txt --urial-format legacy --query "Hi" >"$TMP/l" 2>/dev/null
{ cat data/demo/urial-demo.txt; printf '\n# Query:\n```Hi```\n\n# Answer:\n```\n'; } >"$TMP/l.want"
cmp -s "$TMP/l" "$TMP/l.want" && pass prompt_legacy_demo || fail prompt_legacy_demo "$(tail -c 80 "$TMP/l" | od -c | tail -4)"
"$URIAL" prompt --urial data/demo/urial-demo.txt --urial-format backticks --query "Hi" >"$TMP/b1"
"$URIAL" prompt --urial data/demo/urial-demo.txt --query "Hi" >"$TMP/b2"
cmp -s "$TMP/b1" "$TMP/b2" && pass prompt_backticks_is_default || fail prompt_backticks_is_default

fails_with legacy_with_template "prompt: --urial-format is for a URIAL prompt, not --template" \
    "$URIAL" prompt --template zephyr --urial-format legacy --query q
fails_with zero_shot_and_urial "prompt: give one of --urial, --template, --zero-shot and --retrieve, not --urial and --zero-shot" \
    "$URIAL" prompt --urial urial-k0 --zero-shot --query q
fails_with k_without_retrieve "prompt: --k is for --retrieve POOL" "$URIAL" prompt --k 2 --query q
fails_with k_zero "option --k: '0' is not an integer in \[1, 64\]" "$URIAL" prompt --retrieve x.json --k 0 --query q
fails_with missing_pool "$TMP/nope.jsonl: cannot read retrieval pool" "$URIAL" prompt --retrieve "$TMP/nope.jsonl" --query q
printf '{"instruction":"a","output":"x"}\n{"instruction":"b"}\n' >"$TMP/noout.jsonl"
fails_with pool_without_output "noout.jsonl: item 1 \(id 1\) has no \"output\" string" \
    "$URIAL" prompt --retrieve "$TMP/noout.jsonl" --query q
fails_with prefix_words_missing "prompt: --prefix-from .* needs --prefix-words K" "$URIAL" prompt --prefix-from x --query q
fails_with prefix_words_zero "option --prefix-words: '0' is not an integer" "$URIAL" prompt --prefix-from x --prefix-words 0 --query q
fails_with prefix_missing_file "$TMP/none.json: cannot read aligned outputs" \
    "$URIAL" prompt --prefix-from "$TMP/none.json" --prefix-words 3 --query q
fails_with chat_refuses_prefix "chat: --prefix-from cannot be used here: a chat has no aligned answers" \
    "$URIAL" chat -m x.gguf --prefix-from y --prefix-words 3
fails_with serve_refuses_prefix "serve: --prefix-from cannot be used here" \
    "$URIAL" serve -m x.gguf --prefix-from y --prefix-words 3

if [ ! -f "$V" ] || [ ! -f "$JE" ] || [ ! -f "$AT" ] || [ ! -f "$P1K" ]; then
    skip baselines_suite "no fixtures at $FIX"
    exit 0
fi

# the authors' own prompt file in their paper-era format
"$URIAL" prompt --urial "$P1K" --urial-format legacy --query "What is URIAL?" >"$TMP/l1k"
{ cat "$P1K"; printf '\n# Query:\n```What is URIAL?```\n\n# Answer:\n```\n'; } >"$TMP/l1k.want"
cmp -s "$TMP/l1k" "$TMP/l1k.want" && pass prompt_legacy_inst_1k || fail prompt_legacy_inst_1k

# ---- retrieval: the just-eval file as the pool (its index goes next to it) ---------------------
POOL=$TMP/pool.json
cp "$JE" "$POOL"
Q="What are the names of some famous actors that started their careers on Broadway?"
"$URIAL" prompt --retrieve "$POOL" --k 2 --query "$Q" >"$TMP/r" 2>"$TMP/r.err"
rc=$?
n_demo=$(grep -c '^ --- $' "$TMP/r")
tailq=$(printf '# Query: \n ```%s ``` \n\n \n# Answer: \n ``` ' "$Q")
if [ $rc = 0 ] && [ "$n_demo" = 2 ] && [ "$(tail -c ${#tailq} "$TMP/r")" = "$tailq" ] && [ -s "$POOL.bm25" ] &&
    grep -q "BM25 index of 1000 items built" "$TMP/r.err" && [ "$(grep -c "$Q" "$TMP/r")" = 1 ] &&
    head -c 16 "$TMP/r" | grep -q '^# Query: $'; then
    pass prompt_retrieve
else
    fail prompt_retrieve "rc $rc, $n_demo examples: $(head -c 300 "$TMP/r.err")"
fi
"$URIAL" prompt --retrieve "$POOL" --k 2 --query "$Q" >"$TMP/r2" 2>"$TMP/r2.err"
cmp -s "$TMP/r" "$TMP/r2" && [ ! -s "$TMP/r2.err" ] && pass retrieve_index_reused ||
    fail retrieve_index_reused "$(cat "$TMP/r2.err")"

# by embeddings: the demo base model's mean-pooled last hidden states
printf '%s\n' '{"id":"a","instruction":"What is a compiler?","output":"A compiler translates code."}' \
    '{"id":"b","instruction":"What is an interpreter?","output":"It runs code."}' \
    '{"id":"c","instruction":"How do I boil an egg?","output":"Boil it."}' >"$TMP/small.jsonl"
"$URIAL" prompt --retrieve "$TMP/small.jsonl" --k 1 --retrieve-embed models/urial-demo-base.gguf \
    --query "What does a compiler do?" >"$TMP/e1" 2>"$TMP/e1.err"
rc=$?
"$URIAL" prompt --retrieve "$TMP/small.jsonl" --k 1 --retrieve-embed models/urial-demo-base.gguf \
    --query "What does a compiler do?" >"$TMP/e2" 2>"$TMP/e2.err"
[ $rc = 0 ] && grep -q "embeddings of 3 items by urial-demo-base.gguf computed" "$TMP/e1.err" && ! grep -q embeddings "$TMP/e2.err" &&
    cmp -s "$TMP/e1" "$TMP/e2" && grep -q '^ ``` What is a compiler?  ``` $' "$TMP/e1" && ls "$TMP"/small.jsonl.emb-* >/dev/null 2>&1 &&
    pass prompt_retrieve_embed || fail prompt_retrieve_embed "rc $rc: $(cat "$TMP/e1.err")"
fails_with embed_without_retrieve "prompt: --retrieve-embed is for --retrieve POOL" \
    "$URIAL" prompt --retrieve-embed models/urial-demo-base.gguf --query q
fails_with embed_missing_model "nope.gguf" \
    "$URIAL" prompt --retrieve "$TMP/small.jsonl" --retrieve-embed "$TMP/nope.gguf" --query q

M=$TMP/m.gguf
"$URIAL" synth --vocab "$V" --ctx 4096 --dim 64 --layers 2 --heads 4 --kv-heads 2 --ff 128 --type q8_0 --scale 0.3 \
    "$M" --seed 5 >/dev/null 2>&1 || { fail synth "cannot write the test model"; exit 0; }
outputs() { grep -oE '"output":"([^"\\]|\\.)*"' "$1"; }
ids() { grep -oE '^\{"id":[0-9]+' "$1" | grep -oE '[0-9]+$'; }

RUN=(run -t 1 -m "$M" --data "$JE" --limit 10 -n 16 --retrieve "$POOL" --k 2)
"$URIAL" "${RUN[@]}" --out "$TMP/ref.jsonl" >/dev/null 2>"$TMP/run.err"
rc=$?
good=$(grep -cE '"generator":"m\+retrieve-k2".*"retrieved":\[[0-9]+,[0-9]+\],.*"config":\{.*"prompt":"retrieve-k2","prompt_kind":"retrieve","pool":"pool.json","pool_hash":"[0-9a-f]{16}","k":2,"retriever":"bm25\(k1=1.2,b=0.75\)",' "$TMP/ref.jsonl")
self=0
while read -r line; do
    id=$(echo "$line" | grep -oE '^\{"id":[0-9]+' | grep -oE '[0-9]+$')
    echo "$line" | grep -qE "\"retrieved\":\[($id,|[0-9]+,$id\])" && self=$((self + 1))
done <"$TMP/ref.jsonl"
if [ $rc = 0 ] && [ "$good" = 10 ] && [ "$self" = 0 ] && [ "$(ids "$TMP/ref.jsonl" | xargs)" = "$(seq 0 9 | xargs)" ]; then
    pass run_retrieve_records
else
    fail run_retrieve_records "rc $rc, $good well-formed, $self retrieved themselves: $(tail -n 2 "$TMP/run.err")"
fi

# kill -9 midway, then resume: the same outputs
K=$TMP/k.jsonl
"$URIAL" "${RUN[@]}" --parallel 1 --out "$K" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 3000); do
    [ -f "$K" ] && [ "$(grep -c '' "$K")" -ge 3 ] && break
    sleep 0.01
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
at_kill=$(grep -c '' "$K")
"$URIAL" "${RUN[@]}" --out "$K" >/dev/null 2>"$TMP/k.err"
rc=$?
if [ "$at_kill" -ge 3 ] && [ "$at_kill" -lt 10 ] && [ $rc = 0 ] && [ "$(ids "$K" | xargs)" = "$(seq 0 9 | xargs)" ] &&
    [ "$(outputs "$K")" = "$(outputs "$TMP/ref.jsonl")" ]; then
    pass run_retrieve_kill9_resume
else
    fail run_retrieve_kill9_resume "killed at $at_kill, rc $rc: $(head -c 300 "$TMP/k.err")"
fi

# two shards merged = the unsharded run
"$URIAL" "${RUN[@]}" --shard 0/2 --out "$TMP/s0.jsonl" 2>/dev/null
"$URIAL" "${RUN[@]}" --shard 1/2 --out "$TMP/s1.jsonl" 2>/dev/null
"$URIAL" merge "$TMP/sh.json" "$TMP/s0.jsonl" "$TMP/s1.jsonl" 2>/dev/null
"$URIAL" merge "$TMP/all.json" "$TMP/ref.jsonl" 2>/dev/null
[ "$(outputs "$TMP/sh.json")" = "$(outputs "$TMP/all.json")" ] && [ "$(grep -c '"retrieved"' "$TMP/sh.json")" = 10 ] &&
    pass run_retrieve_shards || fail run_retrieve_shards

# resuming with another prompt kind, another k or a changed pool is refused
fails_with resume_other_kind "run: .*ref.jsonl: line 1 was generated with another prompt \(\"retrieve-k2\", now \"zero-shot\"\)" \
    "$URIAL" run -t 1 -m "$M" --data "$JE" --limit 10 -n 16 --zero-shot --out "$TMP/ref.jsonl"
fails_with resume_other_k "line 1 was generated with another prompt" \
    "$URIAL" run -t 1 -m "$M" --data "$JE" --limit 10 -n 16 --retrieve "$POOL" --k 3 --out "$TMP/ref.jsonl"
head -c -2 "$JE" >"$TMP/pool2.json" && printf ',{"id":5000,"instruction":"extra","output":"x"}]\n' >>"$TMP/pool2.json"
cp "$TMP/pool2.json" "$POOL"
"$URIAL" "${RUN[@]}" --out "$TMP/ref.jsonl" >/dev/null 2>"$TMP/p.err"
[ $? != 0 ] && grep -q "line 1 was generated with another pool_hash" "$TMP/p.err" && grep -q "rebuilt (the pool" "$TMP/p.err" &&
    pass resume_changed_pool_refused || fail resume_changed_pool_refused "$(cat "$TMP/p.err")"

# ---- prefix decoding: the aligned answers are the just-eval file's ----------------------------
PRE=(run -t 1 -m "$M" --data "$JE" --limit 4 -n 8 --zero-shot --prefix-from "$JE" --prefix-words 5)
"$URIAL" "${PRE[@]}" --out "$TMP/pre.jsonl" >/dev/null 2>"$TMP/pre.err"
rc=$?
n_ok=0
for i in 1 2 3 4; do
    line=$(sed -n ${i}p "$TMP/pre.jsonl")
    p=$(echo "$line" | jq -r .prefix)
    c=$(echo "$line" | jq -r .continuation)
    o=$(echo "$line" | jq -r .output)
    want=$(jq -r ".[$((i - 1))].output" "$JE" | tr '\n' '\1' | cut -d' ' -f1-5 | tr '\1' '\n')
    [ "$p" = "$want" ] && [ "$o" = "$p $c" ] && n_ok=$((n_ok + 1))
done
if [ $rc = 0 ] && [ "$n_ok" = 4 ] && grep -q '"generator":"m+zero-shot+prefix5"' "$TMP/pre.jsonl" &&
    grep -q '"prompt_kind":"zero-shot","prefix_from":"just-eval-instruct.Llama-2-7b-chat-hf.json","prefix_from_hash":"[0-9a-f]*","prefix_words":5' "$TMP/pre.jsonl"; then
    pass run_prefix_records
else
    fail run_prefix_records "rc $rc, $n_ok of 4 right: $(head -c 300 "$TMP/pre.err")"
fi
"$URIAL" prompt --zero-shot --prefix-from "$JE" --prefix-words 5 --query "$Q" >"$TMP/pp"
printf '# Query: \n ```%s``` \n\n \n# Answer: \n ``` Thank you for your question!' "$Q" >"$TMP/pp.want"
cmp -s "$TMP/pp" "$TMP/pp.want" && pass prompt_prefix || fail prompt_prefix "$(tail -c 60 "$TMP/pp")"
fails_with prompt_prefix_unknown_query "prompt: .*just-eval-instruct.Llama-2-7b-chat-hf.json has no answer to the --query" \
    "$URIAL" prompt --prefix-from "$JE" --prefix-words 5 --query "not in the file"
printf '{"id":0,"instruction":"%s","output":"a b c"}\n' "$Q" >"$TMP/one.jsonl"
fails_with run_prefix_missing_id "run: .*one.jsonl: no answer with id 1 \(item 1 of .*just-eval" \
    "$URIAL" run -t 1 -m "$M" --data "$JE" --limit 2 -n 4 --prefix-from "$TMP/one.jsonl" --prefix-words 2 --out "$TMP/x.jsonl"
printf '{"id":0,"instruction":"another","output":"a b c"}\n' >"$TMP/other.jsonl"
fails_with run_prefix_other_instruction "run: .*other.jsonl: the answer with id 0 is to another instruction" \
    "$URIAL" run -t 1 -m "$M" --data "$JE" --limit 1 -n 4 --prefix-from "$TMP/other.jsonl" --prefix-words 2 --out "$TMP/x.jsonl"

# ---- chat and tds --------------------------------------------------------------------------------
printf 'Hello there\n/prompt\n' | "$URIAL" chat -q -t 1 -m "$M" -n 6 --zero-shot >"$TMP/c.out" 2>"$TMP/c.err"
[ $? = 0 ] && grep -q '^# Query: $' "$TMP/c.out" && grep -q '^ ```Hello there``` $' "$TMP/c.out" && pass chat_zero_shot ||
    fail chat_zero_shot "$(head -c 300 "$TMP/c.err")"
"$URIAL" synth --vocab "$V" --ctx 1024 --dim 64 --layers 2 --heads 4 --kv-heads 2 --ff 128 --type f16 --scale 0.3 \
    --seed 2 "$TMP/m2.gguf" >/dev/null 2>&1
TDS=(tds -t 1 --base "$M" --aligned "$TMP/m2.gguf" --data "$AT" --outputs "$AT" --limit 3 -n 8 --ctx 1024)
"$URIAL" "${TDS[@]}" --zero-shot --out "$TMP/tz" >/dev/null 2>"$TMP/tz.err"
rc=$?
[ $rc = 0 ] && grep -q '"base_prompt":"zero-shot"' "$TMP/tz/tokens.jsonl" && [ "$(wc -l <"$TMP/tz/tokens.jsonl")" = 3 ] &&
    pass tds_zero_shot_base || fail tds_zero_shot_base "rc $rc: $(tail -n 2 "$TMP/tz.err")"
fails_with tds_both_base_prompts "tds: give either --base-prompt or --zero-shot, not both" \
    "$URIAL" "${TDS[@]}" --zero-shot --base-prompt plain --out "$TMP/tx"
fails_with tds_refuses_prefix "tds: --prefix-from cannot be used here" \
    "$URIAL" "${TDS[@]}" --prefix-from "$JE" --prefix-words 3 --out "$TMP/tx"
"$URIAL" "${TDS[@]}" --retrieve "$TMP/small.jsonl" --k 1 --out "$TMP/tr" >/dev/null 2>"$TMP/tr.err"
rc=$?
[ $rc = 0 ] && grep -q '"base_prompt":"retrieve-k1","base_prompt_params":{"pool":"small.jsonl","pool_hash":"[0-9a-f]*","k":1,' "$TMP/tr/tokens.jsonl" &&
    [ "$(wc -l <"$TMP/tr/tokens.jsonl")" = 3 ] && pass tds_retrieve_base || fail tds_retrieve_base "rc $rc: $(tail -n 2 "$TMP/tr.err")"
