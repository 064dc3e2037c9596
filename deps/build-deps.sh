#!/bin/bash
# deps/build-deps.sh OUTDIR
#
# Builds the two archives that Debian does not ship in a form a fully static
# program can use: a minimal libcurl.a and a minimal libxml2.a, installed to
# OUTDIR/include and OUTDIR/lib.  deps/README.md says what is built and why.
#
# Sources, by default: Debian's own source packages (`apt-get source`), so the
# archives carry the same security patches as the distribution's libraries.
# With SSMBAK_DEPS_TARBALLS=DIR: the upstream release tarballs in DIR instead,
# checked against the SHA-256 sums below (for machines without deb-src).
#
# Quiet by default: one line per stage, everything else in OUTDIR/build.log,
# whose tail is shown on failure.  V=1 shows everything.  Nothing is done when
# OUTDIR/.stamp is newer than this script; delete it to force a rebuild.
set -euo pipefail

CURL_VERSION=7.88.1
XML2_VERSION=2.9.14
# Upstream release tarballs (curl.se, download.gnome.org).  Sums as published
# for those files and as pinned by several independent packagers (Termux,
# Homebrew, Yocto, Spack, Chromebrew); not recomputed here, where neither
# tarball can be downloaded.
CURL_SHA256=1dae31b2a7c1fe269de99c0c31bb488346aab3459b5ffca909d6938249ae415f
XML2_SHA256=60d74a257d1ccec0475e749cba2f21559e48139efba6ff28224357c7c798dfee

# Debian packages needed to build the archives, and the -dev packages whose
# static archives the final link takes (libssl.a, libcrypto.a, libz.a,
# libcares.a, libjansson.a).
PACKAGES="gcc make dpkg-dev quilt autoconf automake libtool pkg-config
  xz-utils libssl-dev zlib1g-dev libc-ares-dev libjansson-dev"

usage() { echo "usage: $0 OUTDIR" >&2; exit 2; }
if [ $# -ne 1 ] || [ -z "$1" ]; then usage; fi

script=$(readlink -f "$0")
mkdir -p "$1"
out=$(cd "$1" && pwd)
log=$out/build.log
jobs=$(nproc 2>/dev/null || echo 2)

if [ -f "$out/.stamp" ] && [ "$out/.stamp" -nt "$script" ]; then
    exit 0
fi

# Objects go into a static program only: no PIC needed.  Function and data
# sections let the final link drop what is unused (-Wl,--gc-sections).  The
# hardening flags match what Debian builds its own libraries with. A
# variable of our own, not CFLAGS, which `make CFLAGS=-O0` would pass down.
CFLAGS=${SSMBAK_DEPS_CFLAGS:--O2 -ffunction-sections -fdata-sections -fstack-protector-strong -fstack-clash-protection -fcf-protection -D_FORTIFY_SOURCE=2}
export CFLAGS

say() { echo "deps: $*"; }
# Stages write into the log; what the script is about to do to the
# machine's apt (its sources, its package lists, its packages) is said on
# the terminal first, in one line, whatever the verbosity.
exec 3>&1
announce() { echo "deps: $*" >&3; }

# stage TITLE CMD...: runs CMD with its output in the log (and on the
# terminal with V=1); on failure shows the end of the log and stops.
stage() {
    local title=$1; shift
    say "$title"
    echo "=== $title" >>"$log"
    # Not "( ... ) || rc=$?": bash ignores set -e inside such a subshell.
    local rc
    set +e
    if [ "${V:-0}" = 1 ]; then
        ( set -e; "$@" ) 2>&1 | tee -a "$log"
        rc=${PIPESTATUS[0]}
    else
        ( set -e; "$@" ) >>"$log" 2>&1
        rc=$?
    fi
    set -e
    if [ "$rc" -ne 0 ]; then
        echo "deps: FAILED: $title (exit $rc); last lines of $log:" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
}

install_packages() {
    if ! command -v dpkg-query >/dev/null; then
        echo "not Debian: install a C compiler, make, pkg-config, xz and the"
        echo "development files of OpenSSL 3, zlib and c-ares yourself"
        return 0
    fi
    local missing="" p
    for p in $PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && { echo "all present"; return 0; }
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing packages:$missing (run as root, or install them)"
        return 1
    fi
    announce "apt-get install$missing (then apt-get update and again, if the package lists are stale)"
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing ||
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing; }
}

# A deb-src twin of the machine's own Debian sources, written once:
# deb822 (Debian 12's debian.sources) or one-line style (sources.list).
DEBSRC=/etc/apt/sources.list.d/ssmbak-deb-src
enable_deb_src() {
    # grep reads to the end (no -q): under pipefail, apt-cache killed by
    # SIGPIPE would fail the test and run apt-get update every time.
    if apt-cache showsrc curl 2>/dev/null | grep '^Package: curl' >/dev/null; then
        return 0
    fi
    if [ ! -f "$DEBSRC.sources" ] && [ ! -f "$DEBSRC.list" ]; then
        [ "$(id -u)" -eq 0 ] || { echo "no deb-src entry and not root"; return 1; }
        if [ -f /etc/apt/sources.list.d/debian.sources ]; then
            announce "adding $DEBSRC.sources (deb-src twin of debian.sources) and running apt-get update, for apt-get source curl libxml2 (SSMBAK_DEPS_TARBALLS=DIR builds from tarballs instead)"
            sed 's/^Types:.*/Types: deb-src/' \
                /etc/apt/sources.list.d/debian.sources >"$DEBSRC.sources"
        elif grep -q '^deb ' /etc/apt/sources.list 2>/dev/null; then
            announce "adding $DEBSRC.list (deb-src twin of sources.list) and running apt-get update, for apt-get source curl libxml2 (SSMBAK_DEPS_TARBALLS=DIR builds from tarballs instead)"
            sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >"$DEBSRC.list"
        else
            echo "no Debian sources found: add a deb-src entry by hand"
            return 1
        fi
    else
        announce "running apt-get update: $DEBSRC is there but apt knows no curl source package yet"
    fi
    apt-get update
}

fetch_debian() {
    rm -rf "$out/src"
    mkdir -p "$out/src"
    cd "$out/src"
    apt-get source curl libxml2
    mv curl-*/ curl
    mv libxml2-*/ libxml2
    # Debian's curl tree ends with two patches that turn it into the GnuTLS
    # and NSS flavours (debian/rules pops them for the OpenSSL build).
    cd curl
    export QUILT_PATCHES=debian/patches
    local last2
    last2=$(quilt series | tail -n 2 | xargs -n1 basename | tr '\n' ' ')
    if [ "$last2" != "90_gnutls.patch 99_nss.patch " ]; then
        echo "unexpected end of curl's quilt series: $last2"
        return 1
    fi
    quilt pop 2
    cd "$out/src"
    drop_dotd
}

# curl documents its command-line options as docs/cmdline-opts/*.d, and the
# project's Makefile includes every *.d under build/ as a make dependency
# file: they would break make. Neither the library nor its headers use them.
drop_dotd() {
    find curl/docs -name '*.d' -delete
}

fetch_tarballs() {
    local dir=$SSMBAK_DEPS_TARBALLS
    rm -rf "$out/src"
    mkdir -p "$out/src"
    cd "$out/src"
    printf '%s  %s\n' "$CURL_SHA256" "$dir/curl-$CURL_VERSION.tar.xz" \
                      "$XML2_SHA256" "$dir/libxml2-$XML2_VERSION.tar.xz" |
        sha256sum -c -
    tar -xJf "$dir/curl-$CURL_VERSION.tar.xz"
    tar -xJf "$dir/libxml2-$XML2_VERSION.tar.xz"
    mv "curl-$CURL_VERSION" curl
    mv "libxml2-$XML2_VERSION" libxml2
    drop_dotd
}

# HTTP and HTTPS only, over OpenSSL, with c-ares resolving names: glibc's
# getaddrinfo would dlopen NSS modules, which a static binary cannot load in
# an empty container.  No CA bundle or path is compiled in: lib/tls.c picks
# one at run time.  OpenSSL's openssl.cnf is not auto-loaded so the host's
# config (which may name providers to dlopen) cannot change behaviour.
# Everything else is off: fewer dependencies, less code, less attack surface.
CURL_FLAGS="--disable-shared --enable-static --disable-dependency-tracking
  --with-openssl --with-zlib --enable-ares --disable-threaded-resolver
  --without-ca-bundle --without-ca-path --without-ca-fallback
  --disable-openssl-auto-load-config
  --without-nghttp2 --without-ngtcp2 --without-nghttp3 --without-quiche
  --without-msh3 --without-hyper --without-brotli --without-zstd
  --without-libidn2 --without-libpsl --without-libgsasl --without-gssapi
  --without-libssh2 --without-libssh --without-wolfssh --without-librtmp
  --disable-ftp --disable-file --disable-ldap --disable-ldaps --disable-rtsp
  --disable-dict --disable-telnet --disable-tftp --disable-pop3 --disable-imap
  --disable-smb --disable-smtp --disable-gopher --disable-mqtt
  --disable-ntlm --disable-ntlm-wb --disable-tls-srp --disable-alt-svc
  --disable-doh --disable-netrc --disable-websockets --disable-manual --disable-libcurl-option"

# Parsing XML from memory is all we need.  No iconv (glibc's would dlopen
# gconv modules; UTF-8/16 and ISO-8859-x are built in), no ICU (C++), no
# compression or network I/O, no catalogs (they read /etc/xml), no module
# loading, no threads (ssmbak parses on one thread).
XML2_FLAGS="--disable-shared --enable-static --disable-dependency-tracking
  --without-python --without-icu --without-iconv --without-lzma --without-zlib
  --without-http --without-ftp --without-threads --without-thread-alloc
  --without-modules --without-catalog --without-docbook --without-legacy
  --without-readline --without-history --without-debug --without-mem-debug
  --without-run-debug"

# Debian's patches touch Makefile.am and configure.ac, so its trees need
# the build system regenerated; release tarballs ship a working one.
regenerate() {
    if [ -z "${SSMBAK_DEPS_TARBALLS:-}" ]; then
        autoreconf -fi
    fi
}

curl_configure() {
    cd "$out/src/curl"
    regenerate
    # shellcheck disable=SC2086
    ./configure --prefix="$out" $CURL_FLAGS
}
curl_build() {
    cd "$out/src/curl"
    make -j"$jobs" -C lib
    make -C lib install
    make -C include install
    make install-pkgconfigDATA install-binSCRIPTS
}
xml2_configure() {
    cd "$out/src/libxml2"
    regenerate
    # shellcheck disable=SC2086
    ./configure --prefix="$out" $XML2_FLAGS
}
xml2_build() {
    cd "$out/src/libxml2"
    make -j"$jobs" libxml2.la
    make install-libLTLIBRARIES install-pkgconfigDATA install-binSCRIPTS
    make -C include install
}

: >"$log"
rm -f "$out/.stamp"
rm -rf "${out:?}/include" "${out:?}/lib" "${out:?}/bin"
start=$(date +%s)

stage "packages" install_packages
if [ -n "${SSMBAK_DEPS_TARBALLS:-}" ]; then
    stage "sources: tarballs in $SSMBAK_DEPS_TARBALLS" fetch_tarballs
else
    stage "sources: deb-src entry" enable_deb_src
    stage "sources: apt-get source curl libxml2" fetch_debian
fi
stage "curl: configure" curl_configure
stage "curl: build + install" curl_build
stage "libxml2: configure" xml2_configure
stage "libxml2: build + install" xml2_build

for a in libcurl.a libxml2.a; do
    [ -s "$out/lib/$a" ] || { echo "deps: $out/lib/$a missing" >&2; exit 1; }
done
touch "$out/.stamp"
say "done in $(( $(date +%s) - start ))s: $out/lib/libcurl.a $out/lib/libxml2.a"
