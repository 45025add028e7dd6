#!/usr/bin/env bash
# The unit tests (test/unit) cross-built, static against musl like the static
# cnibox, and run under qemu-user:
#
#   test/cross/unit.sh ARCH        ARCH: arm64, armhf or riscv64
#
# 1. packaging/build-static.sh (output build-static-ARCH/out) brings the cross
#    toolchain, the static libraries and the stub objects up to date;
# 2. build-unit-ARCH, set up once with its meson cross file, builds unit_tests
#    only: exceptions on, -O0 (the quickest compile), no LTO, -Werror,
#    static, with the stubs compat.o, malloc.o (the allocator under test too)
#    and static-netdb.o, not static-terminate.o (an uncaught exception's type
#    is then named);
# 3. runs it under qemu-ARCH-static; the exit status is the test run's.
#
# Environment:
#   BUILD_DIR   the static build's directory (default: build-static-ARCH)
#   UNIT_DIR    the unit tests' build directory (default: build-unit-ARCH)
#   JOBS        parallel compile jobs (default: 2)
#   CATCH_ARGS  more arguments for unit_tests (e.g. a test spec, "-s")
#   BUILD_ONLY  1: steps 1 and 2 only (test/run builds ahead in the background)
set -uo pipefail

die() { echo "cross/unit: error: $*" >&2; exit 1; }
[ $# -eq 1 ] || { sed -n '2,/^set -u/p' "$0" | sed -n 's/^# \{0,1\}//p' >&2; exit 2; }
ARCH=$1
case $ARCH in
    arm64)   QEMU=qemu-aarch64-static TRIPLET=aarch64-linux-gnu ;;
    armhf)   QEMU=qemu-arm-static     TRIPLET=arm-linux-gnueabihf ;;
    riscv64) QEMU=qemu-riscv64-static TRIPLET=riscv64-linux-gnu ;;
    *) die "ARCH must be arm64, armhf or riscv64 (not $ARCH)" ;;
esac
command -v "$QEMU" > /dev/null || die "$QEMU not found (apt-get install qemu-user-static)"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
BUILD_DIR=$(abspath "${BUILD_DIR:-$ROOT/build-static-$ARCH}")
UNIT_DIR=$(abspath "${UNIT_DIR:-$ROOT/build-unit-$ARCH}")
BIN=$UNIT_DIR/test/unit/unit_tests
export ARCH BUILD_DIR  # for build-static.sh

# 1. toolchain, libraries, stubs (and the static cnibox itself)
bash "$ROOT/packaging/build-static.sh" "$BUILD_DIR/out" > /dev/null || die "packaging/build-static.sh failed for $ARCH"
STUBS=
for s in compat malloc static-netdb; do
    [ -f "$BUILD_DIR/$s.o" ] || die "stub $BUILD_DIR/$s.o missing"
    STUBS+=" $BUILD_DIR/$s.o"
done

# 2. the build directory, set up once (meson regenerates it when a
# meson.build changes; a newer stub, which ninja does not see, relinks).
if [ ! -f "$UNIT_DIR/build.ninja" ]; then
    # Debian's libstdc++.a was compiled against glibc, whose pthread_mutex_t is
    # larger than musl's on arm64 (48 vs 40 bytes): std::basic_filebuf holds
    # one, so the tests' inline-built std::ofstream would not have the
    # library's layout. C++ gets glibc's size (musl ignores the extra bytes).
    n=$(echo __SIZEOF_PTHREAD_MUTEX_T | "$TRIPLET-gcc" -E -P -include pthread.h -xc - | tail -n 1)
    case $n in [1-9]*) ;; *) die "cannot read glibc's pthread_mutex_t size from $TRIPLET-gcc" ;; esac
    mkdir -p "$UNIT_DIR"
    printf '#define __DEFINED_pthread_mutex_t\ntypedef struct { union { int __i[%d]; void *__p; } __u; } pthread_mutex_t;\n' \
        $((n / 4)) > "$UNIT_DIR/glibc-mutex.h"
    # musl 1.2.4+ (riscv64's, Debian 13's) lacks the LFS64 names libstdc++'s
    # file streams call; on a 64-bit architecture they are the plain functions.
    syms=$("$TRIPLET-nm" "$BUILD_DIR"-deps/foreign/usr/lib/*-musl*/libc.a "$BUILD_DIR/compat.o" 2> /dev/null)
    if ! grep -q ' [TW] fopen64$' <<< "$syms"; then
        for f in fopen fstat lseek fseeko ftello; do STUBS+=" -Wl,--defsym=${f}64=$f"; done
    fi
    meson setup "$UNIT_DIR" "$ROOT" --cross-file "$BUILD_DIR-deps/musl/cross.ini" \
        "-Dcpp_args=-include $UNIT_DIR/glibc-mutex.h" "-Dcpp_link_args=-static$STUBS" \
        -Doptimization=0 -Ddebug=false -Db_ndebug=false -Dwerror=true -Db_lto=false -Db_pie=false \
        -Db_staticpic=false -Ddefault_library=static -Dprefer_static=true \
        -Dtests=true -Dfuzz=false -Dforce_fallback_for=libmnl >&2 || { rm -rf "$UNIT_DIR"; die "meson setup of $UNIT_DIR failed"; }
fi
for s in $STUBS; do [ "$s" -nt "$BIN" ] && rm -f "$BIN"; done
t0=$(date +%s)
nice -n 10 meson compile -C "$UNIT_DIR" -j "${JOBS:-2}" unit_tests >&2 || die "unit_tests build failed ($UNIT_DIR)"
t1=$(date +%s)
[ "${BUILD_ONLY:-}" = 1 ] && { echo "cross/unit: $ARCH: unit_tests built in $((t1 - t0)) s" >&2; exit 0; }

# 3. the run, in TMPDIR. One case execs unit_tests itself: qemu-user hands
# execve to the kernel, which runs an ARCH binary only through a binfmt_misc
# handler (else ENOEXEC, "exec format error"); without one it is left out.
SKIP=()
if ! grep -qsx enabled "/proc/sys/fs/binfmt_misc/${QEMU%-static}"; then
    SKIP=("~a delegate that is this executable runs in-process")
    echo "cross/unit: no binfmt_misc handler for $ARCH: leaving out \"${SKIP[0]#\~}\"" >&2
fi
echo "cross/unit: $ARCH: unit_tests built in $((t1 - t0)) s; running under $QEMU" >&2
# shellcheck disable=SC2086  # CATCH_ARGS: word-split on purpose
(cd "${TMPDIR:-/tmp}" && "$QEMU" "$BIN" --reporter console --use-colour no "${SKIP[@]}" ${CATCH_ARGS:-})
rc=$?
echo "cross/unit: $ARCH: run took $(($(date +%s) - t1)) s, exit status $rc" >&2
exit $rc
