#!/usr/bin/env bash
# Inputs (issue 21): a FIFO never blocks, a device (/dev/zero, /dev/full) is refused with one line
# instead of being read or written forever, the input cap and --max-input, the context cap of
# logits/bench, and merge of a one-line JSON array (no trailing newline) and of no records.
source "$(dirname "$0")/lib.sh"
M=models/urial-demo-base.gguf
T=(timeout 20)
mkfifo "$TMP/fifo"
fails_with info_fifo "fifo: not a regular file, expected a GGUF file" "${T[@]}" "$URIAL" info "$TMP/fifo"
fails_with info_dev_zero "/dev/zero: not a regular file" "${T[@]}" "$URIAL" info /dev/zero
printf '{"instruction":"What is a compiler?"}\n' >"$TMP/d.jsonl"
fails_with run_data_fifo "fifo: not a regular file \(a dataset must be a file" \
    "${T[@]}" "$URIAL" run -m "$M" --data "$TMP/fifo" --out "$TMP/o.jsonl"
# every command that reads a file, given /dev/zero: one line, no abort, no hang
fails_with run_data_zero "/dev/zero: not a regular file \(a dataset must be a file" \
    "${T[@]}" "$URIAL" run -m "$M" --data /dev/zero --out "$TMP/o.jsonl"
fails_with run_out_dev_full "/dev/full: not a regular file \(a results file must be a file" \
    "${T[@]}" "$URIAL" run -m "$M" --data "$TMP/d.jsonl" --out /dev/full -n 2
fails_with sft_data_zero "/dev/zero: not a regular file \(a training data must be a file" \
    "${T[@]}" "$URIAL" sft -m "$M" --data /dev/zero --out "$TMP/sft"
fails_with train_text_zero "/dev/zero: not a regular file" \
    "${T[@]}" "$URIAL" train --text /dev/zero --tokenizer "$M" --config tiny --out "$TMP/pt"
fails_with style_zero "/dev/zero: not a regular file" "${T[@]}" "$URIAL" eval style /dev/zero
fails_with report_zero "/dev/zero: not a regular file" "${T[@]}" "$URIAL" eval report /dev/zero
fails_with merge_zero "/dev/zero: not a regular file" "${T[@]}" "$URIAL" merge "$TMP/m.json" /dev/zero
fails_with prompt_urial_zero "/dev/zero: not a regular file" "${T[@]}" "$URIAL" prompt --urial /dev/zero --query hi
fails_with tokenize_batch_zero "/dev/zero: not a regular file" "${T[@]}" "$URIAL" tokenize -m "$M" --batch /dev/zero
fails_with tds_outputs_zero "/dev/zero: not a regular file" "${T[@]}" "$URIAL" tds --base "$M" --aligned models/urial-demo-chat.gguf \
    --data "$TMP/d.jsonl" --outputs /dev/zero --out "$TMP/tds"
fails_with convert_tokenizer_zero "/dev/zero: not a regular file" "${T[@]}" "$URIAL" convert-tokenizer /dev/zero "$TMP/v.gguf"
# the input cap, and --max-input to raise it
fails_with input_cap "d.jsonl: dataset is [0-9]+ bytes, over the input cap of 10 bytes \(raise it with --max-input\)" \
    "$URIAL" run -m "$M" --template zephyr --data "$TMP/d.jsonl" --out "$TMP/o.jsonl" -n 2 --max-input 10
ok input_cap_raised "$URIAL" run -m "$M" --template zephyr --data "$TMP/d.jsonl" --out "$TMP/o.jsonl" -n 2 --max-input 1K
fails_with max_input_bad "--max-input: '1X' is not a size" "$URIAL" run --max-input 1X
"$URIAL" run --help | grep -q -- "--max-input SIZE" && pass max_input_in_help || fail max_input_in_help
# logits and bench: the model's context is the cap unless --ctx raises it
awk 'BEGIN { for (i = 0; i < 600; i++) printf "alpha beta "; }' >"$TMP/long.txt"
fails_with logits_context_cap "logits: [0-9]+ tokens pass the context of 1024 \(the model's; --ctx N raises it\)" \
    "${T[@]}" "$URIAL" logits -m "$M" --text "$(cat "$TMP/long.txt")"
ok logits_ctx_raises "${T[@]}" "$URIAL" logits -m "$M" --text "$(cat "$TMP/long.txt")" --ctx 4096 --top 1
fails_with bench_context_cap "bench: --prompt 2000 \+ --gen 32 tokens pass the context of 1024" \
    "${T[@]}" "$URIAL" bench -m "$M" --prompt 2000
# merge: a JSON array on one line without a newline is read whole (not a torn last line)
printf '[{"id":2,"output":"b","input_index":1},{"id":1,"output":"a","input_index":0}]' >"$TMP/one.json"
if "$URIAL" merge "$TMP/m.json" "$TMP/one.json" 2>"$TMP/err" && [ "$(jq -c 'map(.id)' "$TMP/m.json")" = "[1,2]" ]; then
    pass merge_one_line_array
else
    fail merge_one_line_array "$(cat "$TMP/err") $(head -c 200 "$TMP/m.json")"
fi
# its own output (an indented array) too
"$URIAL" merge "$TMP/m2.json" "$TMP/m.json" 2>/dev/null && cmp -s "$TMP/m.json" "$TMP/m2.json" && pass merge_own_output ||
    fail merge_own_output
# no records at all (qsort of NULL under UBSan before)
: >"$TMP/empty.jsonl"
if "$URIAL" merge "$TMP/m3.json" "$TMP/empty.jsonl" 2>"$TMP/err" && [ "$(jq length "$TMP/m3.json")" = 0 ]; then
    pass merge_no_records
else
    fail merge_no_records "$(cat "$TMP/err")"
fi
# a parser's message quoting a newline from the input stays one line (found by fuzz-data and fuzz-api)
printf '[{"role":"user","content":"a\\\n"}]' >"$TMP/nl.json"
fails_with conv_newline_one_line "nl.json: not valid JSON: invalid escape" "$URIAL" prompt --history "$TMP/nl.json" --query hi
printf '{"instruction":"a\\\n"}\n' >"$TMP/nl.jsonl"
fails_with dataset_newline_one_line "nl.jsonl" "$URIAL" run -m "$M" --template zephyr --data "$TMP/nl.jsonl" --out "$TMP/nl-out.jsonl"
