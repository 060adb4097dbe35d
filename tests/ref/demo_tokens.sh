#!/usr/bin/env bash
# The reference ids pinned in tests/cli/test_demo.sh: SentencePiece's own encoding (spm_encode,
# Debian's sentencepiece) of four sentences with the demo tokenizer's model, which
# tools/demo_models.sh trains (OUT/vocab/spm.model; kept as models/urial-demo-spm.model).
# usage: tests/ref/demo_tokens.sh [SPM.model]   prints "text|ids" lines
set -euo pipefail
cd "$(dirname "$0")/../.."
M=${1:-models/urial-demo-spm.model}
command -v spm_encode >/dev/null || { echo "demo_tokens: spm_encode missing (apt-get install sentencepiece)" >&2; exit 1; }
while IFS= read -r s; do
    printf '%s|%s\n' "$s" "$(printf '%s\n' "$s" | spm_encode --model="$M" --output_format=id)"
done <<'TEXTS'
Hi! The word "lexicon" means a vocabulary.
What is a compiler in computing?
Sure! Let me know if you have any other questions.
naïve café, 1582-02-24: 3.14 ~ {x}
TEXTS
