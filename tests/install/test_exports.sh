#!/bin/sh
# libsluice.so must export exactly the functions include/sluice.h declares
# with SLUICE_API: the library builds with -fvisibility=hidden, so an
# internal sl_* name that leaks, or a public function that lost its
# SLUICE_API, fails here.
#   test_exports.sh LIBSLUICE_SO SLUICE_H
set -eu
lib=$1
header=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

nm -D --defined-only "$lib" | awk '{ print $3 }' | sort >"$tmp/exported"
grep '^SLUICE_API' "$header" | grep -o 'sluice_[a-z0-9_]*(' | tr -d '(' | sort >"$tmp/declared"
[ -s "$tmp/declared" ] || {
    echo "no SLUICE_API declaration found in $header" >&2
    exit 1
}
if ! diff -u "$tmp/declared" "$tmp/exported"; then
    echo "$lib: exports differ from the SLUICE_API functions of $header (- missing, + extra)" >&2
    exit 1
fi
echo "$lib exports the $(wc -l <"$tmp/declared") SLUICE_API functions and nothing else"
