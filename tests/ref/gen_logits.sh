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
# usage: tests/ref/gen_logits.sh [LLAMACPP_DIR]   (default /tmp/llamacpp, set up as in
# ../shared/tools/README.md)
set -euo pipefail
cd "$(dirname "$0")/../.."
LLAMACPP=${1:-/tmp/llamacpp}
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

for spec in "${specs[@]}"; do
    name=${spec%%|*}
    args=${spec#*|}
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
