# The bundled demo pair and how the demo decodes with it; sourced by tools/demo.sh,
# tools/demo_eval.sh and tests/cli/test_demo.sh, so the demo, the card's figures and the
# tests use one setting (models/MODEL_CARD.md explains the decoding).
# Environment: DEMO_BASE, DEMO_CHAT (model files), DEMO_DECODING (urial decoding options).
DEMO_BASE=${DEMO_BASE:-models/urial-demo-base.gguf}
DEMO_CHAT=${DEMO_CHAT:-models/urial-demo-chat.gguf}
DEMO_PROMPT=data/demo/urial-demo.txt
DEMO_HELDOUT=data/demo/heldout.jsonl
# greedy, repetition penalty 1.2 over the last 24 tokens (llama.cpp's kind): the paper's 1.1 over the
# whole context makes a 3M-parameter model loop or avoid the very words the examples show
read -r -a DEMO_DEC <<<"${DEMO_DECODING:---repeat-penalty 1.2 --repeat-last-n 24}"
