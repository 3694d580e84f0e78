#!/usr/bin/env bash
# crosscheck_html.sh - the --html report rendered by a real headless Chromium: the DOM has the
# findings (cause, frames, Wireshark filter, remedy), one SVG timeline per tunnel peer with the
# packets that died at the router, the NAT mappings and the clock offset; nothing is loaded from
# elsewhere (no script, link, img, iframe, object or url()); and a capture whose PPTP host name
# and vendor are HTML injections renders them as text (no injected element in the DOM).
# Needs chromium and python3 (a skip without them; a failure under CI=true).
set -uo pipefail
src=${VPNSCOPE_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${VPNSCOPE_BIN:-$src/build/release/vpnscope}
chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ] || ! command -v python3 >/dev/null; then
    echo "SKIP: chromium or python3 missing"
    [ "${CI:-}" = true ] && exit 1
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
render() { # render HTML DOM-OUT
    timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --user-data-dir="$tmp/profile" \
        --dump-dom "file://$1" >"$2" 2>"$tmp/chromium.err"
}
fail=0
P=$src/pcaps
"$bin" --no-progress --inside "$P/ss-ikev2-dpd-stale-inside.pcap" \
    --outside "$P/ss-ikev2-dpd-stale-outside.pcap" --html "$tmp/stale.html" >/dev/null
[ $? -le 1 ] || { echo "FAIL: vpnscope --html"; fail=1; }
python3 "$src/tests/html/pptp_xss_pcap.py" "$tmp/xss.pcap"
"$bin" --no-progress -r "$tmp/xss.pcap" --html "$tmp/xss.html" >/dev/null
[ $? -le 1 ] || { echo "FAIL: vpnscope --html (PPTP)"; fail=1; }
render "$tmp/stale.html" "$tmp/stale.dom" || { echo "FAIL: chromium: $(tail -3 "$tmp/chromium.err")"; fail=1; }
render "$tmp/xss.html" "$tmp/xss.dom" || { echo "FAIL: chromium: $(tail -3 "$tmp/chromium.err")"; fail=1; }
python3 - "$tmp/stale.dom" "$tmp/xss.dom" "$tmp/stale.html" <<'PY' || fail=1
import sys
from html.parser import HTMLParser
class Dom(HTMLParser):
    def __init__(self):
        super().__init__(); self.tags = []; self.text = []; self.cls = {}; self.attrs = []
    def handle_starttag(self, tag, attrs):
        self.tags.append(tag); self.attrs.extend(attrs)
        for k, v in attrs:
            if k == "class":
                for c in (v or "").split(): self.cls[c] = self.cls.get(c, 0) + 1
    def handle_data(self, d): self.text.append(d)
def parse(p):
    d = Dom(); d.feed(open(p, encoding="utf-8").read()); d.alltext = "".join(d.text); return d
bad = []
stale, xss = parse(sys.argv[1]), parse(sys.argv[2])
for name, d in (("stale", stale), ("pptp", xss)):
    for t in ("script", "img", "iframe", "object", "link", "embed"):
        if t in d.tags: bad.append(f"{name}: <{t}> element in the DOM")
    for k, v in d.attrs:
        if k.startswith("on") or k in ("src", "href") or "url(" in (v or ""):
            bad.append(f"{name}: attribute {k}={v!r}")
# the stale NAT report: findings, timelines with dropped packets, NAT mappings, clock
if stale.cls.get("finding", 0) < 1: bad.append("stale: no finding section")
for c in ("cause", "remedy", "filter", "frames", "sessions", "nat", "clock"):
    if not stale.cls.get(c): bad.append(f"stale: no element of class {c}")
if stale.tags.count("svg") < 1 or not stale.cls.get("timeline"): bad.append("stale: no SVG timeline")
if not stale.cls.get("row-3"): bad.append("stale: no 'died at the router' bar")
if not stale.cls.get("row-1") or not stale.cls.get("row-0"): bad.append("stale: not both sides drawn")
if "stale_nat" not in stale.alltext or "frame.number in {" not in stale.alltext:
    bad.append("stale: the stale_nat finding or its filter is missing")
# the injections are text
for s in ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>'):
    if s not in xss.alltext: bad.append(f"pptp: {s!r} not rendered as text")
for b in bad: print("FAIL", b)
print(f"stale: {stale.tags.count('svg')} timelines, {stale.cls.get('finding', 0)} findings; pptp names rendered as text")
sys.exit(1 if bad else 0)
PY
if [ $fail -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
exit $fail
