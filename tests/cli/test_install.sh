#!/usr/bin/env bash
# make install / uninstall with PREFIX (issue 21): the binary, the static library, the headers, a
# pkg-config file a C program builds and links with, the demo models and data under share/urial (so
# the README's tour runs from any directory); uninstall removes exactly that.
source "$(dirname "$0")/lib.sh"
B=${BUILD:-build}
MK=(BUILD="$B")
[[ "$B" == */san ]] && MK+=(SANITIZE=1) # the same flags, so nothing is rebuilt differently
P=$TMP/prefix
if ! make -s install PREFIX="$P" "${MK[@]}" >"$TMP/inst.out" 2>&1; then
    fail install "$(tail -5 "$TMP/inst.out")"
    exit 0
fi
for f in bin/urial lib/liburial.a include/urial/model.h include/urial/base.h lib/pkgconfig/urial.pc \
    share/urial/models/urial-demo-base.gguf share/urial/data/demo/heldout.jsonl; do
    [ -f "$P/$f" ] || { fail install_files "no $f"; break; }
done
[ -f "$P/$f" ] && pass install_files
"$P/bin/urial" --version | grep -q "^urial $(cat VERSION)" && pass installed_binary_runs || fail installed_binary_runs
# from another directory, with the installed data
(cd "$TMP" && "$P/bin/urial" info "$P/share/urial/models/urial-demo-base.gguf" | grep -q "^runnable: *yes") &&
    pass tour_from_any_directory || fail tour_from_any_directory
if command -v pkg-config >/dev/null; then
    cat >"$TMP/use.c" <<'C'
#include <stdio.h>
#include <urial/model.h>
int main(int argc, char **argv) {
    ur_err err = {{0}};
    ur_model *m = ur_model_load(argv[argc - 1], &err);
    if (!m) return fprintf(stderr, "%s\n", err.msg), 1;
    printf("%llu\n", (unsigned long long)m->n_params);
    ur_model_free(m);
    return 0;
}
C
    san=""
    [ "${SANITIZE:-}" = 1 ] || [[ "$B" == */san ]] && san="-fsanitize=address,undefined"
    if cc -std=c11 $san -o "$TMP/use" "$TMP/use.c" $(PKG_CONFIG_PATH=$P/lib/pkgconfig pkg-config --cflags --libs urial) \
        2>"$TMP/cc.err" && [ "$("$TMP/use" "$P/share/urial/models/urial-demo-base.gguf")" = 3147456 ]; then
        pass pkg_config_builds_and_links
    else
        fail pkg_config_builds_and_links "$(head -c 400 "$TMP/cc.err")"
    fi
else
    skip pkg_config_builds_and_links "no pkg-config"
fi
make -s uninstall PREFIX="$P" "${MK[@]}" >/dev/null 2>&1
left=$(cd "$P" && find . -type f | head -5)
[ -z "$left" ] && [ ! -d "$P/include/urial" ] && [ ! -d "$P/share/urial" ] && pass uninstall_removes ||
    fail uninstall_removes "left: $left"
