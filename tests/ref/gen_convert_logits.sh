#!/usr/bin/env bash
# Regenerate tests/ref/convert/*.txt: PyTorch's logits on the small Hugging Face checkpoints
# that tests/unit/test_convert.c writes (committed; the test compares urial's logits on the
# converted files with them and needs neither python nor torch).
#
#   build/tests/test_convert --write-hf DIR   writes every checkpoint the test uses (random weights
#                                             from a fixed seed, safetensors written by the test)
#   tests/ref/hf_forward.py DIR/NAME          the forward in Hugging Face's conventions, float64
#
# usage: tests/ref/gen_convert_logits.sh      (needs Debian's python3-torch: apt-get install python3-torch)
set -euo pipefail
cd "$(dirname "$0")/../.."
make -s build/tests/test_convert
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p tests/ref/convert
for name in $(build/tests/test_convert --write-hf "$tmp" | grep -v "\.gguf$"); do
    /usr/bin/python3 tests/ref/hf_forward.py "$tmp/$name" > "tests/ref/convert/$name.txt"
    echo "wrote tests/ref/convert/$name.txt"
done

# llama.cpp on the converted F32 files (through ../shared/tools/llamacpp.mjs, node-llama-cpp, set up as
# in ../shared/tools/README.md at LLAMACPP, default /tmp/llamacpp): NAME.llamacpp.txt, same format
LLAMACPP=${LLAMACPP:-/tmp/llamacpp}
if [ -d "$LLAMACPP/node_modules/node-llama-cpp" ]; then
    make -s build/urial
    cp ../shared/tools/llamacpp.mjs "$LLAMACPP/"
    for name in $(ls "$tmp"); do
        build/urial convert "$tmp/$name" "$tmp/$name.gguf" --type f32 --name urial-convert-test 2>/dev/null  # (a name with "phi3" in it makes llama.cpp look for Phi-3's own tokens)
        tokens=$(cat "$tmp/$name/tokens.txt")
        (cd "$LLAMACPP" && node llamacpp.mjs logits "$tmp/$name.gguf" --tokens "$tokens" --top 10 --threads 2) > "$tmp/$name.json"
        node -e '
            const [file, name, tokens] = process.argv.slice(1);
            const rows = JSON.parse(require("fs").readFileSync(file, "utf8"));
            let s = `# llama.cpp on urial convert --type f32 of ${name}\n# tokens ${tokens}\n`;
            for (const r of rows) s += r.pos + " " + r.top.map(([id, l]) => `${id}:${l}`).join(" ") + "\n";
            process.stdout.write(s);' "$tmp/$name.json" "$name" "$tokens" > "tests/ref/convert/$name.llamacpp.txt"
        echo "wrote tests/ref/convert/$name.llamacpp.txt"
    done
else
    echo "no llama.cpp at $LLAMACPP: the .llamacpp.txt files were not regenerated" >&2
fi
