#!/bin/sh
# Installs the build into a temporary prefix, as `make install PREFIX=...`
# does, and uses the installed copy as a user would: builds
# examples/library_example.c with `pkg-config --cflags --libs sluice`
# against libsluice.so (found by its soname) and against libsluice.a, runs
# both, checks sluice_version() and the installed daemon's --version
# against sluice.pc. Removes the prefix (and restores the manifest) when
# done, whatever happens. ctest passes, in the environment:
#   SLUICE_BUILD SLUICE_SRC SLUICE_VERSION SLUICE_BINDIR CMAKE CC
#   SLUICE_CFLAGS (the sanitizer flags of the build, if any)
set -eu
tmp=$(mktemp -d "$SLUICE_BUILD/install-test.XXXXXX")
# cmake --install rewrites the build's install_manifest.txt: keep the one a
# real `make install` left, for whoever uninstalls with it.
manifest=$SLUICE_BUILD/install_manifest.txt
[ -e "$manifest" ] && cp -p "$manifest" "$tmp/manifest.saved"
restore() {
    if [ -e "$tmp/manifest.saved" ]; then
        cp -p "$tmp/manifest.saved" "$manifest"
    else
        rm -f "$manifest"
    fi
    rm -rf "$tmp"
}
trap restore EXIT
trap 'exit 1' INT TERM
prefix=$tmp/prefix
example=$SLUICE_SRC/examples/library_example.c

fail() {
    echo "install test: $*" >&2
    exit 1
}

"$CMAKE" --install "$SLUICE_BUILD" --prefix "$prefix" >/dev/null
pc=$(find "$prefix" -name sluice.pc)
[ -n "$pc" ] || fail "no sluice.pc under $prefix"
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
version=$(pkg-config --modversion sluice)
[ "$version" = "$SLUICE_VERSION" ] || fail "sluice.pc says version $version, want $SLUICE_VERSION"
libdir=$(pkg-config --variable=libdir sluice)
case $libdir in
"$prefix"/*) ;;
*) fail "sluice.pc: libdir $libdir is not under the prefix $prefix" ;;
esac

# shellcheck disable=SC2046,SC2086 # pkg-config's and the sanitizer's flags are word lists
$CC $SLUICE_CFLAGS "$example" $(pkg-config --cflags --libs sluice) -o "$tmp/shared"
readelf -d "$tmp/shared" | grep -q 'NEEDED.*\[libsluice\.so\.0\]' ||
    fail "the example does not need libsluice.so.0"
LD_LIBRARY_PATH=$libdir ldd "$tmp/shared" | grep -q "$libdir/libsluice\.so\.0" ||
    fail "the example does not load $libdir/libsluice.so.0"
LD_LIBRARY_PATH=$libdir "$tmp/shared" >"$tmp/shared.out" || fail "the example linked with libsluice.so failed"

# shellcheck disable=SC2046,SC2086
$CC $SLUICE_CFLAGS "$example" $(pkg-config --cflags sluice) \
    $(pkg-config --static --libs sluice | sed "s|-lsluice|$libdir/libsluice.a|") -o "$tmp/static"
"$tmp/static" >"$tmp/static.out" || fail "the example linked with libsluice.a failed"

# The library's own idea of its version, as a program sees it.
cat >"$tmp/version.c" <<'END'
#include <stdio.h>
#include <sluice.h>

int main(void)
{
    return puts(sluice_version()) == EOF;
}
END
# shellcheck disable=SC2046,SC2086
$CC $SLUICE_CFLAGS "$tmp/version.c" $(pkg-config --cflags --libs sluice) -o "$tmp/version"
out=$(LD_LIBRARY_PATH=$libdir "$tmp/version")
[ "$out" = "$version" ] || fail "sluice_version() says '$out', sluice.pc says $version"

out=$("$prefix/$SLUICE_BINDIR/sluice" --version)
[ "$out" = "sluice $SLUICE_VERSION" ] || fail "sluice --version printed '$out'"
echo "installed $version under $prefix: the example runs against libsluice.so and libsluice.a"
