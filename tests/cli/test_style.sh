#!/usr/bin/env bash
# urial eval style end to end: two hand-written results files (the text lines, --records,
# --json numbers read with jq, a merged JSON array) and one-line errors for bad input.
source "$(dirname "$0")/lib.sh"

if "$URIAL" eval --help | grep -q "urial eval style RESULTS"; then pass help; else fail help; fi

# base: 4 answers; one in the style (greeting + offer), one opens only (key term), two neither
cat >"$TMP/base.jsonl" <<'J'
{"id":0,"instruction":"What is a volcano?","output":"Sure! A volcano is a mountain that erupts.\n\nLet me know if you have other questions.","generator":"llama-7b+urial"}
{"id":1,"instruction":"How do volcanoes form?","output":"Volcano formation happens at plate boundaries.","generator":"llama-7b+urial"}
{"id":2,"instruction":"Name a color.","output":"and the next question is about dogs","generator":"llama-7b+urial"}
{"id":"q4","instruction":"Why is the sky blue?","output":"","generator":"llama-7b+urial"}
J
# chat: 3 answers, all in the style (an offer before a closing fence counts; a plural key term)
cat >"$TMP/chat.jsonl" <<'J'
{"id":0,"instruction":"What is a volcano?","output":"Volcanoes are openings in the crust. Hope this helps!\n```","generator":"llama-7b-chat"}

{"id":1,"instruction":"How do volcanoes form?","output":"Great question! Magma rises. Feel free to ask more.","generator":"llama-7b-chat"}
{"id":2,"instruction":"Name a color.","output":"Of course: blue.\nWould you like another one?","generator":"llama-7b-chat"}
J

ok two_files "$URIAL" eval style "$TMP/base.jsonl" "$TMP/chat.jsonl" --json "$TMP/s.json"
want1="$TMP/base.jsonl (llama-7b+urial): 4 answers, assistant style 1 (25.0%), opens 2 (50.0%), closes 1 (25.0%)"
want2="$TMP/chat.jsonl (llama-7b-chat): 3 answers, assistant style 3 (100.0%), opens 3 (100.0%), closes 3 (100.0%)"
[ "$(sed -n 1p "$TMP/out")" = "$want1" ] && [ "$(sed -n 2p "$TMP/out")" = "$want2" ] && [ "$(wc -l <"$TMP/out")" = 2 ] &&
    pass text_lines || fail text_lines "$(cat "$TMP/out")"
if command -v jq >/dev/null; then
    got=$(jq -c '[.files[] | [.file, .generator, .n, .assistant_style, .opens, .closes, .ratio]]' "$TMP/s.json")
    want="[[\"$TMP/base.jsonl\",\"llama-7b+urial\",4,1,2,1,0.25],[\"$TMP/chat.jsonl\",\"llama-7b-chat\",3,3,3,3,1]]"
    [ "$got" = "$want" ] && pass json_numbers || fail json_numbers "$got"
    jq -e '.measure | test("assistant style") and test("let me know")' "$TMP/s.json" >/dev/null &&
        pass json_measure || fail json_measure "$(head -c 300 "$TMP/s.json")"
else
    skip json_numbers "no jq"
fi

# --records: the file's line, then ID OPENS CLOSES per record
ok records "$URIAL" eval style --records "$TMP/base.jsonl"
[ "$(tail -n +2 "$TMP/out" | tr '\n' '|')" = '0 1 1|1 1 0|2 0 0|"q4" 0 0|' ] && pass records_lines || fail records_lines "$(cat "$TMP/out")"

# the same records merged into a JSON array count the same
"$URIAL" merge "$TMP/chat.json" "$TMP/chat.jsonl" >/dev/null 2>&1
ok merged_array "$URIAL" eval style "$TMP/chat.json"
grep -q ": 3 answers, assistant style 3 (100.0%)" "$TMP/out" && pass merged_same || fail merged_same "$(cat "$TMP/out")"

# bad input: one error line naming the file (and line), non-zero exit, no crash
fails_with missing_file 'nope.jsonl: cannot read' "$URIAL" eval style "$TMP/nope.jsonl"
printf '{"id":0,"output":"Sure."}\n{"id":1,"output":\n' >"$TMP/bad.jsonl"
fails_with malformed_line 'bad.jsonl: line 2 is not valid JSON' "$URIAL" eval style "$TMP/bad.jsonl"
printf '{"id":0,"output":"Sure."}\n{"id":1,"instruction":"x"}\n' >"$TMP/noout.jsonl"
fails_with missing_output 'noout.jsonl: line 2: the record has no "output"' "$URIAL" eval style "$TMP/noout.jsonl"
fails_with no_files 'give one or more results files' "$URIAL" eval style
fails_with bad_option "option '--bogus' is unknown" "$URIAL" eval style --bogus "$TMP/base.jsonl"
# a bad second file: no --json written
rm -f "$TMP/s2.json"
fails_with bad_second_file 'noout.jsonl: line 2' "$URIAL" eval style "$TMP/base.jsonl" "$TMP/noout.jsonl" --json "$TMP/s2.json"
[ ! -e "$TMP/s2.json" ] && pass no_json_on_error || fail no_json_on_error
