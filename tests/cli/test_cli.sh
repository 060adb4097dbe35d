#!/usr/bin/env bash
# The command line end to end: help, info, tokenize, logits, generate, bench, synth,
# and one-line errors with a non-zero exit for bad input.
source "$(dirname "$0")/lib.sh"
M=$TMP/m.gguf

ok help "$URIAL" --help
for c in info tokenize generate logits bench synth; do
    if "$URIAL" $c --help | grep -q "usage: urial $c"; then pass "help_$c"; else fail "help_$c"; fi
done
fails_with unknown_command "unknown command 'frobnicate'" "$URIAL" frobnicate

# urial --version (and urial version): "urial X.Y.Z" from the VERSION file, plus "(git COMMIT)" when
# built from a git checkout; the commit must be one of this repository's
v=$("$URIAL" --version)
want=$(cat "$(dirname "$0")/../../VERSION")
if [[ "$v" =~ ^urial\ ([0-9]+\.[0-9]+\.[0-9]+)(\ \(git\ ([0-9a-f]+)(-dirty)?\))?$ ]] && [ "${BASH_REMATCH[1]}" = "$want" ]; then
    c=${BASH_REMATCH[3]}
    if [ -z "$c" ] || ! git -C "$(dirname "$0")" rev-parse --git-dir >/dev/null 2>&1 ||
        git -C "$(dirname "$0")" cat-file -e "$c^{commit}" 2>/dev/null; then pass version; else fail version "unknown commit in '$v'"; fi
else
    fail version "'$v' is not 'urial $want' (+ ' (git COMMIT)')"
fi
[ "$("$URIAL" version)" = "$v" ] && pass version_command || fail version_command "$("$URIAL" version 2>&1)"

ok synth "$URIAL" synth "$M" --type q8_0 --layers 2 --seed 3
if "$URIAL" info "$M" | grep -q "runnable:      yes"; then pass info_text; else fail info_text "$("$URIAL" info "$M" 2>&1)"; fi
j=$("$URIAL" info "$M" --json)
case "$j" in
*'"architecture":"llama"'*'"n_layers":2'*'"tensor_types":{'*'"runnable":true'*) pass info_json ;;
*) fail info_json "$j" ;;
esac

# tokenize: llama.cpp's ids for "Hello world" with the Llama-2 vocab (BOS 1)
V=$FIX/tokenizer/llama-spm/vocab-llama-spm.gguf
if [ -f "$V" ]; then
    out=$("$URIAL" tokenize -m "$V" --text "Hello world" --json)
    [ "$out" = "[1,15043,3186]" ] && pass tokenize_json || fail tokenize_json "$out"
    out=$("$URIAL" tokenize -m "$V" --text "Hello world" --no-bos)
    [ "$out" = "15043 3186" ] && pass tokenize_no_bos || fail tokenize_no_bos "$out"
    out=$("$URIAL" tokenize -m "$V" --text "<s>[INST]" --special --json --no-bos)
    [ "${out:0:3}" = "[1," ] && pass tokenize_special || fail tokenize_special "$out"
else
    skip tokenize_json "no fixtures at $FIX"
fi

# logits: one line per position; --text equals the same ids given with --ids
"$URIAL" logits -m "$M" --ids 1,72,101,108,108 --top 5 >"$TMP/a" 2>"$TMP/err"
[ "$(wc -l <"$TMP/a")" = 5 ] && grep -q '^{"pos":4,"token":108,"top":\[\[' "$TMP/a" && pass logits_ids || fail logits_ids "$(head -c 300 "$TMP/a" "$TMP/err")"
ids=$("$URIAL" tokenize -m "$M" --text "Hello" | tr ' ' ',')
"$URIAL" logits -m "$M" --ids "$ids" --top 5 >"$TMP/b"
"$URIAL" logits -m "$M" --text "Hello" --top 5 >"$TMP/c"
cmp -s "$TMP/b" "$TMP/c" && pass logits_text_equals_ids || fail logits_text_equals_ids

# generate: seeded sampling reproducible, timing line on stderr, stop strings cut the output
"$URIAL" generate -m "$M" -p "Once upon" -n 24 --temp 0.9 --seed 11 --ignore-eos >"$TMP/g1" 2>"$TMP/e1"
"$URIAL" generate -m "$M" -p "Once upon" -n 24 --temp 0.9 --seed 11 --ignore-eos >"$TMP/g2" 2>/dev/null
cmp -s "$TMP/g1" "$TMP/g2" && pass generate_seeded || fail generate_seeded
grep -qE 'generated 24 tokens in .* tok/s' "$TMP/e1" && pass generate_timing || fail generate_timing "$(cat "$TMP/e1")"
"$URIAL" generate -m "$M" -p "Once upon" -n 24 --ignore-eos >"$TMP/g3" 2>/dev/null
stop=$(LC_ALL=C head -c 9 "$TMP/g3" | LC_ALL=C tail -c 3)
if [ ${#stop} -eq 3 ] && [[ "$stop" != *$'\n'* ]]; then
    "$URIAL" generate -m "$M" -p "Once upon" -n 24 --ignore-eos --stop "$stop" >"$TMP/g4" 2>"$TMP/e4"
    want=$(LC_ALL=C awk -v s="$stop" '{ i = index($0, s); if (i) { print substr($0, 1, i - 1); exit } }' "$TMP/g3")
    got=$(cat "$TMP/g4")
    [ "$got" = "$want" ] && grep -q "stop: stop" "$TMP/e4" && pass generate_stop || fail generate_stop "want '$want' got '$got'"
else
    skip generate_stop "generated text has no usable 3-byte stop string"
fi

# bench: the last stdout line is JSON with both speeds
last=$("$URIAL" bench -m "$M" --prompt 16 --gen 4 --json | tail -n 1)
case "$last" in
'{'*'"prefill_tok_s":'*'"decode_tok_s":'*'}') pass bench_json ;;
*) fail bench_json "$last" ;;
esac

# every command and subcommand has --help from its option table (a name declared twice would
# be refused here); the shared options follow one rule everywhere
for c in info tokenize generate logits bench synth prompt chat run merge serve sft train "tds" "tds prefix" \
    "tds report" "eval score" "eval pairwise" "eval report" "eval style"; do
    # shellcheck disable=SC2086
    if "$URIAL" $c --help >"$TMP/h" 2>&1 && grep -q "usage: urial" "$TMP/h"; then pass "help_table_${c// /_}"
    else fail "help_table_${c// /_}" "$(head -c 300 "$TMP/h")"; fi
done
for c in generate logits bench chat run serve tds "eval score"; do
    # shellcheck disable=SC2086
    "$URIAL" $c --ctx 8 >/dev/null 2>"$TMP/e" </dev/null
    [ $? = 1 ] && grep -q "option --ctx: '8' is not an integer in \[16, 16777216\]" "$TMP/e" && pass "ctx_rule_${c// /_}" ||
        fail "ctx_rule_${c// /_}" "$(cat "$TMP/e")"
done
"$URIAL" run -m x --data x --out x --urial urial-k0 --template chatml 2>"$TMP/e"
grep -q "run: give either --urial or --template, not both" "$TMP/e" && pass format_rule_run || fail format_rule_run "$(cat "$TMP/e")"

# the URIAL decoding default lives in the chat layer: generate --urial decodes with the
# repetition penalty 1.1 of the paper's runs, as chat and run do, unless told otherwise
"$URIAL" synth "$TMP/long.gguf" --ctx 4096 --dim 64 --heads 4 --kv-heads 2 --ff 128 --seed 4 >/dev/null 2>&1
G=(generate -m "$TMP/long.gguf" -t 1 --urial urial-k0 -p "Name a color." -n 48 --ignore-eos)
"$URIAL" "${G[@]}" >"$TMP/p0" 2>/dev/null
"$URIAL" "${G[@]}" --repeat-penalty 1.1 >"$TMP/p1" 2>/dev/null
"$URIAL" "${G[@]}" --repeat-penalty 1 >"$TMP/p2" 2>/dev/null
if [ -s "$TMP/p0" ] && cmp -s "$TMP/p0" "$TMP/p1" && ! cmp -s "$TMP/p0" "$TMP/p2"; then pass generate_urial_penalty
else fail generate_urial_penalty "$(head -c 200 "$TMP/p0") | $(head -c 200 "$TMP/p2")"; fi

# bad input: one line naming the file or option, non-zero exit, no crash
fails_with missing_model "urial: $TMP/none.gguf: " "$URIAL" info "$TMP/none.gguf"
head -c 1000 "$M" >"$TMP/trunc.gguf"
fails_with truncated_model "urial: $TMP/trunc.gguf: " "$URIAL" generate -m "$TMP/trunc.gguf" -p hi
printf 'GGUF\003\000\000\000' >"$TMP/tiny.gguf"
fails_with tiny_model "tiny.gguf" "$URIAL" logits -m "$TMP/tiny.gguf" --ids 1
fails_with bad_temp "option --temp: 'abc'" "$URIAL" generate -m "$M" -p hi --temp abc
fails_with bad_option "option '--frob'" "$URIAL" generate -m "$M" -p hi --frob
fails_with bad_ids "--ids: '1,x' is not" "$URIAL" logits -m "$M" --ids 1,x
fails_with id_out_of_range "out of range" "$URIAL" logits -m "$M" --ids 1,99999
fails_with prompt_too_long "context holds 16" "$URIAL" generate -m "$M" -p "a rather long prompt that does not fit in sixteen tokens of context" --ctx 16
fails_with missing_args "-m MODEL and -p PROMPT are required" "$URIAL" generate -p hi
fails_with bad_type "unknown type 'q3_x'" "$URIAL" synth "$TMP/x.gguf" --type q3_x
