#!/usr/bin/env bash
# Runs every unit test binary and every CLI test script, and ends with the line
# "N passed, N failed". A test prints PASS/FAIL/SKIP lines (tests/unit/harness.h,
# tests/cli/lib.sh). Under CI=true a skipped test (e.g. missing fixtures) fails.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export URIAL=${URIAL:-$PWD/$BUILD/urial}
export URIAL_FIXTURES=${URIAL_FIXTURES:-$(cd .. && pwd)/shared/fixtures}
log=$(mktemp)
status=0
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    "$t" >"$log.one" 2>&1; rc=$?
    cat "$log.one" | tee -a "$log" | grep -E '^(FAIL|SKIP)' || true
    if [ $rc -ne 0 ] && ! grep -q '^FAIL' "$log.one"; then
        echo "FAIL $(basename "$t"): exited with status $rc" | tee -a "$log"
        tail -n 20 "$log.one"
    fi
done
for t in tests/cli/test_*.sh; do
    [ -f "$t" ] || continue
    bash "$t" >"$log.one" 2>&1; rc=$?
    cat "$log.one" | tee -a "$log" | grep -E '^(FAIL|SKIP)' || true
    if [ $rc -ne 0 ] && ! grep -q '^FAIL' "$log.one"; then
        echo "FAIL $(basename "$t"): exited with status $rc" | tee -a "$log"
        tail -n 20 "$log.one"
    fi
done
passed=$(grep -c '^PASS' "$log")
failed=$(grep -c '^FAIL' "$log")
skipped=$(grep -c '^SKIP' "$log")
if [ "${CI:-}" = "true" ] && [ "$skipped" -gt 0 ]; then
    echo "under CI=true skipped tests count as failures"
    failed=$((failed + skipped)); skipped=0
fi
[ "$skipped" -gt 0 ] && echo "$skipped skipped"
rm -f "$log" "$log.one"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
