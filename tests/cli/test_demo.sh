#!/usr/bin/env bash
# The bundled demo models (models/, issue 7) end to end: what urial info says of them, their
# tokenizer against SentencePiece's own ids, the assistant style with URIAL / the SFT twin and
# without URIAL on held-out prompts (urial eval style), and `make demo`'s script with its TDS report.
source "$(dirname "$0")/lib.sh"
source tools/demo_settings.sh   # the demo's models, URIAL prompt and decoding
BASE=$DEMO_BASE CHAT=$DEMO_CHAT
for f in "$BASE" "$CHAT"; do
    [ -s "$f" ] || { fail "models_present" "$f missing"; exit 0; }
done
pass models_present
total=$(( $(stat -c %s "$BASE") + $(stat -c %s "$CHAT") ))
[ "$total" -le $((60 * 1024 * 1024)) ] && pass size_at_most_60mb || fail size_at_most_60mb "$total bytes"

# urial info: shapes, tokenizer, the twin's recorded template, the base has none
"$URIAL" info "$BASE" --json >"$TMP/ib" 2>"$TMP/err" && "$URIAL" info "$CHAT" --json >"$TMP/ic" 2>>"$TMP/err"
if [ "$(jq -r '[.architecture,.n_vocab,.context_length,.n_layers,.dim,.runnable,.chat_template] | @tsv' "$TMP/ib")" = \
     "$(printf 'llama\t4096\t1024\t4\t192\ttrue\t')" ] &&
   [ "$(jq -r '[.n_vocab,.context_length,.runnable,.chat_template.family] | @tsv' "$TMP/ic")" = "$(printf '4096\t1024\ttrue\tzephyr')" ] &&
   [ "$(jq -r .parameters "$TMP/ib")" = "$(jq -r .parameters "$TMP/ic")" ]; then
    pass info
else
    fail info "$(cat "$TMP/ib" "$TMP/ic" "$TMP/err" | head -c 600)"
fi
"$URIAL" info "$CHAT" | grep -q '^chat template: zephyr' && pass info_text_template || fail info_text_template

# the pair records the URIAL prompt and decoding it is meant for (urial defaults): with no options,
# chat decodes as the demo's explicit settings do; an option given still wins
"$URIAL" defaults "$BASE" >"$TMP/def" 2>&1
grep -q '^urial.prompt: ' "$TMP/def" && grep -q '^urial.repeat_penalty: 1.2$' "$TMP/def" &&
    grep -q '^urial.repeat_last_n: 24$' "$TMP/def" && pass defaults_recorded || fail defaults_recorded "$(cat "$TMP/def")"
q='What does "harbor" mean?'
a=$(printf '%s\n' "$q" | "$URIAL" chat -q -m "$BASE" -n 40 -t 1 2>"$TMP/def.err")
b=$(printf '%s\n' "$q" | "$URIAL" chat -q -m "$BASE" --urial "$DEMO_PROMPT" "${DEMO_DEC[@]}" -n 40 -t 1 2>/dev/null)
c=$(printf '%s\n' "$q" | "$URIAL" chat -q -m "$BASE" --repeat-penalty 1 -n 40 -t 1 2>/dev/null)
[ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" != "$c" ] &&
    pass defaults_used || fail defaults_used "[$a] [$b] [$c] $(cat "$TMP/def.err")"
"$URIAL" defaults "$BASE" --clear -o "$TMP/cleared.gguf" 2>/dev/null && "$URIAL" defaults "$TMP/cleared.gguf" | grep -q 'records no defaults' &&
    cmp -s <("$URIAL" logits -m "$BASE" --text "$q" --top 3 2>/dev/null) <("$URIAL" logits -m "$TMP/cleared.gguf" --text "$q" --top 3 2>/dev/null) &&
    pass defaults_cleared || fail defaults_cleared
printf 'hi\n' | "$URIAL" chat -q -m "$BASE" --ctx 2048 -n 2 -t 1 >/dev/null 2>"$TMP/ctx.err"
[ "$(grep -c 'warning: --ctx 2048 is beyond the 1024 tokens' "$TMP/ctx.err")" = 1 ] && pass ctx_beyond_training_warns ||
    fail ctx_beyond_training_warns "$(cat "$TMP/ctx.err")"
fails_with defaults_bad_prompt "unknown URIAL prompt 'urial-k99'" "$URIAL" defaults "$TMP/cleared.gguf" --urial urial-k99

# the tokenizer against SentencePiece's own ids (spm_encode on the training run's spm.model;
# tests/ref/demo_tokens.sh regenerates these lines)
while IFS='|' read -r text ids; do
    got=$("$URIAL" tokenize -m "$CHAT" --no-bos --text "$text" 2>&1)
    [ "$got" = "$ids" ] || { fail "tokenizer_vs_sentencepiece" "'$text': $got != $ids"; continue; }
    pass "tokenizer_vs_sentencepiece"
done <<'EOF'
Hi! The word "lexicon" means a vocabulary.|847 4066 327 328 299 2139 3536 4033 330 259 406 449 386 354 555 4026
What is a compiler in computing?|473 287 259 2822 290 1784 4060
Sure! Let me know if you have any other questions.|1312 4066 1102 308 723 639 483 601 559 670 796 4026
naïve café, 1582-02-24: 3.14 ~ {x}|317 4011 198 178 322 273 1274 198 172 4034 4009 4047 4077 4073 4069 4042 4064 4069 4042 4069 4076 4035 4009 4074 4026 4047 4076 4009 129 729 4043 4084
EOF

# the assistant style on the first 12 held-out prompts: the twin and the base under URIAL
# answer in it (the twin in 3/4 or more, the base under URIAL in more than half; make demo-eval measured
# 12/12 and 10/12 on these), the base given the twin's template does not (0/12 measured)
L=12
"$URIAL" run -m "$CHAT" --template auto --data "$DEMO_HELDOUT" --limit $L -n 120 "${DEMO_DEC[@]}" -t 2 --out "$TMP/chat.jsonl" 2>"$TMP/err" &&
"$URIAL" run -m "$BASE" --urial "$DEMO_PROMPT" --data "$DEMO_HELDOUT" --limit $L -n 120 "${DEMO_DEC[@]}" -t 2 \
    --out "$TMP/urial.jsonl" 2>>"$TMP/err" &&
"$URIAL" run -m "$BASE" --template zephyr --data "$DEMO_HELDOUT" --limit $L -n 120 "${DEMO_DEC[@]}" -t 2 \
    --out "$TMP/plain.jsonl" 2>>"$TMP/err" &&
"$URIAL" eval style "$TMP/chat.jsonl" "$TMP/urial.jsonl" "$TMP/plain.jsonl" --json "$TMP/style.json" >"$TMP/style.txt" 2>>"$TMP/err"
if [ $? -eq 0 ]; then
    read -r c u p < <(jq -r '[.files[].assistant_style] | @tsv' "$TMP/style.json")
    [ "$c" -ge $((L * 3 / 4)) ] && pass style_sft_twin || fail style_sft_twin "$c of $L: $(cat "$TMP/style.txt")"
    [ "$u" -gt $((L / 2)) ] && pass style_base_urial || fail style_base_urial "$u of $L: $(cat "$TMP/style.txt")"
    [ "$p" -le $((L / 4)) ] && pass style_base_without_urial || fail style_base_without_urial "$p of $L"
else
    fail style_runs "$(head -c 400 "$TMP/err")"
fi

# make demo's script, shortened answers: three questions side by side, the TDS report over 50 prompts
if OUT="$TMP/demo" DEMO_MAX_TOKENS=48 THREADS=2 tools/demo.sh "$(dirname "$URIAL")" >"$TMP/demo.txt" 2>"$TMP/err"; then
    q=$(grep -c '^== question [1-3]: ' "$TMP/demo.txt")
    if [ "$q" = 3 ] && grep -q '^50 answers, [0-9]* positions: unshifted' "$TMP/demo.txt" &&
       grep -q '^most frequent shifted tokens (eta > 3): ".*" [0-9]' "$TMP/demo.txt" &&
       grep -q "TDS report: $TMP/demo/tds/report.html" "$TMP/demo.txt" && [ -s "$TMP/demo/tds/report.html" ] &&
       [ "$(wc -l <"$TMP/demo/tds/tokens.jsonl")" = 50 ] && [ "$(jq .examples "$TMP/demo/tds/summary.json")" = 50 ]; then
        pass make_demo_script
    else
        fail make_demo_script "$(tail -c 600 "$TMP/demo.txt")"
    fi
else
    fail make_demo_script "$(tail -c 400 "$TMP/err")"
fi
fails_with demo_missing_model 'demo: .*missing \(make demo-models' env DEMO_BASE="$TMP/none.gguf" OUT="$TMP/d2" tools/demo.sh "$(dirname "$URIAL")"
