#!/bin/sh
# Builds the libFuzzer targets into build-fuzz/ and runs each for
# SECONDS/3 seconds (default 60 in all) from its seed corpus.
#   ./fuzz/run.sh [SECONDS]
# SLUICE_WERROR=ON (as `make fuzz` sets) makes warnings errors, as in CMake.
# New inputs go to build-fuzz/corpus/<target>; crashes to build-fuzz/.
set -eu
cd "$(dirname "$0")/.."
total=${1:-60}
each=$((total / 3))
[ "$each" -ge 1 ] || each=1
out=build-fuzz
mkdir -p "$out"
CC=${CC:-clang}
CFLAGS="-std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address,undefined
        -fno-sanitize-recover=all -fno-omit-frame-pointer -Isrc -Iinclude
        -Wall -Wextra -Wshadow -Wstrict-prototypes -Wvla -Wformat=2 -Wundef
        -Wpointer-arith -Wmissing-prototypes"
[ "${SLUICE_WERROR:-OFF}" = ON ] && CFLAGS="$CFLAGS -Werror"
lib="src/http/parse.c src/http/parse_fields.c src/http/chunked.c"
status=0
for t in fuzz_http_request fuzz_http_response fuzz_chunked; do
    # shellcheck disable=SC2086
    $CC $CFLAGS "fuzz/$t.c" $lib -o "$out/$t"
    mkdir -p "$out/corpus/$t"
    echo "== $t: ${each}s"
    if ! (cd "$out" && "./$t" -max_total_time="$each" -timeout=10 -rss_limit_mb=1024 \
              -print_final_stats=1 "corpus/$t" "../fuzz/corpus/$t" 2>"$t.log"); then
        echo "$t FAILED: see $out/$t.log"
        tail -40 "$out/$t.log"
        status=1
    else
        grep -E '^(stat::number_of_executed_units|stat::new_units_added)' "$out/$t.log" || true
    fi
done
exit $status
