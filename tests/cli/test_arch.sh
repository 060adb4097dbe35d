#!/usr/bin/env bash
# Every architecture through the whole program, on small random-weight files with the Llama-2
# vocabulary (Gemma's and OLMo's with a 48-position sliding window, so URIAL's ~1,500-token prompt
# runs far past it and the sliding layers keep rings): urial run with URIAL prompts (the prompt
# prefix cached and rewound to between items), urial serve with batched slots giving the very same
# greedy outputs over HTTP, urial tds (two models, and a model against itself: nothing shifted),
# urial sft --lora (a merged checkpoint that generates), and urial info.
source "$(dirname "$0")/lib.sh"
V=$FIX/tokenizer/llama-spm/vocab-llama-spm.gguf
JE=$FIX/just-eval/just-eval-instruct.Llama-2-7b-chat-hf.json
F=$FIX/aligntds/Llama-2-7b-chat-hf.json
if [ ! -f "$V" ] || [ ! -f "$JE" ] || [ ! -f "$F" ]; then
    skip arch_suite "no fixtures at $FIX"
    exit 0
fi
SRV_PID=
trap '[ -n "$SRV_PID" ] && kill $SRV_PID 2>/dev/null; rm -rf "$TMP"' EXIT
# start a server on a free port; SRV_PID and PORT are set
start_server() { serve_bg "$TMP/serve.err" -m "$1" -t 1 --parallel 2; }
outputs() { grep -oE '"output":"([^"\\]|\\.)*"' "$1" | sort; }
D=$TMP/sft.jsonl
{
    printf '{"messages":[{"role":"user","content":"gamma kappa beta"},{"role":"assistant","content":"The answer is theta."}]}\n'
    printf '{"conversations":["delta beta alpha","The answer is eta kappa mu."]}\n'
} >"$D"

for spec in "llama|--type q8_0 --llama3-rope --rope-base 500000" "qwen2|--type q4_K" "qwen3|--type q8_0 --head-dim 32" \
    "gemma2|--type q8_0 --window 48 --layers 3" "gemma3|--type q4_0 --window 48 --layers 6" \
    "olmo2|--type q8_0 --window 48 --layers 4" "phi3|--type q8_0 --longrope 1024"; do
    arch=${spec%%|*}
    args=${spec#*|}
    ok=1
    for s in 1 2; do
        # shellcheck disable=SC2086
        "$URIAL" synth "$TMP/$arch$s.gguf" --arch "$arch" --vocab "$V" --ctx 4096 --dim 256 --heads 4 --kv-heads 2 \
            --ff 256 --scale 0.3 --seed $s $args 2>"$TMP/err" || { fail "synth_$arch" "$(cat "$TMP/err")"; ok=0; }
    done
    [ $ok = 1 ] || continue
    M=$TMP/${arch}1.gguf
    "$URIAL" info "$M" | grep -q "runnable:      yes" && pass "info_$arch" || fail "info_$arch" "$("$URIAL" info "$M" | tail -1)"

    # urial run (URIAL k=3 prompts from a cached prefix) and urial serve (batched slots) agree
    RUN=(run -m "$M" --data "$JE" --limit 3 -n 10)
    "$URIAL" "${RUN[@]}" -t 1 --out "$TMP/$arch-local.jsonl" 2>"$TMP/err"
    if [ "$(grep -c '"output"' "$TMP/$arch-local.jsonl" 2>/dev/null)" = 3 ]; then pass "run_$arch"; else fail "run_$arch" "$(tail -2 "$TMP/err")"; fi
    start_server "$M"
    if [ -n "$PORT" ]; then
        "$URIAL" "${RUN[@]}" --backend openai --base-url "http://127.0.0.1:$PORT/v1" --concurrency 2 \
            --out "$TMP/$arch-remote.jsonl" 2>"$TMP/err"
        if [ "$(outputs "$TMP/$arch-remote.jsonl")" = "$(outputs "$TMP/$arch-local.jsonl")" ]; then
            pass "serve_equals_local_$arch"
        else
            fail "serve_equals_local_$arch" "$(tail -2 "$TMP/err")"
        fi
    else
        fail "serve_$arch" "$(cat "$TMP/serve.err")"
    fi
    kill "$SRV_PID" 2>/dev/null
    wait "$SRV_PID" 2>/dev/null
    SRV_PID=

    # urial tds: a base/aligned pair, and a model against itself
    TDS=(tds -t 1 --data "$F" --outputs "$F" --limit 3 -n 8)
    if "$URIAL" "${TDS[@]}" --base "$M" --aligned "$TMP/${arch}2.gguf" --out "$TMP/$arch-tds" >/dev/null 2>"$TMP/err" &&
        grep -q '"positions": 24,' "$TMP/$arch-tds/summary.json"; then
        pass "tds_$arch"
    else
        fail "tds_$arch" "$(tail -2 "$TMP/err")"
    fi
    "$URIAL" "${TDS[@]}" --base "$M" --aligned "$M" --out "$TMP/$arch-self" >/dev/null 2>&1
    grep -q '"shifted": 0,' "$TMP/$arch-self/summary.json" 2>/dev/null && grep -q '"marginal": 0,' "$TMP/$arch-self/summary.json" &&
        pass "tds_self_$arch" || fail "tds_self_$arch" "$(head -c 300 "$TMP/$arch-self/summary.json" 2>/dev/null)"

    # urial sft --lora: one epoch on a frozen base, a merged checkpoint that generates
    if "$URIAL" sft -m "$M" --data "$D" --out "$TMP/$arch-lora" --lora 2 --epochs 1 --batch 2 --samples 0 --quiet -t 1 \
        >/dev/null 2>"$TMP/err" && "$URIAL" generate -m "$TMP/$arch-lora/epoch-001.gguf" -p "hi" -n 4 >/dev/null 2>&1; then
        pass "sft_lora_$arch"
    else
        fail "sft_lora_$arch" "$(tail -2 "$TMP/err")"
    fi
done
