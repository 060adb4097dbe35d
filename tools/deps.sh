#!/usr/bin/env bash
# Install the Debian packages urial needs when they are missing: to build (build), to run its tests
# (test: jq, and python3 for the Python binding), to rebuild the demo models (demo-models: the corpus sources, sentencepiece, python3).
# As root it runs apt-get; otherwise it prints the command to run and fails.
# usage: tools/deps.sh [build|test|demo-models]
set -euo pipefail
PKGS="build-essential make gcc libc6-dev libjansson-dev libcurl4-openssl-dev libmicrohttpd-dev"
case "${1:-build}" in
build) ;;
test) PKGS="$PKGS jq python3" ;;  # python3: the Python binding's test (tests/cli/test_python.sh)
demo-models) PKGS="python3 sentencepiece wordnet-base dict-gcide dict-foldoc jargon-text fortunes" ;;
*) echo "deps: unknown set '$1' (build, test or demo-models)" >&2; exit 1 ;;
esac
if ! command -v dpkg >/dev/null 2>&1; then # not Debian: say what the build needs and let it try
    echo "urial: no dpkg (not a Debian system): not checking packages; the build needs a C11 compiler, make," \
        "and the development files of jansson, libcurl and libmicrohttpd" >&2
    exit 0
fi
missing=$(for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done | tr '\n' ' ')
[ -z "${missing// }" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "urial: installing $missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq $missing >/dev/null
else
    echo "urial: missing Debian packages: $missing(run: sudo apt-get install $missing)" >&2
    exit 1
fi
