# Shared helpers for CLI tests: source this, call `t NAME CMD...` or check by hand.
# Each check prints PASS/FAIL/SKIP lines that tests/run.sh counts.
set -u
URIAL=${URIAL:-$PWD/build/urial}
FIX=${URIAL_FIXTURES:-../shared/fixtures}
SUITE=${SUITE:-$(basename "$0" .sh)}
TMP=$(mktemp -d /tmp/urial-cli-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
pass() { echo "PASS $SUITE/$1"; }
fail() { echo "FAIL $SUITE/$1: ${2:-}"; }
skip() { echo "SKIP $SUITE/$1: ${2:-}"; }
# ok NAME CMD... : passes when CMD exits 0
ok() { local n=$1; shift; if "$@" >"$TMP/out" 2>"$TMP/err"; then pass "$n"; else fail "$n" "$(head -c 300 "$TMP/err")"; fi; }
# fails_with NAME REGEX CMD... : passes when CMD exits non-zero (no crash) and stderr holds exactly
# one error line, matching REGEX (the model-load line "... KV cache ..." may precede it)
fails_with() {
    local n=$1 re=$2; shift 2
    if "$@" >"$TMP/out" 2>"$TMP/err"; then fail "$n" "expected failure, got exit 0"; return; fi
    local rc=$?
    if [ $rc -ge 128 ]; then fail "$n" "crashed (status $rc)"; return; fi
    grep -v 'KV cache' "$TMP/err" >"$TMP/err1"
    if [ "$(wc -l <"$TMP/err1")" -ne 1 ]; then fail "$n" "expected one error line, got: $(head -c 300 "$TMP/err")"; return; fi
    if grep -qE -- "$re" "$TMP/err1"; then pass "$n"; else fail "$n" "stderr '$(cat "$TMP/err1")' does not match /$re/"; fi
}

# serve_bg ERRFILE SERVE-ARGS...: `urial serve SERVE-ARGS --port 0` in the background, its stderr in
# ERRFILE; sets SRV_PID and PORT (empty when the server did not start: ERRFILE says why).
serve_bg() {
    local err=$1
    shift
    rm -f "$err" # not an earlier server's line (the redirection happens in the background)
    "$URIAL" serve "$@" --port 0 2>"$err" &
    SRV_PID=$!
    PORT=
    for _ in $(seq 1 400); do
        PORT=$(grep -oE 'on http://127\.0\.0\.1:[0-9]+/' "$err" 2>/dev/null | grep -oE '[0-9]+/$' | tr -d /)
        [ -n "$PORT" ] && break
        kill -0 $SRV_PID 2>/dev/null || break
        sleep 0.05
    done
}
