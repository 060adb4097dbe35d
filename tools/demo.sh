#!/usr/bin/env bash
# make demo: until the bundled demo models exist (a later issue), this is a SMOKE DEMO:
# it writes a small random-weight model with urial's own GGUF writer and runs the
# engine on it. The model is untrained, so its text is noise; what the demo shows
# is the pipeline (GGUF writer -> loader -> tokenizer -> forward -> sampler).
set -euo pipefail
BUILD=${1:-build}
U=$BUILD/urial
M=$BUILD/demo-smoke.gguf
echo "== urial smoke demo (random weights: the output is noise, not a trained model)"
$U synth "$M" --arch llama --dim 512 --layers 4 --heads 8 --kv-heads 4 --ff 1024 --type q8_0 --seed 42
$U info "$M"
echo
echo "== urial generate -m $M -p 'The quick brown fox' -n 48 --temp 0.8 --seed 1"
$U generate -m "$M" -p "The quick brown fox" -n 48 --temp 0.8 --seed 1
echo
echo "== urial logits (top 3 next-token logits after each prompt token)"
$U logits -m "$M" --text "Hello" --top 3
echo
echo "== urial bench"
$U bench -m "$M" --prompt 128 --gen 32
echo
echo "Smoke demo done. Real demo models (a base model and its aligned twin) come with a later issue."
