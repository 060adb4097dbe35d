#!/usr/bin/env bash
# Regenerate the PyTorch reference gradients in tests/ref/train/*.txt (committed;
# tests/unit/test_train_model.c reads them and needs no Python).
# Needs Debian's python3-torch (apt-get install -y python3-torch).
#
# Each reference: `urial synth ARGS` writes a small random-weight F32 model (bit-
# identical on every machine), ref_grads.py rebuilds it in PyTorch (float64) and
# records the loss and every parameter gradient's fingerprint on a fixed batch.
# The first line of each file is the synth ARGS the C test uses to rebuild the model.
set -euo pipefail
cd "$(dirname "$0")/../../.."
make -s build/urial
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gen() {
    local name=$1; shift
    build/urial synth "$tmp/$name.gguf" "$@" 2>/dev/null
    { echo "synth $*"; /usr/bin/python3 tests/ref/train/ref_grads.py "$tmp/$name.gguf" -; } >tests/ref/train/$name.txt
    echo "wrote tests/ref/train/$name.txt"
}
gen llama-untied --dim 64 --layers 2 --heads 4 --kv-heads 2 --ff 96 --ctx 64 --seed 7 --scale 0.1 --rope-freqs
gen llama-tied --dim 32 --layers 3 --heads 2 --kv-heads 1 --ff 64 --ctx 32 --seed 9 --scale 0.2 --tied
