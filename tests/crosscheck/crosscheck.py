#!/usr/bin/env python3
"""crosscheck.py - compares the identifiers vpnscope reports with those tshark extracts.

For every capture under SHARED/pcaps/public: the IKE SPIs, ESP SPIs, AH SPIs and PPTP/GRE call IDs
in vpnscope's JSON must equal the sets `tshark -T fields` extracts from the same file, except the
differences listed with a reason in tests/crosscheck/expected-differences.txt
(`file<TAB>category<TAB>+id,-id...<TAB>reason`; + = only vpnscope has it, - = only tshark).
Prints one line per file and the totals; exits 1 on an unexplained difference.
"""
import json
import os
import subprocess
import sys

CATS = ("ike_spi", "esp_spi", "ah_spi", "call_id")


def tshark_sets(path):
    fields = ["isakmp.ispi", "isakmp.rspi", "esp.spi", "ah.spi", "pptp.call_id",
              "pptp.peer_call_id", "gre.key.call_id"]
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "occurrence=a", "-E", "separator=\t"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    s = {c: set() for c in CATS}
    for line in out.splitlines():
        cols = line.split("\t")
        cols += [""] * (len(fields) - len(cols))
        for i, v in enumerate(cols):
            for x in v.split(","):
                x = x.strip()
                if not x:
                    continue
                if i < 2:
                    x = x.lower()
                    if x != "0" * 16:
                        s["ike_spi"].add(x)
                elif i == 2:
                    s["esp_spi"].add("0x%08x" % int(x, 0))
                elif i == 3:
                    s["ah_spi"].add("0x%08x" % int(x, 0))
                else:
                    s["call_id"].add(int(x, 0))
    return s


def vpnscope_sets(binary, path):
    p = subprocess.run([binary, "--no-progress", "--json", "-r", path], capture_output=True, text=True)
    if p.returncode not in (0, 1):
        raise RuntimeError("vpnscope exit %d: %s" % (p.returncode, p.stderr.strip()))
    s = {c: set() for c in CATS}
    for line in p.stdout.splitlines():
        r = json.loads(line)
        t = r["type"]
        if t == "ike_sa":
            for k in ("ispi", "rspi"):
                if r[k] != "0" * 16:
                    s["ike_spi"].add(r[k])
        elif t == "esp_sa":
            s["esp_spi"].add(r["spi"])
        elif t == "ah_sa":
            s["ah_spi"].add(r["spi"])
        elif t == "pptp_call":
            s["call_id"].add(r["call_id"])
            if r.get("peer_call_id") is not None:
                s["call_id"].add(r["peer_call_id"])
        elif t == "gre" and r.get("version") == 1 and r.get("call_id") is not None:
            s["call_id"].add(r["call_id"])
    return s


def load_expected(path):
    exp = {}
    if not os.path.exists(path):
        return exp
    for line in open(path):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        f, cat, ids, reason = line.split("\t", 3)
        exp[(f, cat)] = (set(i for i in ids.split(",") if i), reason)
    return exp


def fmt(x):
    return x if isinstance(x, str) else str(x)


def main():
    binary, shared, expected_file = sys.argv[1], sys.argv[2], sys.argv[3]
    root = os.path.join(shared, "pcaps", "public")
    files = []
    for d, _, fs in os.walk(root):
        if "upstream-expected" in d:
            continue
        for f in fs:
            if f.endswith((".pcap", ".pcapng", ".cap")):
                files.append(os.path.relpath(os.path.join(d, f), root))
    files.sort()
    exp = load_expected(expected_file)
    totals = {c: 0 for c in CATS}
    bad = explained = 0
    for f in files:
        path = os.path.join(root, f)
        t = tshark_sets(path)
        try:
            v = vpnscope_sets(binary, path)
        except RuntimeError as e:
            v = {c: set() for c in CATS}
            if sum(len(x) for x in t.values()):
                print("FAIL %s: %s" % (f, e))
                bad += 1
            continue
        for c in CATS:
            both = t[c] & v[c]
            totals[c] += len(both)
            diff = set("+" + fmt(x) for x in v[c] - t[c]) | set("-" + fmt(x) for x in t[c] - v[c])
            if not diff:
                continue
            e = exp.get((f, c))
            if e and diff == e[0]:
                explained += 1
                print("explained %s %s %s: %s" % (f, c, ",".join(sorted(diff)), e[1]))
            else:
                bad += 1
                print("MISMATCH %s\t%s\t%s" % (f, c, ",".join(sorted(diff))))
    print("crosscheck: %d files; matched ike_spi %d, esp_spi %d, ah_spi %d, call_id %d; "
          "%d explained differences, %d unexplained" % (len(files), totals["ike_spi"],
          totals["esp_spi"], totals["ah_spi"], totals["call_id"], explained, bad))
    print("%d passed, %d failed" % (len(files) - bad, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
