#!/usr/bin/env bash
# Record llama.cpp's view of a checkpoint of `urial sft --eot new` in tests/ref/eot/llamacpp.json
# (committed; tests/cli/test_eot.sh reads it and needs neither node nor llama.cpp).
#
# The checkpoint: the demo base fine-tuned for 80 steps on the demo chats with a new end-of-turn
# token <|eot|> (the training is deterministic: the same command gives the same file on the same
# kind of CPU; its sha256 is recorded). llama.cpp (node-llama-cpp, through check_llamacpp.mjs)
# loads it, tokenizes "<|eot|>" with and without special-token parsing, and completes a
# zephyr+eot prompt greedily for three questions; urial completes the same prompts. The file
# records both.
#
# usage: tests/ref/eot/gen.sh [LLAMACPP_DIR]   (default /tmp/llamacpp, set up as in
# ../shared/tools/README.md)
set -euo pipefail
cd "$(dirname "$0")/../../.."
LLAMACPP=${1:-/tmp/llamacpp}
make -s build/urial
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp tests/ref/eot/check_llamacpp.mjs "$LLAMACPP/"
# the recipe (tests/cli/test_eot.sh runs the same one)
build/urial sft -m models/urial-demo-base.gguf --data data/demo/sft.jsonl --out "$tmp/run" --eot new \
    --max-steps 80 --batch 16 --lr 2e-3 --lr-end 2e-4 --samples 0 --quiet
M=$tmp/run/step-000080.gguf
echo '[]' >"$tmp/cases.json"
for q in "What is a cat?" "Give me a synonym for happy." "How do I boil an egg?"; do
    prompt=$'<|user|>\n'"$q"$'<|eot|>\n<|assistant|>\n'
    ids=$(build/urial tokenize -m "$M" --special --json --text "$prompt" | tr -d '[] \n')
    urial_text=$(build/urial generate -m "$M" --special -p "$prompt" -n 120 2>"$tmp/gen.err")
    urial_stop=$(grep -o 'stop: [a-z]*' "$tmp/gen.err" | cut -d' ' -f2)
    llama=$(cd "$LLAMACPP" && node check_llamacpp.mjs "$M" "$ids" "<|eot|>")
    jq --arg prompt "$prompt" --arg ids "$ids" --arg text "$urial_text" --arg stop "$urial_stop" --argjson llama "$llama" \
        '. + [{prompt: $prompt, prompt_ids: $ids, urial: {text: $text, stop: $stop}, llamacpp: $llama}]' \
        "$tmp/cases.json" >"$tmp/c2.json"
    mv "$tmp/c2.json" "$tmp/cases.json"
done
jq --arg sha "$(sha256sum "$M" | cut -d' ' -f1)" '{checkpoint_sha256: $sha, cases: .}' "$tmp/cases.json" \
    >tests/ref/eot/llamacpp.json
jq -c '.cases[] | {same_text: (.urial.text == .llamacpp.text), urial: .urial.stop, llamacpp: .llamacpp.stop_reason, stop_token: .llamacpp.stop_token}' \
    tests/ref/eot/llamacpp.json
