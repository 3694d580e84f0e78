#!/usr/bin/env bash
# lint_planted.sh - lint_layering.sh can fail: on a copy of src/ and include/ it passes; with a
# private address comparison or a protocol-name switch planted in a new file it fails naming the
# file; likewise for a decoder that includes a flow header.
set -uo pipefail
src=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
lint=$src/tests/scripts/lint_layering.sh
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { if "$@"; then :; else echo "lint_planted: FAILED: $*"; fail=1; fi; }

fresh() {
    rm -rf "$tmp/tree"
    mkdir -p "$tmp/tree" && cp -r "$src/src" "$src/include" "$tmp/tree/"
}
run_lint() { VPNSCOPE_SRC="$tmp/tree" bash "$lint" >"$tmp/out" 2>&1; }

# the untouched copy passes (as the tree itself must)
fresh
check run_lint

# a private ip_eq in a new file fails, naming it
fresh
cat >"$tmp/tree/src/flow/planted.c" <<'EOF'
#include "vpnscope/pkt.h"
#include <string.h>
static bool ip_eq(const struct ip_addr *a, const struct ip_addr *b)
{
    return a->v == b->v && memcmp(a->a, b->a, 16) == 0;
}
EOF
check test "$(run_lint; echo $?)" = 1
check grep -q 'src/flow/planted.c:3 defines a private address comparison' "$tmp/out"

# another spelling (static inline, other prefix) in a header fails too
fresh
printf 'static inline bool my_addr_eq(const void *a, const void *b)\n{\n    return a == b;\n}\n' \
    >>"$tmp/tree/include/vpnscope/rd.h"
check test "$(run_lint; echo $?)" = 1
check grep -q 'include/vpnscope/rd.h:.* defines a private address comparison' "$tmp/out"

# a declaration is not a definition
fresh
printf 'bool other_ip_eq(const void *a, const void *b);\n' >>"$tmp/tree/include/vpnscope/rd.h"
check run_lint

# a protocol-name switch outside names.c fails (named constants or numbers, any letter case)
fresh
printf '%s\n' '#include <stdint.h>' 'static const char *pname(uint8_t p)' '{' '    switch (p) {' \
    '    case 50:' '        return "ESP";' '    default:' '        return "?";' '    }' '}' \
    >"$tmp/tree/src/report/planted.c"
check test "$(run_lint; echo $?)" = 1
check grep -q 'src/report/planted.c:6 names IP protocols in its own switch' "$tmp/out"
fresh
printf '%s\n' 'static const char *q(int p)' '{' '    switch (p) {' '    case IPP_UDP: return "udp";' \
    '    }' '    return 0;' '}' >"$tmp/tree/src/flow/planted.c"
check test "$(run_lint; echo $?)" = 1
check grep -q 'src/flow/planted.c:4 names IP protocols' "$tmp/out"

# a switch on something else that returns other strings passes
fresh
printf '%s\n' 'static const char *r(int p)' '{' '    switch (p) {' '    case 3:' '        return "three";' \
    '    }' '    return 0;' '}' >"$tmp/tree/src/flow/planted.c"
check run_lint

# a decoder including a flow header fails
fresh
sed -i '1a #include "vpnscope/session.h"' "$tmp/tree/src/decode/esp.c"
check test "$(run_lint; echo $?)" = 1
check grep -q 'src/decode/esp.c: a decoder includes flow/state headers' "$tmp/out"

if [ $fail -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $fail
