#!/usr/bin/env bash
# `urial prompt` end to end: exact bytes on stdout (no newline added), URIAL prompts
# (built-in and the authors' files), templates, --history / --system, and one-line
# errors with a non-zero exit.
source "$(dirname "$0")/lib.sh"
P=$FIX/urial/prompts

if "$URIAL" prompt --help | grep -q "usage: urial prompt"; then pass help_prompt; else fail help_prompt; fi
if "$URIAL" --help | grep -q "^  prompt "; then pass listed_in_main_help; else fail listed_in_main_help; fi
out=$("$URIAL" prompt --list)
ok=1
for n in urial-k0 urial-k1 urial-k3 urial-k3-safe urial-k8 llama-2 llama-2-default-system mistral-instruct \
    vicuna-v1.1 zephyr tulu chatml llama-3 gemma; do
    grep -q "^  $n " <<<"$out" || { ok=0; fail "list_$n"; }
done
[ $ok = 1 ] && pass list

# default: the built-in urial-k3 prompt, the query, and the open answer; nothing after it
"$URIAL" prompt --query "What is 2+2?" >"$TMP/d" 2>"$TMP/e"
printf '\n# Query:\n```\nWhat is 2+2?\n```\n\n# Answer:\n```\n' >"$TMP/want_tail"
n=$(wc -c <"$TMP/want_tail")
if [ "$(head -c 14 "$TMP/d")" = "# Guidelines" ] && cmp -s <(tail -c "$n" "$TMP/d") "$TMP/want_tail" && [ ! -s "$TMP/e" ]; then
    pass default_urial_k3
else
    fail default_urial_k3 "$(tail -c 80 "$TMP/d" | od -c | tail -3)"
fi
"$URIAL" prompt --urial urial-k3 --query "What is 2+2?" >"$TMP/d3"
cmp -s "$TMP/d" "$TMP/d3" && pass default_is_k3 || fail default_is_k3

# the authors' suggested prompt file: the file's bytes, then the query block (exact bytes)
if [ -f "$P/inst_1k_v4.help.txt" ]; then
    q=$'Write a haiku about the sea.\nMake it calm — and mention ☀.'
    { cat "$P/inst_1k_v4.help.txt"; printf '\n# Query:\n```\n%s\n```\n\n# Answer:\n```\n' "$q"; } >"$TMP/want"
    "$URIAL" prompt --urial "$P/inst_1k_v4.help.txt" --query "$q" >"$TMP/got"
    cmp -s "$TMP/want" "$TMP/got" && pass urial_file_exact || fail urial_file_exact "$(cmp "$TMP/want" "$TMP/got" 2>&1)"
    [ "$(wc -c <"$TMP/got")" = 5598 ] && pass urial_file_length || fail urial_file_length "$(wc -c <"$TMP/got")"
    nfiles=0; nok=0
    for f in "$P"/*; do
        nfiles=$((nfiles + 1))
        "$URIAL" prompt --urial "$f" --query "Q" >"$TMP/o" 2>/dev/null && [ -s "$TMP/o" ] && nok=$((nok + 1))
    done
    [ $nfiles = 26 ] && [ $nok = 26 ] && pass all_26_files || fail all_26_files "$nok of $nfiles rendered"
    "$URIAL" prompt --urial "$P/inst_help_v2" --query "Q" >"$TMP/o" 2>"$TMP/e"
    if [ $? = 0 ] && grep -q "^urial: warning: .*inst_help_v2: the URIAL prompt file is empty" "$TMP/e"; then
        pass empty_file_warns
    else
        fail empty_file_warns "$(cat "$TMP/e")"
    fi
else
    skip urial_file_exact "no fixtures at $FIX"
fi

# multi-turn URIAL from an OpenAI-style history file
cat >"$TMP/h.json" <<'EOF'
{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"}]}
EOF
"$URIAL" prompt --urial urial-k0 --history "$TMP/h.json" --query "Tell me a joke." >"$TMP/m"
printf '\n# Query:\n```\nHi\n```\n\n# Answer:\n```\nHello! How can I help?\n```\n\n# Query:\n```\nTell me a joke.\n```\n\n# Answer:\n```\n' >"$TMP/want_tail"
n=$(wc -c <"$TMP/want_tail")
cmp -s <(tail -c "$n" "$TMP/m") "$TMP/want_tail" && pass urial_multiturn || fail urial_multiturn "$(tail -c 200 "$TMP/m")"

# templates, exact (references cited in tests/unit/test_chat.c)
printf '[{"role":"system","content":"You are a helpful assistant"},{"role":"user","content":"Hello"},{"role":"assistant","content":"  Hi there!  "}]' >"$TMP/h2.json"
got=$("$URIAL" prompt --template llama-2 --history "$TMP/h2.json" --query "Who are you?"; echo x)
want=$'<s>[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST] Hi there! </s><s>[INST] Who are you? [/INST]x'
[ "$got" = "$want" ] && pass template_llama2 || fail template_llama2 "$got"
got=$("$URIAL" prompt --template zephyr --history "$TMP/h2.json" --query "Who are you?"; echo x)
want=$'<|system|>\nYou are a helpful assistant</s>\n<|user|>\nHello</s>\n<|assistant|>\n  Hi there!  </s>\n<|user|>\nWho are you?</s>\n<|assistant|>\nx'
[ "$got" = "$want" ] && pass template_zephyr || fail template_zephyr "$got"
got=$("$URIAL" prompt --template chatml --system "Be brief." --query "Hi"; echo x)
want=$'<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nx'
[ "$got" = "$want" ] && pass template_system_option || fail template_system_option "$got"
got=$("$URIAL" prompt --template vicuna-v1.1 --query "Hi"; echo x)
want="A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions. USER: Hi ASSISTANT:x"
[ "$got" = "$want" ] && pass template_vicuna_default_system || fail template_vicuna_default_system "$got"

# auto needs a model; a model without a known template or name is an error naming the file
"$URIAL" synth "$TMP/m.gguf" --layers 1 --dim 64 --heads 2 --ff 128 >/dev/null 2>&1
fails_with auto_needs_model "--template auto needs -m MODEL" "$URIAL" prompt --template auto --query hi
fails_with auto_unknown "urial: $TMP/m.gguf: cannot choose a chat template: no tokenizer.chat_template" \
    "$URIAL" prompt --template auto -m "$TMP/m.gguf" --query hi

# errors: one line, naming the file or the name, non-zero exit
fails_with missing_file "urial: $TMP/none.txt: cannot read URIAL prompt file: No such file or directory" \
    "$URIAL" prompt --urial "$TMP/none.txt" --query hi
fails_with unknown_name "unknown URIAL prompt 'urial-k5' \\(built-in: urial-k0, " "$URIAL" prompt --urial urial-k5 --query hi
fails_with unknown_template "unknown template 'llama' \\(known: llama-2, " "$URIAL" prompt --template llama --query hi
fails_with both_formats "either --urial or --template" "$URIAL" prompt --urial urial-k1 --template zephyr --query hi
fails_with no_query "--query TEXT is required" "$URIAL" prompt --urial urial-k1
fails_with urial_system "urial-k3: message 1 is a system message" "$URIAL" prompt --system "Be brief." --query hi
printf '[{"role":"user","content":"a"}' >"$TMP/bad.json"
fails_with bad_history_json "urial: $TMP/bad.json: not valid JSON: .*line 1" "$URIAL" prompt --history "$TMP/bad.json" --query hi
printf '[{"role":"user","content":"a"}]' >"$TMP/order.json"
fails_with history_order "message 2 is a user message where an assistant message was expected .*--history $TMP/order.json" \
    "$URIAL" prompt --history "$TMP/order.json" --query hi
fails_with missing_history "urial: $TMP/nope.json: cannot read conversation file" "$URIAL" prompt --history "$TMP/nope.json" --query hi
fails_with stray_argument "unexpected argument 'extra'" "$URIAL" prompt --query hi extra
