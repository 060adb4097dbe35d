#!/usr/bin/env bash
# Progress that works in logs (issue 21): without a terminal, run and tds print a line every
# --progress-every S seconds (done/total, tok/s, ETA; none with the default 30 in a short run); in a
# terminal a bar. And the help-text and tooling fixes: eval report --help is report's own, no option
# listed twice, make demo's package check without dpkg.
source "$(dirname "$0")/lib.sh"
B=models/urial-demo-base.gguf
RUN=(run -m "$B" --urial data/demo/urial-demo.txt --data data/demo/heldout.jsonl --limit 12 --parallel 2 -n 96)
"$URIAL" "${RUN[@]}" --out "$TMP/a.jsonl" --progress-every 0.05 2>"$TMP/a.err"
n=$(grep -cE '^urial: run: [0-9]+/12 \([0-9.]+%\), [0-9.]+ tok/s, ETA [0-9hms?]+$' "$TMP/a.err")
[ "$n" -ge 1 ] && pass run_log_lines || fail run_log_lines "$(cat "$TMP/a.err")"
"$URIAL" "${RUN[@]}" --out "$TMP/b.jsonl" 2>"$TMP/b.err"
grep -qE '^urial: run: [0-9]+/12 ' "$TMP/b.err" && fail run_default_period "a line within 30 s: $(cat "$TMP/b.err")" ||
    pass run_default_period
"$URIAL" "${RUN[@]}" --out "$TMP/c.jsonl" --progress-every 0 2>"$TMP/c.err"
grep -qE '^urial: run: [0-9]+/12 ' "$TMP/c.err" && fail run_progress_off || pass run_progress_off
grep -q $'\r' "$TMP/a.err" && fail run_log_no_carriage_returns || pass run_log_no_carriage_returns
"$URIAL" tds --base "$B" --aligned models/urial-demo-chat.gguf --data data/demo/heldout.jsonl --outputs "$TMP/a.jsonl" \
    --limit 12 --out "$TMP/tds" --progress-every 0.001 2>"$TMP/t.err"
grep -qE '^urial: tds: [0-9]+/12 \([0-9.]+%\), [0-9.]+ tok/s, ETA ' "$TMP/t.err" && pass tds_log_lines ||
    fail tds_log_lines "$(tail -3 "$TMP/t.err")"
# in a terminal (script(1) gives one): a bar redrawn in place
if command -v script >/dev/null; then
    script -qec "$URIAL ${RUN[*]} --out $TMP/d.jsonl" /dev/null 2>/dev/null | tr '\r' '\n' >"$TMP/tty.out"
    grep -qE '\[#+-*\] [0-9]+/12 [0-9.]+%  [0-9.]+ tok/s  ETA' "$TMP/tty.out" && pass tty_bar || fail tty_bar "$(head -c 300 "$TMP/tty.out")"
else
    skip tty_bar "no script(1)"
fi
# help texts
"$URIAL" eval report --help >"$TMP/h" 2>&1
head -1 "$TMP/h" | grep -q '^usage: urial eval report ' && ! grep -q 'eval score' "$TMP/h" && pass eval_report_help_own ||
    fail eval_report_help_own "$(head -2 "$TMP/h")"
for c in score pairwise style; do
    "$URIAL" eval $c --help | head -1 | grep -q "^usage: urial eval $c " && pass "eval_${c}_help_own" || fail "eval_${c}_help_own"
done
for c in info tokenize generate logits bench prompt sft train chat run merge tds serve "eval score"; do
    # option lines ("  --name ARG   help", ARG upper case or a|b|c), not the usage text's "--epochs 15 ..."
    d=$("$URIAL" $c --help | grep -oE '^  (-[a-zA-Z], )?--[a-z0-9-]+(( [A-Z][^ ]*| [a-z0-9_-]+(\|[a-z0-9_-]+)+)( |$)|  |$)' |
        sed -E 's/^ *(-[a-zA-Z], )?--//; s/ .*//' | sort | uniq -d | tr '\n' ' ')
    grep -q '%%' <("$URIAL" $c --help) && d="$d %%"
    [ -z "$d" ] && pass "help_clean_${c// /_}" || fail "help_clean_${c// /_}" "$d"
done
# make demo's dependency check on a system without dpkg: a note, not a failure
mkdir -p "$TMP/nobin"
PATH=$TMP/nobin /bin/bash tools/deps.sh build 2>"$TMP/deps.err" && grep -q "no dpkg" "$TMP/deps.err" && pass deps_without_dpkg ||
    fail deps_without_dpkg "$(cat "$TMP/deps.err")"
