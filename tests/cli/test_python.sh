#!/usr/bin/env bash
# python/urial (ctypes over build/liburial.so) with Debian's python3: tokenize, logits, generation
# (greedy, sampled, with a URIAL prompt), prompt rendering equal to the urial commands on the demo
# models; TDS of one answer; errors as urial.Error; lists instead of numpy when numpy is absent.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 || true)
LIB=${BUILD:-build}/liburial.so
if [ -z "$PY" ]; then skip python "no python3"; exit 0; fi
# (not under the sanitizer build: its library needs the ASan runtime preloaded into python; the C API
# it calls is the library's, which the unit tests run under the sanitizers)
case ${BUILD:-build} in *san*) echo "INFO test_python: not run on the sanitizer build"; exit 0 ;; esac
if [ ! -f "$LIB" ]; then fail liburial_so "no $LIB (make builds it)"; exit 0; fi
export URIAL_LIB=$PWD/$LIB
PYTHONPATH=$PWD/python "$PY" tests/python/test_binding.py "$URIAL" models/urial-demo-base.gguf models/urial-demo-chat.gguf
# without numpy: lists
out=$(PYTHONPATH=$PWD/python "$PY" -c '
import sys; sys.modules["numpy"] = None
import urial
m = urial.Model("models/urial-demo-base.gguf")
lg = m.logits(m.tokenize("hi"))
print(type(lg).__name__, len(lg) == len(m.tokenize("hi")), len(lg[0]) == m.n_vocab)' 2>&1)
[ "$out" = "list True True" ] && pass logits_lists_without_numpy || fail logits_lists_without_numpy "$out"
# the package installs with pip where pip exists (its metadata at least parses)
grep -q '^name = "urial"' python/pyproject.toml && pass pyproject || fail pyproject
