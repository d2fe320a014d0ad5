#!/bin/sh
# Builds the libFuzzer targets into build-fuzz/ and runs each for
# SECONDS/5 seconds (default 60 in all) from its seed corpus.
#   ./fuzz/run.sh [SECONDS]
# SLUICE_WERROR=ON (as `make fuzz` sets) makes warnings errors, as in CMake.
# New inputs go to build-fuzz/corpus/<target>; crashes to build-fuzz/.
set -eu
cd "$(dirname "$0")/.."
total=${1:-60}
each=$((total / 5))
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
health_lib="$lib src/http/health_http.c"
# The admin API's target links the whole control plane below the CLI.
admin_lib="$(ls src/core/*.c src/net/*.c src/proxy/*.c src/http/*.c src/control/*.c src/admin/*.c)"
admin_flags="-Isrc/core -I$out/generated $(pkg-config --cflags --libs jansson sqlite3 yaml-0.1 libcrypto libmaxminddb) -lpthread -lm"
mkdir -p "$out/generated"
version=$(sed -n 's/^project(sluice VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
printf '#define SLUICE_VERSION_STRING "%s"\n' "$version" >"$out/generated/sluice_version.h"
status=0
for t in fuzz_http_request fuzz_http_response fuzz_chunked fuzz_health_http fuzz_admin_api; do
    if [ "$t" = fuzz_admin_api ]; then
        # shellcheck disable=SC2086
        $CC $CFLAGS "fuzz/$t.c" $admin_lib $admin_flags -o "$out/$t"
    elif [ "$t" = fuzz_health_http ]; then
        # shellcheck disable=SC2086
        $CC $CFLAGS "fuzz/$t.c" $health_lib -o "$out/$t"
    else
        # shellcheck disable=SC2086
        $CC $CFLAGS "fuzz/$t.c" $lib -o "$out/$t"
    fi
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
