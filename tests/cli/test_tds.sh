#!/usr/bin/env bash
# urial tds end to end on small random-weight models: the first 50 instructions of the
# TDS authors' file with their answers (all three files), report rebuilt from
# tokens.jsonl, resume after kill -9 and after a torn line, shards merged (byte-identical
# to the unsharded run), every prompt mode (aligntds, plain, same, a template, a URIAL
# prompt) and ranking mode, joint and separate tokenization, a model against itself in
# the same context (all unshifted, KL 0, even on answers it did not write) and in
# separate contexts (the prompt's own effect), ranks against `urial logits`, several
# pairs in one report, one-line refusals, the prefix experiment, and the report in
# headless Chromium (tests/browser).
source "$(dirname "$0")/lib.sh"
V=$FIX/tokenizer/llama-spm/vocab-llama-spm.gguf
F=$FIX/aligntds/Llama-2-7b-chat-hf.json
"$URIAL" tds --help | grep -q "usage: urial tds" && pass help_tds || fail help_tds
"$URIAL" --help | grep -q "^  tds " && pass listed_tds || fail listed_tds
if [ ! -f "$V" ] || [ ! -f "$F" ]; then
    skip tds_suite "no fixtures at $FIX"
    exit 0
fi
SYNTH=(synth --ctx 1024 --dim 64 --layers 2 --heads 4 --kv-heads 2 --ff 128 --scale 0.3)
for s in 1 2; do
    "$URIAL" "${SYNTH[@]}" --vocab "$V" --type f16 --seed $s "$TMP/m$s.gguf" >/dev/null 2>&1 ||
        { fail synth "cannot write the test models"; exit 0; }
    "$URIAL" "${SYNTH[@]}" --type f32 --seed $s "$TMP/b$s.gguf" >/dev/null 2>&1 # built-in byte vocabulary
done
M1=$TMP/m1.gguf M2=$TMP/m2.gguf
count() { if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }
ids() { grep -oE '^\{"id":[0-9]+' "$1" | grep -oE '[0-9]+$'; }

# ---- the 50 instructions of the authors' file, answers given ------------------------------
TDS=(tds -t 1 --base "$M1" --aligned "$M2" --data "$F" --outputs "$F" --limit 50 -n 12)
"$URIAL" "${TDS[@]}" --out "$TMP/ref" >"$TMP/o" 2>"$TMP/e"
rc=$?
R=$TMP/ref
if [ $rc = 0 ] && [ -s "$R/tokens.jsonl" ] && [ -s "$R/summary.json" ] && [ -s "$R/report.html" ] &&
    [ "$(count "$R/tokens.jsonl")" = 50 ] && [ "$(ids "$R/tokens.jsonl")" = "$(seq 0 49)" ] &&
    grep -q '"examples": 50,' "$R/summary.json" && grep -q '"positions": 600,' "$R/summary.json" &&
    grep -q 'id="fig-classes-1"' "$R/report.html" && grep -q 'id="fig-shifted-1"' "$R/report.html" && [ ! -s "$TMP/o" ]; then
    pass tds_50_three_files
else
    fail tds_50_three_files "rc $rc: $(tail -n 2 "$TMP/e")"
fi
# every position has the fields of the issue; the aligned model reads the authors' rendered prompt,
# the base model their zero-shot wrapper "# Query: \n ```...``` \n\n \n# Answer: \n ```"
NUM='(null|[-0-9.e]+)'
if grep -q '"config":{"command":"tds","base":"m1.gguf",.*"aligned_prompt":"input","base_prompt":"aligntds","tokenize":"joint","rank":"aligned","answers":"Llama-2-7b-chat-hf.json","max_tokens":12}' "$R/tokens.jsonl" &&
    [ "$(grep -oE '\{"pos":[0-9]+,"token":[0-9]+,"text":"([^"\\]|\\.)*","aligned_top":[0-9]+(,"aligned_top_text":"([^"\\]|\\.)*")?,"rank":[0-9]+,"class":"(unshifted|marginal|shifted)","p_base":'"$NUM"',"p_align":'"$NUM"',"tp":'"$NUM"',"kl_align_base":'"$NUM"',"kl_base_align":'"$NUM"',"kl_topk":'"$NUM"',"top":\[\[[0-9]+,"([^"\\]|\\.)*",[-0-9.e]+\],\[' "$R/tokens.jsonl" | wc -l)" = 600 ] &&
    head -n 1 "$R/tokens.jsonl" | grep -q '"n_aligned_input":1[0-9][0-9],"n_base_input":35,"aligned_input_ids":\[1,518,25580,29962,.*\],"base_input_ids":\[1,396,13641,29901,29871,13,7521,'; then
    pass tds_record_fields
else
    fail tds_record_fields "$(head -c 600 "$R/tokens.jsonl")"
fi
for f in summary.json report.html; do cp "$R/$f" "$TMP/$f.ref"; done

# ---- tds report rebuilds the same bytes -----------------------------------------------------
rm "$R/summary.json" "$R/report.html"
if "$URIAL" tds report "$R" 2>"$TMP/e" && cmp -s "$R/summary.json" "$TMP/summary.json.ref" &&
    cmp -s "$R/report.html" "$TMP/report.html.ref"; then
    pass tds_report_rebuilds
else
    fail tds_report_rebuilds "$(cat "$TMP/e")"
fi

# ---- kill -9 in the middle, then a torn last line: nothing lost, nothing twice --------------
# (the first 20 answers: their records are the first 20 of the 50-answer run, byte for byte)
mkdir -p "$TMP/ref20" && head -n 20 "$R/tokens.jsonl" >"$TMP/ref20/tokens.jsonl" && "$URIAL" tds report "$TMP/ref20" 2>/dev/null
TDS20=(tds -t 1 --base "$M1" --aligned "$M2" --data "$F" --outputs "$F" --limit 20 -n 12)
K=$TMP/kill
"$URIAL" "${TDS20[@]}" --out "$K" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 400); do
    [ "$(count "$K/tokens.jsonl")" -ge 3 ] && break
    sleep 0.02
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
before=$(count "$K/tokens.jsonl")
"$URIAL" "${TDS20[@]}" --out "$K" >/dev/null 2>"$TMP/e1"
rc1=$?
# tear the last record: cut it mid-line, as a kill during the write would
head -c -37 "$K/tokens.jsonl" >"$TMP/torn" && cat "$TMP/torn" >"$K/tokens.jsonl"
"$URIAL" "${TDS20[@]}" --out "$K" >/dev/null 2>"$TMP/e2"
rc2=$?
if [ $rc1 = 0 ] && [ $rc2 = 0 ] && [ "$before" -lt 20 ] && cmp -s "$K/tokens.jsonl" "$TMP/ref20/tokens.jsonl" &&
    cmp -s "$K/summary.json" "$TMP/ref20/summary.json" && grep -q "incomplete last line" "$TMP/e2" &&
    grep -q "19 already in" "$TMP/e2" && grep -q "1 to score" "$TMP/e2"; then
    pass tds_resume_after_kill
else
    fail tds_resume_after_kill "killed at $before records, rc $rc1/$rc2: $(tail -n 3 "$TMP/e2")"
fi
[ "$(ids "$K/tokens.jsonl" | sort -n | uniq -d | wc -l)" = 0 ] && pass tds_resume_no_duplicates || fail tds_resume_no_duplicates

# ---- shards merge to the unsharded result ---------------------------------------------------
"$URIAL" "${TDS20[@]}" --shard 1/2 --out "$TMP/s1" >/dev/null 2>&1
"$URIAL" "${TDS20[@]}" --shard 0/2 --out "$TMP/s0" >/dev/null 2>&1
mkdir -p "$TMP/all"
if "$URIAL" merge --jsonl "$TMP/all/tokens.jsonl" "$TMP/s1/tokens.jsonl" "$TMP/s0/tokens.jsonl" 2>"$TMP/e" &&
    "$URIAL" tds report "$TMP/all" 2>>"$TMP/e" && [ "$(count "$TMP/s0/tokens.jsonl")" = 10 ] &&
    cmp -s "$TMP/all/tokens.jsonl" "$TMP/ref20/tokens.jsonl" && cmp -s "$TMP/all/summary.json" "$TMP/ref20/summary.json" &&
    cmp -s "$TMP/all/report.html" "$TMP/ref20/report.html"; then
    pass tds_shards_merge
else
    fail tds_shards_merge "$(cat "$TMP/e")"
fi

# ---- refusals: another tokenizer, another config in the same directory, bad options ---------
fails_with tds_other_tokenizer "different tokenizers .*TDS needs one vocabulary" \
    "$URIAL" tds --base "$TMP/b1.gguf" --aligned "$M2" --data "$F" --outputs "$F" --limit 2 --out "$TMP/x"
fails_with tds_other_config "line 1 was made with another max_tokens \(12, now 10\)" \
    "$URIAL" tds -t 1 --base "$M1" --aligned "$M2" --data "$F" --outputs "$F" --limit 50 -n 10 --out "$R"
fails_with tds_needs_out "--base, --aligned, --data and --out are required" "$URIAL" tds --base "$M1" --aligned "$M2"
fails_with tds_bad_shard "--shard '2/2' is not I/N" "$URIAL" tds --shard 2/2
fails_with tds_no_template "$TMP/m2.gguf" \
    "$URIAL" tds --base "$M1" --aligned "$M2" --data "$FIX/just-eval/just-eval-instruct.Llama-2-7b-chat-hf.json" --out "$TMP/y"

# ---- rendering with a template or a URIAL prompt ---------------------------------------------
# just-eval's answers with the llama-2 template: " [/INST]" + " " + answer, so the first answer token is " Thank"
JE=$FIX/just-eval/just-eval-instruct.Llama-2-7b-chat-hf.json
"$URIAL" tds -t 1 --base "$M1" --aligned "$M2" --data "$JE" --outputs "$JE" --template llama-2 --limit 2 -n 4 \
    --out "$TMP/tpl" >/dev/null 2>"$TMP/e"
"$URIAL" tds -t 1 --base "$M1" --aligned "$M2" --data "$JE" --urial urial-k0 --limit 1 -n 4 --out "$TMP/ur" \
    >/dev/null 2>>"$TMP/e"
if head -n 1 "$TMP/tpl/tokens.jsonl" | grep -q '"aligned_prompt":"llama-2","base_prompt":"aligntds",.*"answers":"just-eval-instruct.Llama-2-7b-chat-hf.json".*"tokens":\[{"pos":0,"token":[0-9]*,"text":" Thank"' &&
    grep -q '"aligned_prompt":"urial-k0",.*"answers":"greedy","max_tokens":4}.*"n_tokens":4,' "$TMP/ur/tokens.jsonl"; then
    pass tds_template_and_urial
else
    fail tds_template_and_urial "$(tail -n 2 "$TMP/e")"
fi

# ---- a model against itself ----------------------------------------------------------------
# the same context (--base-prompt same), on answers it did not write (the authors'): ranking its own
# top token, 100% unshifted; ranking the written token, unshifted exactly where that token is its
# top token; every KL 0 in both modes
selfrun() { # DIR ARGS...
    local d=$1; shift
    "$URIAL" tds -t 1 --base "$M2" --aligned "$M2" --data "$F" --outputs "$F" --limit 8 -n 16 --out "$TMP/$d" "$@" >/dev/null 2>"$TMP/e.$d"
}
q() { jq -c "$1" "$TMP/$2/summary.json"; }
selfrun same-a --base-prompt same && selfrun same-g --base-prompt same --rank given
KL0='[.kl.align_base.mean, .kl.base_align.mean, .kl.aligntds_topk.mean]'
if [ "$(q .ratios same-a)" = '{"unshifted":1,"marginal":0,"shifted":0}' ] && [ "$(q "$KL0" same-a)" = '[0,0,0]' ] &&
    [ "$(q "$KL0" same-g)" = '[0,0,0]' ] && [ "$(q .ratios.unshifted same-g)" = "$(q .written_is_aligned_top.ratio same-g)" ] &&
    [ "$(q '.written_is_aligned_top.ratio < 1' same-g)" = true ] && grep -q '"base_prompt":"same","tokenize":"joint","rank":"given"' "$TMP/same-g/tokens.jsonl"; then
    pass tds_self_same_context
else
    fail tds_self_same_context "$(q '[.ratios, .written_is_aligned_top, .kl]' same-a) / $(q '[.ratios, .written_is_aligned_top]' same-g) $(tail -n 1 "$TMP/e.same-g")"
fi
# separate contexts (the default): the prompt's own effect, the baseline a pair's shift is read against
selfrun sep-a
if [ "$(q '.ratios.unshifted < 1 and .kl.align_base.mean > 0' sep-a)" = true ] && grep -q '"base_prompt":"aligntds"' "$TMP/sep-a/tokens.jsonl"; then
    pass tds_self_separate_contexts
else
    fail tds_self_separate_contexts "$(q .ratios sep-a)"
fi
echo "# tds self-comparison (random model, 8 answers): same context unshifted $(q .ratios.unshifted same-a) (rank aligned), $(q .ratios.unshifted same-g) (rank given; written = top $(q .written_is_aligned_top.ratio same-g)); authors' contexts unshifted $(q .ratios.unshifted sep-a)"
# greedy answers of its own in the same context: all unshifted in either mode
"$URIAL" tds -t 1 --base "$M2" --aligned "$M2" --data "$F" --limit 4 -n 8 --base-prompt same --rank given --out "$TMP/self" >/dev/null 2>"$TMP/e"
if [ "$(q .ratios self)" = '{"unshifted":1,"marginal":0,"shifted":0}' ] && [ "$(q .written_is_aligned_top.ratio self)" = 1 ] &&
    grep -q '"answers":"greedy"' "$TMP/self/tokens.jsonl"; then
    pass tds_self_greedy
else
    fail tds_self_greedy "$(q .ratios self) $(tail -n 1 "$TMP/e")"
fi

# ---- prompt modes: what each model reads ----------------------------------------------------
tok() { "$URIAL" tokenize -m "$V" --json "$@" | tr -d ' '; }
first_rec() { head -n 1 "$TMP/$1/tokens.jsonl"; }
ids_of() { first_rec "$1" | jq -c ".$2"; }
Q=$(jq -r '.[0].pure_input' "$F")
selfrun plain --base-prompt plain && selfrun tpl2 --base-prompt llama-2 && selfrun urk0 --base-prompt urial-k0 &&
    selfrun sep --tokenize separate
ok_modes=1
[ "$(ids_of same-a base_input_ids)" = "$(ids_of same-a aligned_input_ids)" ] || ok_modes=0
[ "$(ids_of sep-a base_input_ids)" = "$(tok --text "$(printf '# Query: \n ```%s``` \n\n \n# Answer: \n ```' "$Q")")" ] || ok_modes=0
[ "$(ids_of plain base_input_ids)" = "$(tok --text "$Q")" ] || ok_modes=0
ids_of tpl2 base_input_ids | grep -q '^\[1,518,25580,29962,' || ok_modes=0                 # <s>[INST]
[ "$(ids_of urk0 base_input_ids | jq length)" -gt 100 ] && first_rec urk0 | grep -q '"base_prompt":"urial-k0"' || ok_modes=0
# separate tokenization (AlignTDS's): BOS added before the rendered "<s>", the prompt ends in a
# lone "▁" (29871), the answer starts with "▁Thank" (3374); joint: one BOS, "]" then "▁Thank"
ids_of sep aligned_input_ids | grep -q '^\[1,1,518,.*,29962,29871\]$' || ok_modes=0
ids_of sep-a aligned_input_ids | grep -q '^\[1,518,.*,29962\]$' || ok_modes=0
[ "$(first_rec sep | jq '.tokens[0].token')" = 3374 ] && [ "$(first_rec sep-a | jq '.tokens[0].token')" = 3374 ] || ok_modes=0
grep -q '"tokenize":"separate"' "$TMP/sep/tokens.jsonl" || ok_modes=0
[ $ok_modes = 1 ] && pass tds_prompt_modes || fail tds_prompt_modes "$(ids_of sep aligned_input_ids | head -c 100) $(ids_of plain base_input_ids | head -c 80)"

# ---- several pairs in one report --------------------------------------------------------------
if "$URIAL" tds report "$R" "$TMP/sep-a" "$TMP/same-a" --out "$TMP/pairs.html" 2>"$TMP/e" && [ -s "$TMP/pairs.html" ] &&
    grep -q 'id="fig-classes-3"' "$TMP/pairs.html" && [ "$(grep -c '^urial: tds: .*: [0-9]* answers' "$TMP/e")" = 3 ] &&
    grep -q "wrote $TMP/same-a/summary.json and $TMP/pairs.html" "$TMP/e"; then
    pass tds_report_pairs
else
    fail tds_report_pairs "$(cat "$TMP/e")"
fi
fails_with tds_report_pairs_need_out "3 directories: give --out FILE.html" "$URIAL" tds report "$R" "$TMP/sep-a" "$TMP/same-a"
fails_with tds_aligned_not_same "--aligned-prompt cannot be \"same\"" \
    "$URIAL" tds --base "$M1" --aligned "$M2" --data "$F" --aligned-prompt same --out "$TMP/x"
fails_with tds_bad_prompt "--base-prompt 'nonesuch' is not aligntds, plain, same, input, auto, a chat template or a URIAL prompt" \
    "$URIAL" tds --base "$M1" --aligned "$M2" --data "$F" --base-prompt nonesuch --out "$TMP/x"
fails_with tds_input_needs_authors "--base-prompt input needs the TDS authors' file" \
    "$URIAL" tds --base "$M1" --aligned "$M2" --data "$FIX/just-eval/just-eval-instruct.Llama-2-7b-chat-hf.json" --base-prompt input --template llama-2 --out "$TMP/x"

# ---- ranks agree with `urial logits` (byte vocabulary: the whole ranking fits in --top) -----
# the written tokens ranked (--rank given) under the base model after its own input; and the
# aligned top tokens (the default) are the aligned model's greedy tokens after its input
B=$TMP/bytes
"$URIAL" tds -t 1 --base "$TMP/b1.gguf" --aligned "$TMP/b2.gguf" --data "$F" --outputs "$F" --limit 2 -n 10 --rank given \
    --out "$B" >/dev/null 2>"$TMP/e"
agree=1 n_checked=0
while IFS= read -r rec; do
    inp=$(grep -oE '"base_input_ids":\[[0-9,]+\]' <<<"$rec" | grep -oE '[0-9,]+')
    toks=$(grep -oE '\{"pos":[0-9]+,"token":[0-9]+' <<<"$rec" | grep -oE '[0-9]+$' | paste -sd,)
    ranks=$(grep -oE '"rank":[0-9]+' <<<"$rec" | grep -oE '[0-9]+$' | paste -sd,)
    ni=$(tr ',' '\n' <<<"$inp" | wc -l)
    nt=$(tr ',' '\n' <<<"$toks" | wc -l)
    # rows ni-1 .. ni+nt-2 predict the answer tokens; the rank is the token's place in the full top list
    got=$("$URIAL" logits -t 1 -m "$TMP/b1.gguf" --ids "$inp,$toks" --top 1000 2>/dev/null |
        awk -v from=$((ni - 1)) -v n="$nt" -v toks="$toks" 'BEGIN { split(toks, T, ",") }
            { line = NR - 1 } line >= from && line < from + n {
                t = T[line - from + 1]; s = $0; sub(/.*"top":\[\[/, "", s); k = split(s, P, /\],\[/)
                for (i = 1; i <= k; i++) { split(P[i], q, ","); if (q[1] == t) { printf "%s%d", (line > from ? "," : ""), i; break } } }')
    [ -n "$got" ] && [ "$got" = "$ranks" ] || agree=0
    n_checked=$((n_checked + nt))
done <"$B/tokens.jsonl"
[ $agree = 1 ] && [ $n_checked = 20 ] && pass tds_ranks_match_logits || fail tds_ranks_match_logits "checked $n_checked: $(tail -n 1 "$TMP/e")"
"$URIAL" tds -t 1 --base "$TMP/b1.gguf" --aligned "$TMP/b2.gguf" --data "$F" --outputs "$F" --limit 1 -n 10 \
    --out "$TMP/bytes-a" >/dev/null 2>"$TMP/e"
rec=$(head -n 1 "$TMP/bytes-a/tokens.jsonl")
ni=$(jq '.n_aligned_input' <<<"$rec")
want=$("$URIAL" logits -t 1 -m "$TMP/b2.gguf" --ids "$(jq -r '.aligned_input_ids + [.tokens[].token] | join(",")' <<<"$rec")" \
    --top 1 2>/dev/null | sed -n "${ni},$((ni + 9))p" | jq -c '.top[0][0]' | paste -sd,)
got=$(jq -r '[.tokens[].aligned_top] | join(",")' <<<"$rec")
[ -n "$want" ] && [ "$want" = "$got" ] && pass tds_aligned_top_is_greedy || fail tds_aligned_top_is_greedy "want $want got $got"

# ---- the prefix experiment ------------------------------------------------------------------
P=$TMP/prefix
"$URIAL" tds prefix -t 1 --base "$M2" --aligned "$M2" --data "$F" --limit 3 -n 12 --k 0,4,8 --base-prompt same --out "$P" \
    >/dev/null 2>"$TMP/e"
rc=$?
if [ $rc = 0 ] && [ "$(grep -c '"agreement": 1,' "$P/prefix.json")" = 3 ] && [ -s "$P/prefix.html" ] &&
    [ "$(count "$P/prefix.jsonl")" = 3 ] && grep -q '"k":8,"compared":4,"matched":4,"exact":4,"match":"1111"' "$P/prefix.jsonl"; then
    pass tds_prefix_self_agrees
else
    fail tds_prefix_self_agrees "rc $rc: $(tail -n 2 "$TMP/e") $(head -c 300 "$P/prefix.json")"
fi
P2=$TMP/prefix2
"$URIAL" tds prefix -t 1 --base "$M1" --aligned "$M2" --data "$F" --outputs "$F" --limit 6 -n 16 --k 5,10 --out "$P2" \
    >/dev/null 2>"$TMP/e"
if [ $? = 0 ] && grep -q '"k": 5, "answers": 6, "positions": 66,' "$P2/prefix.json" &&
    grep -q '"k": 10, "answers": 6, "positions": 36,' "$P2/prefix.json" && grep -q 'id="prefix-plot"' "$P2/prefix.html"; then
    pass tds_prefix_files
else
    fail tds_prefix_files "$(tail -n 2 "$TMP/e")"
fi
cp "$P2/prefix.json" "$TMP/prefix.json.ref" && rm "$P2/prefix.json" "$P2/prefix.html"
"$URIAL" tds prefix report "$P2" 2>/dev/null && cmp -s "$P2/prefix.json" "$TMP/prefix.json.ref" && [ -s "$P2/prefix.html" ] &&
    pass tds_prefix_report_rebuilds || fail tds_prefix_report_rebuilds

# prefix: shards 0/2 and 1/2 merged, and a run cut after two records (a torn line appended, as a
# kill -9 mid-write leaves it) then resumed, both give the unsharded run's records byte for byte
PX=(tds prefix -t 1 --base "$M1" --aligned "$M2" --data "$F" --outputs "$F" --limit 6 -n 16 --k 5,10)
"$URIAL" "${PX[@]}" --shard 0/2 --out "$TMP/px0" >/dev/null 2>&1
"$URIAL" "${PX[@]}" --shard 1/2 --out "$TMP/px1" >/dev/null 2>&1
mkdir -p "$TMP/pxm" "$TMP/pxr"
"$URIAL" merge --jsonl "$TMP/pxm/prefix.jsonl" "$TMP/px0/prefix.jsonl" "$TMP/px1/prefix.jsonl" 2>/dev/null
head -n 2 "$P2/prefix.jsonl" >"$TMP/pxr/prefix.jsonl" && printf '{"id":2,"input_ind' >>"$TMP/pxr/prefix.jsonl"
"$URIAL" "${PX[@]}" --out "$TMP/pxr" >/dev/null 2>"$TMP/e"
if cmp -s "$TMP/pxm/prefix.jsonl" "$P2/prefix.jsonl" && cmp -s "$TMP/pxr/prefix.jsonl" "$P2/prefix.jsonl" &&
    grep -q "2 already in .*, 4 to run" "$TMP/e" && grep -q "incomplete last line" "$TMP/e"; then
    pass tds_prefix_shards_resume
else
    fail tds_prefix_shards_resume "$(cat "$TMP/e")"
fi

# ---- the report in headless Chromium ----------------------------------------------------------
# a pair close enough to give all three classes: the same weights in f32 and f16 with a
# slightly different rope base; the aligned model answers greedily
"$URIAL" "${SYNTH[@]}" --vocab "$V" --type f32 --seed 3 "$TMP/c1.gguf" >/dev/null 2>&1
"$URIAL" "${SYNTH[@]}" --vocab "$V" --type f16 --seed 3 --rope-base 9800 "$TMP/c0.gguf" >/dev/null 2>&1
"$URIAL" tds -t 1 --base "$TMP/c0.gguf" --aligned "$TMP/c1.gguf" --data "$F" --limit 30 -n 24 --out "$TMP/mix" >/dev/null 2>&1
missing=""
for c in unshifted marginal shifted; do grep -q "\"class\":\"$c\"" "$TMP/mix/tokens.jsonl" || missing="$missing $c"; done
[ -z "$missing" ] && pass tds_mixed_classes || fail tds_mixed_classes "no position of class$missing"

BROWSER=tests/browser
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if command -v node >/dev/null && [ -x "$CHROMIUM" ]; then
    if [ ! -d "$BROWSER/node_modules/playwright-core" ]; then
        (cd "$BROWSER" && npm ci --silent >/dev/null 2>&1) || { fail browser_setup "npm ci failed in $BROWSER"; exit 0; }
    fi
    "$URIAL" tds report "$TMP/mix" "$TMP/sep-a" --out "$TMP/mix-pairs.html" 2>/dev/null
    CHROMIUM=$CHROMIUM node "$BROWSER/tds_report.mjs" "$TMP/mix/report.html" "$P2/prefix.html" "$TMP/mix-pairs.html"
else
    skip browser_report "node or chromium ($CHROMIUM) not installed"
fi
