#!/usr/bin/env bash
# The docs cannot drift from the binary. Reads README.md, docs/*.md and tests/README.md and
# checks every command they show (conventions: docs/README.md "How the docs are checked"):
#   1. ```console blocks are run in a scratch directory (one per doc file) shaped like the
#      repository root; "$ CMD" lines must exit 0 and print the lines shown after them, in
#      order ("..." matches any text; "console nocompare" blocks are only run);
#   2. every other urial command (code blocks, inline code) must name a real command and
#      subcommand, and use only options that its --help lists; option names in inline code
#      must belong to urial or one of our scripts, or be another program's (FOREIGN);
#   3. `make TARGET` must be a Makefile target; bench/ and tools/ scripts must exist and
#      mention every option used;
#   4. relative links and #anchors must resolve; docs/NAME.md "Heading" pointers in the
#      sources must name an existing file and heading;
#   5. the README's command table and `urial --help` list the same commands.
# Every failure names the doc's file:line. It runs the cheap checks (2-5) first.
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
URIAL=$(cd "$(dirname "$URIAL")" && pwd)/$(basename "$URIAL")
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
DOCS=(README.md docs/*.md tests/README.md)
ALL_MD=("${DOCS[@]}" models/MODEL_CARD.md bench/*.md data/demo/README.md)
# options of other programs that the docs name: vLLM's, llama.cpp's, the URIAL authors' scripts'
FOREIGN=" --repetition_penalty --temperature --top_p --max-logprobs --model_output_file --start_idx "

nfail=0
bad() { fail "$1" "$2"; nfail=$((nfail + 1)); }

# ---- extract: headings, links, commands, console blocks --------------------------------
# Records (tab-separated): H file slug | L file:line target | C file:line command
# | O file:line option | R file:line mode command | E file:line expected-output | X file:line problem
awk -v CHECKED=" ${DOCS[*]} " '
function out(k, a, b, c,   s) { s = k "\t" a "\t" b; if (c != "") s = s "\t" c; print s }
function slug(t,   s, r, i, ch) {
    s = tolower(t); r = ""
    for (i = 1; i <= length(s); i++) { ch = substr(s, i, 1); if (ch ~ /[a-z0-9 _-]/) r = r ch }
    gsub(/ /, "-", r)
    return r
}
function heading(t,   s, n) {
    sub(/^#+[ \t]+/, "", t); sub(/[ \t]+#*[ \t]*$/, "", t)
    s = slug(t); n = seen[cur, s]++
    out("H", cur, n ? s "-" n : s)
}
# A shell command line: quoted text becomes Q, a comment is cut, and it is split into
# segments at ; && || & and at | (in inline code only at " | ", since "A|B" there is an
# alternation and "\|" a table cell escape).
function command(loc, text, inline,   i, n, ch, q, seg, r, segs, k) {
    n = length(text); seg = ""; q = ""; k = 0
    for (i = 1; i <= n; i++) {
        ch = substr(text, i, 1)
        if (q != "") { if (ch == q) { q = ""; seg = seg "Q" } else if (ch == "\\" && q == "\"") i++; continue }
        if (ch == "\"" || ch == "'\''") { q = ch; continue }
        if (ch == "#" && (i == 1 || substr(text, i - 1, 1) ~ /[ \t]/)) break
        if (ch == ";" || ch == "&" || (ch == "|" && substr(text, i - 1, 1) != "\\" &&
            (!inline || (substr(text, i - 1, 1) == " " && substr(text, i + 1, 1) ~ /[ |]/)))) {
            segs[++k] = seg; seg = ""; if (substr(text, i + 1, 1) ~ /[&|]/) i++; continue
        }
        seg = seg ch
    }
    segs[++k] = seg
    for (i = 1; i <= k; i++) {
        r = segs[i]; gsub(/\\\|/, "|", r); gsub(/[ \t]+/, " ", r); sub(/^ /, "", r); sub(/ $/, "", r)
        if (r != "") out("C", loc, r)
    }
}
function inline_code(loc, c,   rest, o) {
    if (c ~ /^(\$ )?(urial|build\/urial)( |$)/ || c ~ /^(make( |$)|bench\/|tools\/|build\/bench_|(\/usr\/bin\/)?python3 |nice )/) {
        sub(/^\$ /, "", c); command(loc, c, 1); return
    }
    rest = " " c
    while (match(rest, /[ \[(|]--[A-Za-z][A-Za-z0-9_-]*/)) {
        o = substr(rest, RSTART + 1, RLENGTH - 1); out("O", loc, o); rest = substr(rest, RSTART + RLENGTH)
    }
}
# Inline code spans (a run of n backticks up to the next run of exactly n) and links of
# a paragraph; text holds its lines joined by "\n", the first being line first.
function paragraph(text, first,   n, i, j, r, e, c, plain, line, rest, t, pos) {
    if (text == "") return
    n = length(text); plain = ""; i = 1
    while (i <= n) {
        c = substr(text, i, 1)
        if (c == "\\") { plain = plain substr(text, i, 2); i += 2; continue }
        if (c != "`") { plain = plain c; i++; continue }
        for (r = 0; substr(text, i + r, 1) == "`"; r++);
        for (j = i + r; j <= n; j++) {
            if (substr(text, j, 1) != "`") continue
            for (e = 0; substr(text, j + e, 1) == "`"; e++);
            if (e == r) break
            j += e - 1
        }
        if (j > n) { plain = plain substr(text, i, r); i += r; continue }
        c = substr(text, i + r, j - i - r)
        t = substr(text, 1, i); line = first + gsub(/\n/, "\n", t)
        gsub(/\n/, " ", c); if (c ~ /^ .* $/) c = substr(c, 2, length(c) - 2)
        if (checked) inline_code(cur ":" line, c)
        t = substr(text, i, j + r - i); gsub(/[^\n]/, " ", t); plain = plain t
        i = j + r
    }
    if (!checked) return
    rest = plain; pos = 0
    while (match(rest, /\]\([^) \t\n]+\)/)) {
        t = substr(rest, 1, RSTART); line = first + gsub(/\n/, "\n", t)
        out("L", cur ":" (line + pos), substr(rest, RSTART + 2, RLENGTH - 3))
        t = substr(rest, 1, RSTART + RLENGTH - 1); pos += gsub(/\n/, "\n", t)
        rest = substr(rest, RSTART + RLENGTH)
    }
}
function flush() { paragraph(para, pstart); para = ""; pstart = 0 }
function endfile() {
    flush()
    if (incode) out("X", cur ":" fstart, "a code block opened here is never closed")
    if (pending) out("X", cur ":" cmdline, "a command continued with \\ on the last line of its block")
    incode = 0; pending = 0
}
FNR == 1 { if (NR > 1) endfile(); cur = FILENAME; checked = index(CHECKED, " " cur " ") > 0; lastblank = 1 }
{ line = $0; sub(/\r$/, "", line) }
incode {
    t = line; sub(/^[ \t]+/, "", t)
    if (substr(t, 1, flen) == fence && t ~ /^(`+|~+)[ \t]*$/) {
        if (pending) out("X", FILENAME ":" cmdline, "a command continued with \\ at the end of its block")
        incode = 0; pending = 0; next
    }
    if (!checked || skiplang) next
    if (pending) { cmd = cmd " " t }
    else if (lang == "console" && line ~ /^\$ /) { cmd = substr(line, 3); cmdline = FNR }
    else if (lang == "console") {
        if (!cmdline) out("X", FILENAME ":" FNR, "console output before any $ command")
        else { gsub(/\t/, "\001", line); out("E", FILENAME ":" FNR, line) }
        next
    } else if (lang == "text" && t !~ /^\$ /) next
    else { cmd = line; sub(/^[ \t]*\$ /, "", cmd); cmdline = FNR }
    if (cmd ~ /\\$/) { sub(/\\$/, "", cmd); pending = 1; next }
    pending = 0
    if (lang == "console") out("R", FILENAME ":" cmdline, mode, cmd)
    command(FILENAME ":" cmdline, cmd, 0)
    next
}
match(line, /^[ \t]*(```+|~~~+)/) {
    flush()
    fence = substr(line, RSTART, RLENGTH); sub(/^[ \t]+/, "", fence); flen = length(fence)
    info = substr(line, RSTART + RLENGTH); sub(/^[ \t]+/, "", info)
    lang = info; sub(/[ \t].*/, "", lang); mode = info; sub(/^[^ \t]*[ \t]*/, "", mode)
    if (mode == "") mode = "compare"
    if (lang == "console" && mode != "compare" && mode != "nocompare")
        out("X", FILENAME ":" FNR, "unknown console mode \"" mode "\" (nocompare, or nothing)")
    skiplang = lang ~ /^(json|js|javascript|python|py|html|css|jinja|c|diff|yaml)$/
    incode = 1; fstart = FNR; cmdline = 0; pending = 0; next
}
/^#+[ \t]/ && match(line, /^#+/) && RLENGTH <= 6 { flush(); heading(line); paragraph(line, FNR); lastblank = 0; next }
/^[ \t]*$/ { flush(); lastblank = 1; next }
{
    if (checked && lastblank && para == "" && line ~ /^(    |\t)[ \t]*(\$ |urial |build\/urial |make )/)
        out("X", FILENAME ":" FNR, "an indented code block: use a fenced one (```sh, or ```console to run it)")
    para = para (para == "" ? "" : "\n") line; if (!pstart) pstart = FNR; lastblank = 0
}
END { endfile() }
' "${ALL_MD[@]}" >"$TMP/items"

while IFS=$'\t' read -r k loc msg _; do
    [ "$k" = X ] && bad "markdown_$loc" "$loc: $msg"
done <"$TMP/items"

# ---- 2, 3. commands against the binary's --help, the Makefile and the scripts ------------
mkdir -p "$TMP/help"
# help CHAIN...: `urial CHAIN --help` into a file (cached); fails when it exits non-zero
help() {
    local f="$TMP/help/_${*// /_}"
    [ -f "$f" ] || "$URIAL" "$@" --help >"$f" 2>/dev/null || : >"$f"
    [ -s "$f" ] && cat "$f"
}
help >/dev/null  # urial --help
COMMANDS=" $(sed -n '/^commands:/,$s/^  \([a-z][a-z-]*\) .*/\1/p' "$TMP/help/_" | tr '\n' ' ') "
[ "$COMMANDS" != "  " ] && pass help_commands || bad help_commands "urial --help lists no commands"
KNOWN_OPTS=" "
for c in $COMMANDS; do
    help "$c" >/dev/null
    for s in $(grep -oE "urial $c [a-z]+( |$)" "$TMP/help/_$c" | awk '{print $3}' | sort -u); do help "$c" "$s" >/dev/null; done
done
KNOWN_OPTS+="$(cat "$TMP"/help/* bench/*.sh bench/*.c tools/* 2>/dev/null | grep -oE -- '--[A-Za-z][A-Za-z0-9_-]*' | sort -u | tr '\n' ' ')"

has_opt() { grep -qE -- "(^|[^A-Za-z0-9_-])$2([^A-Za-z0-9_-]|$)" <<<"$1"; }
# subcommands that help text $2 of `urial $1` names ("urial $1 WORD")
subs_of() { grep -oE "urial $1 [a-z]+( |\]|$)" <<<"$2" | awk '{print $NF}' | tr -d ']' | sort -u | tr '\n' ' '; }
# does every usage line of `urial $1` name a subcommand?
sub_required() {
    local usage
    usage=$(awk 'NR == 1 || /^ +urial / { print; next } { exit }' <<<"$2")
    ! grep -vqE "urial $1 [a-z]+( |$)" <<<"$usage"
}

check_urial() { # LOC WORD... (the words after "urial")
    local loc=$1; shift
    local w=("$@") cmd=${1:-} chain ht i=1 alt ok o
    [ -z "$cmd" ] && return 0
    case "$cmd" in --help | -h | help | --version | version | ... | *[A-Z]*) return 0 ;; esac
    if [[ "$COMMANDS" != *" $cmd "* ]]; then bad "command_$loc" "$loc: 'urial $cmd': no such command (urial --help lists:$COMMANDS)"; return; fi
    chain=$cmd; ht=$(help "$cmd")
    while [ $i -lt ${#w[@]} ] && [[ "${w[$i]}" =~ ^[a-z]+(\|[a-z]+)*$ ]]; do
        local subs; subs=" $(subs_of "$chain" "$ht")"
        ok=1
        for alt in ${w[$i]//|/ }; do [[ "$subs" == *" $alt "* ]] || ok=0; done
        [ $ok = 1 ] || break
        for alt in ${w[$i]//|/ }; do ht+=$'\n'"$(help $chain "$alt")"; done
        chain+=" ${w[$i]%%|*}"; i=$((i + 1))
    done
    if [ "$chain" = "$cmd" ] && [ -n "${w[$i]:-}" ] && [[ "${w[$i]}" != -* ]] && sub_required "$cmd" "$ht"; then
        bad "command_$loc" "$loc: 'urial $cmd ${w[$i]:-}': not a subcommand (urial $cmd has:$(subs_of "$cmd" "$ht"))"
        return
    fi
    for ((; i < ${#w[@]}; i++)); do
        o=${w[$i]}; o=${o#[\[(\{]}; o=${o%%[\])\},;:.]*}; o=${o%%=*}
        [[ "$o" =~ ^(--[A-Za-z][A-Za-z0-9_-]*|-[A-Za-z])$ ]] || continue
        [[ "$o" == --help || "$o" == -h ]] && continue
        has_opt "$ht" "$o" || bad "option_$loc" "$loc: 'urial $chain' has no option $o (not in urial $chain --help)"
    done
}

# make targets, with the Makefile's variables expanded (BUILD=build)
TARGETS=" $(env -u BUILD -u SANITIZE MAKEFLAGS= make -pRrq -f Makefile : 2>/dev/null | grep -oE '^[A-Za-z0-9_./-]+:' | tr -d ':' | sort -u | tr '\n' ' ') "
check_script() { # LOC FILE WORD...: the script exists and mentions each option
    local loc=$1 f=$2 o; shift 2
    if [[ "$f" == *[*?]* ]]; then compgen -G "$f" >/dev/null || bad "script_$loc" "$loc: $f: no such files"; return; fi
    [ -f "$f" ] || { bad "script_$loc" "$loc: $f: no such file"; return; }
    for o in "$@"; do
        o=${o#[\[(]}; o=${o%%[\]),]*}; o=${o%%=*}
        [[ "$o" =~ ^--[A-Za-z][A-Za-z0-9_-]*$ ]] || continue
        grep -qE -- "(^|[^A-Za-z0-9_-])$o([^A-Za-z0-9_-]|$)" "$f" || bad "script_$loc" "$loc: $f has no option $o"
    done
}
check_command() { # LOC TEXT
    local loc=$1 w t
    read -ra w <<<"$2"
    while [ ${#w[@]} -gt 0 ]; do # environment assignments and wrappers
        case "${w[0]}" in
        [A-Za-z_]*=*) w=("${w[@]:1}") ;;
        nice) w=("${w[@]:1}"); [ "${w[0]:-}" = -n ] && w=("${w[@]:2}") ;;
        time | env | exec | sudo | python3 | /usr/bin/python3 | bash | sh) w=("${w[@]:1}") ;;
        *) break ;;
        esac
    done
    [ ${#w[@]} -gt 0 ] || return 0
    case "${w[0]}" in
    urial | build/urial) check_urial "$loc" "${w[@]:1}" ;;
    make)
        for t in "${w[@]:1}"; do
            [[ "$t" == -* || "$t" == *=* || "$t" =~ ^[A-Z_]+$ ]] && continue
            [[ "$TARGETS" == *" $t "* ]] || bad "make_$loc" "$loc: 'make $t': no such target in the Makefile"
        done ;;
    build/bench_*) check_script "$loc" "bench/${w[0]#build/}.c" "${w[@]:1}" ;;
    bench/*/ | tools/*/ | tests/*/ | bench/ | tools/ | tests/) ;;
    bench/* | tools/* | tests/*) check_script "$loc" "${w[0]}" "${w[@]:1}" ;;
    esac
}
f0=$nfail
while IFS=$'\t' read -r k loc a; do
    case "$k" in
    C) check_command "$loc" "$a" ;;
    O) [[ "$KNOWN_OPTS" == *" $a "* || "$FOREIGN" == *" $a "* ]] ||
        bad "option_$loc" "$loc: option $a belongs to no urial command and no script under bench/ or tools/ (another program's? add it to FOREIGN)" ;;
    esac
done <"$TMP/items"
[ $nfail = "$f0" ] && pass commands_and_options

# ---- 4. links and anchors; pointers from the sources --------------------------------------
f0=$nfail
has_anchor() { grep -qx "H"$'\t'"$1"$'\t'"$2" "$TMP/items"; }
while IFS=$'\t' read -r k loc target _; do
    [ "$k" = L ] || continue
    case "$target" in http://* | https://* | mailto:*) continue ;; esac
    doc=${loc%%:*} path=${target%%#*} anchor=
    [[ "$target" == *"#"* ]] && anchor=${target#*#}
    if [ -z "$path" ]; then file=$doc; else file=$(realpath -m --relative-to="$ROOT" "$(dirname "$doc")/$path"); fi
    if [ ! -e "$file" ]; then bad "link_$loc" "$loc: link to $target: no such file ($file)"; continue; fi
    if [ -n "$anchor" ]; then
        [ -d "$file" ] && file=$file/README.md
        has_anchor "$file" "$anchor" || bad "link_$loc" "$loc: link to $target: $file has no heading with anchor #$anchor"
    fi
done <"$TMP/items"
slug() { tr 'A-Z' 'a-z' <<<"$1" | tr -cd 'a-z0-9 _-' | tr ' ' '-'; }
while IFS= read -r hit; do # FILE:LINE:docs/NAME.md "Heading" (quotes escaped in C strings)
    src=${hit%%:docs/*} p=docs/${hit#*:docs/}
    doc=${p%%[ \\\"]*} title=
    [[ "$p" == *\"* ]] && { title=${p#*\"}; title=${title%\"}; title=${title%\\}; }
    if [ ! -f "$doc" ]; then bad "pointer_$src" "$src: points to $doc: no such file"
    elif [ -n "$title" ] && ! has_anchor "$doc" "$(slug "$title")"; then bad "pointer_$src" "$src: points to $doc \"$title\": no such heading"; fi
done < <(grep -rnoE 'docs/[A-Za-z0-9_-]+\.md( \\?"[^"\\]+\\?")?' src include tools bench models tests/cli tests/unit Makefile .ci 2>/dev/null |
    grep -v '^tests/cli/test_docs.sh:')
while IFS= read -r hit; do bad "pointer_${hit%%:*}" "an old pointer into README.md (the reference is in docs/): $hit"; done < <(
    grep -rnE 'README \\?"' src include tools bench models Makefile 2>/dev/null)
[ $nfail = "$f0" ] && pass links_and_pointers

# ---- 5. the README's command table -----------------------------------------------------------
f0=$nfail
table=" $(grep -oE '^\| `urial [a-z][a-z-]*' README.md | awk '{print $3}' | sort -u | tr '\n' ' ') "
for c in $COMMANDS; do [[ "$table" == *" $c "* ]] || bad command_table "README.md: the command table has no row for 'urial $c'"; done
for c in $table; do [[ "$COMMANDS" == *" $c "* ]] || bad command_table "README.md: the command table names 'urial $c', which urial --help does not list"; done
[ $nfail = "$f0" ] && pass command_table

# ---- 1. run the console blocks ------------------------------------------------------------
mkdir -p "$TMP/bin" && ln -s "$URIAL" "$TMP/bin/urial"
setup() { # DIR: a scratch copy of the repository root's shape
    mkdir -p "$1/repo/build"
    for d in models data tools bench; do ln -s "$ROOT/$d" "$1/repo/$d"; done
    ln -s "$URIAL" "$1/repo/build/urial"
    [ -d "$FIX" ] && mkdir -p "$1/shared" && ln -s "$(cd "$FIX" && pwd)" "$1/shared/fixtures"
}
patof() { local s=$1; s=${s//\\/\\\\}; s=${s//\*/\\*}; s=${s//\?/\\?}; s=${s//\[/\\[}; printf '%s' "${s//.../*}"; }
# compare: the expected lines collected for the command (expect: "file:line<TAB>text") against
# its output in $TMP/got, as a subsequence; a tab in the doc's output is stored as \001
compare() {
    local want w i=0 n p l
    mapfile -t got < <(sed 's/[[:space:]]*$//' "$TMP/got" | tr '\t' '\001')
    n=${#got[@]}
    for want in "${expect[@]}"; do
        w=${want#*$'\t'}; w=${w%"${w##*[![:space:]]}"}
        { [ -z "$w" ] || [ "$w" = ... ]; } && continue
        p=$(patof "$w")
        while [ $i -lt $n ] && [[ "${got[$i]}" != $p ]]; do i=$((i + 1)); done
        if [ $i -ge $n ]; then
            l=${want%%$'\t'*}
            bad "output_$l" "$l: the output of '$cmd' has no line '${w//$'\001'/\\t}' (after the lines matched before it); it printed: $(head -c 600 "$TMP/got")"
            return
        fi
        i=$((i + 1))
    done
}
run_pending() { # run the command collected so far (cmd, mode, loc, expect)
    [ -n "${cmd:-}" ] || return 0
    local doc=${loc%%:*} rc
    if [[ "$cmd" == *../shared/fixtures* && ! -d "$FIX" ]]; then skip "run_$loc" "no fixtures at $FIX"; cmd=; return; fi
    (cd "$TMP/run/$doc/repo" && PATH="$TMP/bin:$PATH" timeout 120 bash -o pipefail -c "$cmd") >"$TMP/got" 2>&1
    rc=$?
    [ $rc = 141 ] && rc=0 # SIGPIPE: a reader such as head stopped early
    if [ $rc != 0 ]; then
        bad "run_$loc" "$loc: '$cmd' exited with status $rc: $(tail -c 600 "$TMP/got")"
    elif [ "$mode" = compare ]; then
        compare
    fi
    runs=$((runs + 1)); cmd=
}
f0=$nfail runs=0 cmd= expect=()
while IFS=$'\t' read -r k l a b; do
    case "$k" in
    R)
        run_pending
        [ -d "$TMP/run/${l%%:*}" ] || setup "$TMP/run/${l%%:*}"
        loc=$l mode=$a cmd=$b expect=() ;;
    E) expect+=("$l"$'\t'"$a") ;;
    esac
done <"$TMP/items"
run_pending
[ $runs -gt 0 ] || bad run_blocks "no console blocks found in ${DOCS[*]}"
[ $nfail = "$f0" ] && pass "run_console_blocks ($runs commands)"
[ $nfail = 0 ]
