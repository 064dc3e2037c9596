#!/bin/bash
# test/static/run.sh BINARY
#
# Proves that BINARY needs nothing from the machine it runs on: it is
# statically linked, and copied alone into an empty directory and run there
# under chroot it answers --version, completes an HTTPS request to a local
# server whose certificate it verifies, refuses that server without the right
# CA, and never resolves a name through glibc (getaddrinfo/NSS, which a static
# binary cannot load in an empty container).
#
# What BINARY is told to do comes from the environment, so any program fits:
#   SSMBAK_STATIC_PROBE     arguments that make BINARY do one HTTPS request;
#                           @URL@ stands for https://HOST:PORT (no slash).
#                           e.g. '@URL@/' for test/static/https_probe.
#                           Unset: only the static and --version checks run.
#   SSMBAK_STATIC_PROBE_OK  extended regex the output must match for the
#                           request to count as done (default: exit status 0).
#                           The server must also have logged the request.
#   SSMBAK_STATIC_CERT_ERR  extended regex (case-insensitive) a refused
#                           request's output must match (default:
#                           'certificate|verif').
#   SSMBAK_STATIC_ENV       extra VAR=value words for BINARY's environment,
#                           which is otherwise empty but for SSL_CERT_FILE;
#                           @URL@ is replaced here too.
# The binary keeps its file name inside the chroot (ssmbak dispatches on
# argv[0]). The local server answers every request with 200 and the body
# "ssmbak-static-ok". Needs root (chroot), openssl and /usr/bin/python3 for
# the server, strace for the NSS check; what is missing is reported as SKIP.
# Last line: "static: N passed, N failed, N skipped"; exit 1 if any failed.
set -u

here=$(cd "$(dirname "$0")" && pwd)
passed=0 failed=0 skipped=0
pass() { passed=$((passed + 1)); echo "PASS $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/     | /'; }
skip() { skipped=$((skipped + 1)); echo "SKIP $1"; }
info() { echo "INFO $*"; }
finish() {
    echo "static: $passed passed, $failed failed, $skipped skipped"
    [ "$failed" -eq 0 ]
    exit
}

[ $# -eq 1 ] || { echo "usage: $0 BINARY" >&2; exit 2; }
bin=$(readlink -f "$1")
[ -x "$bin" ] || { echo "$0: $1: not an executable" >&2; exit 2; }
name=$(basename "$bin")

# 1. Static: no program interpreter, hence no shared library at all.
if readelf -lW "$bin" 2>/dev/null | grep -q 'Requesting program interpreter'; then
    fail "statically linked" "$(file "$bin" 2>/dev/null)"
else
    pass "statically linked ($(file -b "$bin" 2>/dev/null | cut -d, -f1-4))"
fi

chroot_bin=$(command -v chroot || echo /usr/sbin/chroot)
if [ "$(id -u)" -ne 0 ]; then
    skip "chroot checks: not root (chroot needs it)"
    finish
fi
if [ ! -x "$chroot_bin" ]; then
    skip "chroot checks: no chroot command"
    finish
fi

work=$(mktemp -d /tmp/ssmbak-static.XXXXXX)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
root=$work/root
mkdir "$root"
cp "$bin" "$root/$name"

# chroot(8) exits 125 when it cannot change root (say, a container without
# CAP_SYS_CHROOT) and 127 when it can but the command is not there.
"$chroot_bin" "$root" /nonexistent 2>/dev/null
if [ $? -ne 127 ]; then
    skip "chroot checks: chroot is not permitted here"
    finish
fi

have_strace=no
command -v strace >/dev/null && have_strace=yes
read -ra extra_env <<<"${SSMBAK_STATIC_ENV:-}"

# run_chroot TRACE VAR=value... -- ARG...: runs the binary in the empty root
# with only the given environment; sets $out (stdout+stderr) and $rc. With a
# TRACE file and strace present, records its file opens and connects.
run_chroot() {
    local trace=$1 envs=() extra=() e
    shift
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    for e in "${extra_env[@]}"; do extra+=("${e//@URL@/${probe_url:-}}"); done
    local cmd=(env -i "${envs[@]}" "${extra[@]}" "$chroot_bin" "$root" "/$name" "$@")
    if [ -n "$trace" ] && [ $have_strace = yes ]; then
        # shellcheck disable=SC2054 # the commas are strace's
        cmd=(strace -f -qq -e trace=execve,open,openat,connect -o "$trace" "${cmd[@]}")
    fi
    out=$(timeout 30 "${cmd[@]}" 2>&1)
    rc=$?
}

# The trace from the moment the chroot became our binary: what env and
# chroot themselves load does not count.
binary_trace() {
    awk -v exe="execve(\"/$name\"" 'index($0, exe) { on = 1 } on' "$1"
}

# check_no_nss CASE TRACE: glibc's resolver would show up as an attempt to
# reach nscd, to read /etc/gai.conf, or to load an NSS module (any .so:
# nothing may be dlopen()ed). c-ares reading /etc/hosts, /etc/resolv.conf
# and /etc/nsswitch.conf with plain open() is fine.
check_no_nss() {
    local case=$1 trace=$2
    if [ $have_strace != yes ]; then
        skip "$case: no glibc resolver (strace not installed)"
        return
    fi
    local t bad
    t=$(binary_trace "$trace")
    if [ -z "$t" ]; then
        fail "$case: no glibc resolver" "strace saw no execve of /$name"
        return
    fi
    bad=$(printf '%s\n' "$t" | grep -E '\.so(\.[0-9]+)*"|nscd|gai\.conf' || true)
    if [ -n "$bad" ]; then
        fail "$case: no glibc resolver" "$bad"
    else
        local files
        files=$(printf '%s\n' "$t" | grep -oE 'open(at)?\([^"]*"[^"]*"' |
            sed 's/.*"\(.*\)"/\1/' | sort -u | tr '\n' ' ')
        pass "$case: no glibc resolver (files tried: ${files:-none})"
    fi
}

# 2. It starts at all.
run_chroot "" -- --version
if [ $rc -eq 0 ] && [ -n "$out" ]; then
    pass "--version in an empty root: $(printf '%s' "$out" | head -n 1)"
else
    fail "--version in an empty root (exit $rc)" "$out"
fi

if [ -z "${SSMBAK_STATIC_PROBE:-}" ]; then
    skip "HTTPS checks: SSMBAK_STATIC_PROBE not set"
    finish
fi
if ! command -v openssl >/dev/null || [ ! -x /usr/bin/python3 ]; then
    skip "HTTPS checks: need openssl and /usr/bin/python3"
    finish
fi

# 3. A throwaway CA, a server certificate from it for 127.0.0.1, localhost
# and ssmbak-static.test, and a second CA that did not sign it.
pki=$work/pki
mkdir "$pki"
(
    set -e
    cd "$pki"
    ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    for ca in ca wrong-ca; do
        # shellcheck disable=SC2086
        openssl req -x509 $ec -keyout $ca.key -out $ca.pem -days 2 \
            -subj "/CN=ssmbak static test $ca" \
            -addext basicConstraints=critical,CA:TRUE \
            -addext keyUsage=critical,keyCertSign,cRLSign
    done
    # shellcheck disable=SC2086
    openssl req $ec -keyout server.key -out server.csr -subj /CN=localhost
    printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:ssmbak-static.test' \
        'basicConstraints=CA:FALSE' 'extendedKeyUsage=serverAuth' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
        -CAcreateserial -days 2 -extfile server.ext -out server.pem
) >"$work/pki.log" 2>&1 || { fail "make test certificates" "$(cat "$work/pki.log")"; finish; }
cp "$pki/ca.pem" "$pki/wrong-ca.pem" "$root/"

requests=$work/requests.log
: >"$requests"
/usr/bin/python3 "$here/tls_server.py" "$pki/server.pem" "$pki/server.key" \
    "$work/port" "$requests" 120 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do
    [ -s "$work/port" ] && break
    sleep 0.1
done
[ -s "$work/port" ] || { fail "start the TLS server" "$(cat "$work/server.log")"; finish; }
port=$(cat "$work/port")

# probe CASE EXPECT(ok|refused) TRACE URL VAR=value...
probe() {
    local case=$1 expect=$2 trace=$3 url=$4 args before after done=no
    shift 4
    probe_url=$url
    read -ra args <<<"${SSMBAK_STATIC_PROBE//@URL@/$url}"
    before=$(wc -l <"$requests")
    run_chroot "$trace" "$@" -- "${args[@]}"
    after=$(wc -l <"$requests")
    if [ -n "${SSMBAK_STATIC_PROBE_OK:-}" ]; then
        printf '%s\n' "$out" | grep -Eq -- "$SSMBAK_STATIC_PROBE_OK" && done=yes
    else
        [ $rc -eq 0 ] && done=yes
    fi
    [ "$after" -gt "$before" ] || done=no
    case $expect in
    ok)
        if [ $done = yes ]; then pass "$case"; else fail "$case (exit $rc)" "$out"; fi ;;
    refused)
        if [ $done = no ] && [ "$after" -eq "$before" ] &&
            printf '%s\n' "$out" | grep -Eiq -- "${SSMBAK_STATIC_CERT_ERR:-certificate|verif}"; then
            pass "$case: $(printf '%s\n' "$out" | grep -Ei -- "${SSMBAK_STATIC_CERT_ERR:-certificate|verif}" | tail -n 1)"
        else
            fail "$case (exit $rc, requests served: $((after - before)))" "$out"
        fi ;;
    esac
}

ip_url=https://127.0.0.1:$port
localhost_url=https://localhost:$port
name_url=https://ssmbak-static.test:$port

probe "HTTPS to 127.0.0.1, SSL_CERT_FILE=/ca.pem: verified and done" ok \
    "$work/trace-ip" "$ip_url" SSL_CERT_FILE=/ca.pem
check_no_nss "IP literal" "$work/trace-ip"
probe "HTTPS to 127.0.0.1, SSL_CERT_FILE=/wrong-ca.pem: refused" refused \
    "" "$ip_url" SSL_CERT_FILE=/wrong-ca.pem
probe "HTTPS to 127.0.0.1, no CA given (built-in choice): refused" refused \
    "" "$ip_url"

# "localhost" with no /etc/hosts at all: libcurl (since 7.78) answers
# localhost and *.localhost itself, RFC 6761, asking no resolver.
probe "HTTPS to localhost, no /etc/hosts in the root: verified and done" ok \
    "$work/trace-lh" "$localhost_url" SSL_CERT_FILE=/ca.pem
check_no_nss "localhost" "$work/trace-lh"

# Any other name goes to c-ares: not in a (missing) /etc/hosts, it asks the
# default name server, 127.0.0.1:53, where nothing answers here.
read -ra args <<<"${SSMBAK_STATIC_PROBE//@URL@/$name_url}"
run_chroot "$work/trace-n0" SSL_CERT_FILE=/ca.pem -- "${args[@]}"
if [ $rc -ne 0 ]; then
    pass "ssmbak-static.test, no /etc/hosts: not resolved ($(printf '%s\n' "$out" | tail -n 1))"
else
    fail "ssmbak-static.test, no /etc/hosts: not resolved" "$out"
fi
check_no_nss "unknown name" "$work/trace-n0"

# The same name in the root's /etc/hosts: c-ares reads the file itself.
mkdir -p "$root/etc"
echo '127.0.0.1 ssmbak-static.test' >"$root/etc/hosts"
probe "HTTPS to ssmbak-static.test via the root's /etc/hosts: verified and done" ok \
    "$work/trace-name" "$name_url" SSL_CERT_FILE=/ca.pem
check_no_nss "name from /etc/hosts" "$work/trace-name"
if [ $have_strace = yes ] && ! binary_trace "$work/trace-name" | grep -q '"/etc/hosts"'; then
    fail "name from /etc/hosts: /etc/hosts was read" "$(binary_trace "$work/trace-name")"
fi

finish
