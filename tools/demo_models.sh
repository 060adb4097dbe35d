#!/usr/bin/env bash
# make demo-models: rebuild the bundled demo models (models/urial-demo-base.gguf and
# models/urial-demo-chat.gguf) from scratch with urial's own trainer. See models/MODEL_CARD.md.
#   1. corpus     tools/demo_corpus.py: WordNet, GCIDE, FOLDOC, the Jargon File, fortunes (Debian packages)
#   2. tokenizer  Debian's spm_train (BPE, 4096 pieces, byte fallback) -> tools/demo_vocab.py -> GGUF
#   3. SFT data   tools/demo_sft.py -> data/demo/ (deterministic: the committed files come back unchanged)
#   4. pretrain   urial train  (3.15M parameters, 5.6M tokens; about 35-40 minutes on 2 cores)
#   5. SFT        urial sft    (LIMA's recipe, 15 epochs over ~1,000 chats; about 5 minutes)
#   6. copy       the pretrained model and the SFT epoch SFT_EPOCH (default 5: LIMA picked between 5 and 10) into models/
#   7. curves     tools/train_curves.py -> models/training-curves.svg
# Every step resumes: rerun after an interruption and finished steps are skipped (training itself
# continues from its state.gguf). Environment: OUT (work directory, default build/demo-models),
# THREADS (default: all cores), SFT_EPOCH.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
U=$PWD/$BUILD/urial
OUT=${OUT:-$BUILD/demo-models}
THREADS=${THREADS:-$(nproc)}
SFT_EPOCH=${SFT_EPOCH:-5}

tools/deps.sh demo-models
mkdir -p "$OUT/vocab"
t0=$(date +%s)
step() { echo "== demo-models [$(( ($(date +%s) - t0) / 60 )) min] $*"; }

if [ ! -s "$OUT/corpus.txt" ]; then
    step "corpus"
    python3 tools/demo_corpus.py "$OUT/corpus.txt.tmp" --stats "$OUT/corpus-stats.json" --gcide-mb 3
    mv "$OUT/corpus.txt.tmp" "$OUT/corpus.txt"
fi
if [ ! -s "$OUT/vocab/vocab.gguf" ]; then
    step "tokenizer (spm_train, BPE 4096)"
    grep . "$OUT/corpus.txt" > "$OUT/spm-input.txt"
    spm_train --input="$OUT/spm-input.txt" --model_prefix="$OUT/vocab/spm" --model_type=bpe \
        --vocab_size=4096 --byte_fallback=true --character_coverage=0.9995 \
        --input_sentence_size=1500000 --shuffle_input_sentence=true --split_digits=true \
        --normalization_rule_name=identity --remove_extra_whitespaces=false --add_dummy_prefix=true \
        --max_sentence_length=16384 --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1 \
        --num_threads="$THREADS" --minloglevel=2
    spm_export_vocab --model="$OUT/vocab/spm.model" --output_format=vocab > "$OUT/vocab/spm.vocab"
    python3 tools/demo_vocab.py "$OUT/vocab/spm.vocab" "$OUT/vocab/vocab.gguf"
fi
step "SFT data (tools/demo_sft.py -> data/demo)"
python3 tools/demo_sft.py

if [ ! -s "$OUT/base/epoch-001.gguf" ] && [ ! -s "$OUT/base/step-000680.gguf" ]; then
    step "pretraining (urial train; resumable)"
    resume=--overwrite; [ -s "$OUT/base/state.gguf" ] && resume=--resume # a run killed before its first save starts over
    "$U" train --text "$OUT/corpus.txt" --tokenizer "$OUT/vocab/vocab.gguf" \
        --config dim=192,layers=4,heads=6,kv_heads=2,ff=512,ctx=1024 --out "$OUT/base" \
        --epochs 1 --max-steps 680 --batch 8 --lr 2e-3 --lr-end 1e-4 --warmup 40 --eval-every 200 \
        --save-type f16 --name urial-demo-base --sample-prompt 'The word "lexicon" means' \
        --sample-prompt 'Q: What is a compiler?' -t "$THREADS" --quiet $resume
fi
BASE=$OUT/base/step-000680.gguf
[ -s "$BASE" ] || BASE=$OUT/base/epoch-001.gguf
SFT_OUT=$(printf '%s/sft/epoch-%03d.gguf' "$OUT" "$SFT_EPOCH")
if [ ! -s "$SFT_OUT" ]; then
    step "SFT (urial sft, LIMA's recipe; resumable)"
    resume=--overwrite; [ -s "$OUT/sft/state.gguf" ] && resume=--resume
    "$U" sft -m "$BASE" --data data/demo/sft.jsonl --dev data/demo/dev.jsonl --out "$OUT/sft" \
        --lr 1e-3 --lr-end 1e-4 --save-type f16 --name urial-demo-chat --samples 8 --sample-tokens 160 \
        -t "$THREADS" --quiet $resume
fi
step "copy into models/"
mkdir -p models
# the URIAL prompt and decoding the pair is meant for, recorded in the files (urial defaults):
# chat, run and serve use them when no --urial / --template / --repeat-penalty is given
source tools/demo_settings.sh
"$U" defaults "$BASE" -o models/urial-demo-base.gguf --urial "$DEMO_PROMPT" "${DEMO_DEC[@]}"
"$U" defaults "$SFT_OUT" -o models/urial-demo-chat.gguf "${DEMO_DEC[@]}"
cp "$OUT/corpus-stats.json" models/corpus-stats.json
cp "$OUT/vocab/spm.model" models/urial-demo-spm.model
python3 tools/train_curves.py "$OUT/base/log.jsonl" "$OUT/sft/log.jsonl" models/training-curves.svg
"$U" info models/urial-demo-base.gguf | head -3
"$U" info models/urial-demo-chat.gguf | head -3
step "done: models/urial-demo-base.gguf models/urial-demo-chat.gguf (reports: $OUT/base/report.md $OUT/sft/report.md)"
