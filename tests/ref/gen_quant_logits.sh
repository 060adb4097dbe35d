#!/usr/bin/env bash
# Regenerate llama.cpp's logits on urial-quantized files in tests/ref/quant/ (committed; the
# test tests/unit/test_quantize.c reads them and needs neither node nor llama.cpp).
#
# For each spec: `urial synth` writes a small F32 random-weight model (bit-identical on every
# machine), `urial quantize` re-encodes it as each file type (deterministic: the encoders work
# row by row, so the bytes do not depend on the thread count), llama.cpp (through
# ../shared/tools/llamacpp.mjs) loads the quantized file and computes teacher-forced top-10
# logits at 160 positions, stored as
#   # synth ARGS
#   # quantize TYPE [--pure]
#   # tokens ID,ID,...
#   POS ID:LOGIT ...
# The test re-quantizes the same model with ur_quantize_file and compares urial's logits on
# its own file with llama.cpp's on the same bytes.
#
# usage: tests/ref/gen_quant_logits.sh [LLAMACPP_DIR]   (default /tmp/llamacpp)
set -euo pipefail
cd "$(dirname "$0")/../.."
LLAMACPP=${1:-/tmp/llamacpp}
make -s build/urial
out=tests/ref/quant
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp ../shared/tools/llamacpp.mjs "$LLAMACPP/"

tokens=1
x=7
for i in $(seq 1 159); do x=$(( (x * 1103515245 + 12345) % 2147483648 )); tokens="$tokens,$(( 3 + (x >> 8) % 377 ))"; done

specs=()
for t in q8_0 q4_0 q4_K_S q4_K_M q5_K_S q5_K_M q6_K; do
    specs+=("llama-$t|--arch llama --layers 8 --heads 8 --kv-heads 2 --seed 31|$t")
done
specs+=("llama-q4_K-pure|--arch llama --layers 8 --heads 8 --kv-heads 2 --seed 31|q4_K --pure")
specs+=("llama-q5_K-pure|--arch llama --layers 8 --heads 8 --kv-heads 2 --seed 31|q5_K --pure")
for t in q4_0 q4_K_M q5_K_M; do
    specs+=("llama-tied-$t|--arch llama --tied --seed 32|$t")
    specs+=("qwen2-$t|--arch qwen2 --seed 33|$t")
    specs+=("phi3-$t|--arch phi3 --seed 34|$t")
    specs+=("gemma2-$t|--arch gemma2 --layers 3 --window 32 --seed 35|$t")
done

for spec in "${specs[@]}"; do
    IFS='|' read -r name args qargs <<<"$spec"
    # shellcheck disable=SC2086
    build/urial synth "$tmp/f32.gguf" $args 2>/dev/null
    # shellcheck disable=SC2086
    build/urial quantize "$tmp/f32.gguf" "$tmp/$name.gguf" $qargs
    (cd "$LLAMACPP" && node llamacpp.mjs logits "$tmp/$name.gguf" --tokens "$tokens" --top 10 --threads 2) > "$tmp/$name.json"
    node -e '
        const [file, args, qargs, tokens] = process.argv.slice(1);
        const rows = JSON.parse(require("fs").readFileSync(file, "utf8"));
        let s = `# synth ${args}\n# quantize ${qargs}\n# tokens ${tokens}\n`;
        for (const r of rows) s += r.pos + " " + r.top.map(([id, l]) => `${id}:${l}`).join(" ") + "\n";
        process.stdout.write(s);' "$tmp/$name.json" "$args" "$qargs" "$tokens" > "$out/$name.txt"
    echo "wrote $out/$name.txt"
done
