#!/usr/bin/env python3
"""crosscheck_tunnel.py - the WireGuard indexes and OpenVPN session ids the tunnel decoders find
(tests/crosscheck/tunnel_ids.c) against the ones tshark shows, capture by capture.

Usage: crosscheck_tunnel.py [--binary VPNSCOPE] TUNNEL_IDS EXPECTED_DIFFS DIR...
With --binary, vpnscope's identifiers are those of its JSON records (`vpnscope -r FILE --json`:
wg_session initiator_index / responder_index, ovpn_session session_id / peer_session_id), i.e.
what the real pipeline reports, not what the decoders see; TUNNEL_IDS still tells tshark which
ports carry OpenVPN and which tls-auth HMAC size to use.
Every .pcap/.pcapng/.cap under each DIR (upstream-expected/ skipped) is read by both. tshark
fields: wg.sender, wg.receiver (shown as 0x + 8 hex digits of the little-endian value, the form
vpnscope uses), openvpn.sessionid and openvpn.rsessionid (decimal in tshark; compared as 16 hex
digits). OpenVPN on a port other than 1194 is dissected by tshark only with "-d udp.port==N,openvpn"
(or tcp): it is given for both ports of every flow tunnel_ids recognised as OpenVPN by structure.
tshark does not infer the tls-auth HMAC size (its preference, 20 bytes, is used whenever the bytes
after the session id look like an HMAC) and with another size it reads garbage peer session ids.
So when every OpenVPN flow of a file has the same inferred tls-auth layout, tshark is run with
that preference (openvpn.tls_auth_hmac_size) and the comparison is against that run; the ids the
default run shows in addition are reported as information.
Differences must be listed in EXPECTED_DIFFS (file<TAB>category<TAB>+id,-id<TAB>reason; + = only
vpnscope, - = only tshark), with the path relative to its DIR. Prints one line per file with
identifiers and the totals; exits 1 on an unexplained difference.
"""
import json
import os
import subprocess
import sys

CATS = ("wg", "ovpn")


def captures(root):
    out = []
    for d, _, fs in os.walk(root):
        if "upstream-expected" in d:
            continue
        for f in fs:
            if f.endswith((".pcap", ".pcapng", ".cap")):
                out.append(os.path.relpath(os.path.join(d, f), root))
    return sorted(out)


def ours(tool, path):
    p = subprocess.run([tool, path], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("tunnel_ids exit %d: %s" % (p.returncode, p.stderr.strip()))
    s = {c: set() for c in CATS}
    ports = set()
    layouts = set()
    for line in p.stdout.splitlines():
        f = line.split()
        if len(f) == 2 and f[0] in CATS:
            s[f[0]].add(f[1])
        elif len(f) == 3 and f[0] == "port":
            ports.add((f[1], int(f[2])))
        elif len(f) == 3 and f[0] == "layout":
            layouts.add((f[1], int(f[2])))
    return s, ports, layouts


def ours_json(binary, path):
    p = subprocess.run([binary, "-r", path, "--json", "--no-progress"], capture_output=True,
                       text=True)
    # a capture cut off mid-record is analysed up to the damage and exits 2 when nothing was found
    if p.returncode not in (0, 1) and not (p.returncode == 2 and '"input_cut"' in p.stdout):
        raise RuntimeError("vpnscope exit %d: %s" % (p.returncode, p.stderr.strip()))
    s = {c: set() for c in CATS}
    for line in p.stdout.splitlines():
        r = json.loads(line)
        if r.get("type") == "wg_session":
            s["wg"].update([r["initiator_index"], r["responder_index"]])
        elif r.get("type") == "ovpn_session":
            s["ovpn"].add(r["session_id"])
            if r.get("peer_session_id"):
                s["ovpn"].add(r["peer_session_id"])
    return s


def theirs(path, ports, hmac=None):
    cmd = ["tshark", "-n", "-r", path]
    if hmac is not None:
        cmd += ["-o", "openvpn.tls_auth_detection_override:TRUE", "-o", "openvpn.tls_auth:TRUE",
                "-o", "openvpn.tls_auth_hmac_size:%d" % hmac]
    for proto, port in sorted(ports):
        cmd += ["-d", "%s.port==%d,openvpn" % (proto, port)]
    cmd += ["-Y", "wg || openvpn", "-T", "fields", "-E", "occurrence=a", "-E", "separator=\t",
            "-e", "wg.sender", "-e", "wg.receiver", "-e", "openvpn.sessionid",
            "-e", "openvpn.rsessionid"]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    s = {c: set() for c in CATS}
    for line in out.splitlines():
        cols = line.split("\t") + [""] * 4
        for i, v in enumerate(cols[:4]):
            for x in v.split(","):
                x = x.strip()
                if not x:
                    continue
                if i < 2:
                    s["wg"].add("0x%08x" % int(x, 0))
                else:
                    s["ovpn"].add("%016x" % int(x, 0))
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


def main():
    args = sys.argv[1:]
    binary = None
    if args and args[0] == "--binary":
        binary, args = args[1], args[2:]
    tool, expected_file, roots = args[0], args[1], args[2:]
    exp = load_expected(expected_file)
    files = matched = explained = bad = with_ids = 0
    for root in roots:
        for rel in captures(root):
            files += 1
            path = os.path.join(root, rel)
            try:
                v, ports, layouts = ours(tool, path)
                if binary:
                    v = ours_json(binary, path)
            except RuntimeError as e:
                print("FAIL %s: %s" % (rel, e))
                bad += 1
                continue
            t = theirs(path, ports)
            info = ""
            if len(layouts) == 1 and next(iter(layouts))[0] == "tls_auth":
                hmac = next(iter(layouts))[1]
                default = t
                t = theirs(path, ports, hmac)
                extra = default["ovpn"] - t["ovpn"]
                info = " [tshark -o openvpn.tls_auth_hmac_size:%d%s]" % (
                    hmac, "; its default 20-byte HMAC adds " + ",".join(sorted(extra))
                    if extra else "")
            if not any(v[c] or t[c] for c in CATS):
                continue
            with_ids += 1
            parts = []
            for c in CATS:
                both = v[c] & t[c]
                matched += len(both)
                diff = set("+" + x for x in v[c] - t[c]) | set("-" + x for x in t[c] - v[c])
                note = "%s %d/%d" % (c, len(both), len(t[c]))
                if diff:
                    e = exp.get((rel, c))
                    if e and diff == e[0]:
                        explained += 1
                        note += " explained %s (%s)" % (",".join(sorted(diff)), e[1])
                    else:
                        bad += 1
                        note += " MISMATCH %s" % ",".join(sorted(diff))
                parts.append(note)
            print("%s: %s%s" % (rel, "; ".join(parts), info))
    print("crosscheck_tunnel: %d files, %d with WireGuard/OpenVPN identifiers; %d identifiers "
          "matched, %d explained differences, %d unexplained" % (files, with_ids, matched,
                                                                explained, bad))
    print("%d passed, %d failed" % (files - bad, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
