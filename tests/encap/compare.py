#!/usr/bin/python3
"""compare.py ORIG.jsonl DERIVED.jsonl [--loose] - the findings and NAT mappings of a derived
capture (wrapped, cut, re-framed) against its original's.

Exact mode: every finding and nat_mapping record must be identical (same text, evidence, frames).
--loose (snaplen cuts): the same finding kinds with the same severity, confidence, sessions and
frames, and the same mappings (addresses, ports, protocol, packet counts; the evidence list may lose
what was cut, never gain); the wording and the
evidence numbers may differ where the cut removed bytes. Exit 0 when they agree, 1 with the
differences on stdout.
"""
import json
import sys


def records(path):
    out = {"finding": [], "nat_mapping": []}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r.get("type") in out:
                out[r["type"]].append(r)
    return out


def loose(rec):
    if rec["type"] == "finding":
        keep = ("kind", "severity", "confidence", "sessions")
        d = {k: rec.get(k) for k in keep}
        # a session's note says where the evidence came from (NAT-D or the mapping)
        d["sessions"] = [{k: v for k, v in x.items() if k != "note"} for x in d["sessions"] or []]
        d["frames"] = rec.get("evidence", {}).get("frames")
        return d
    # which signatures matched may lose the ones the cut removed (NAT-D hashes)
    drop = ("bytes", "first_ts", "last_ts", "evidence")
    return {k: v for k, v in rec.items() if k not in drop}


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    is_loose = "--loose" in sys.argv
    if len(args) != 2:
        sys.exit(__doc__)
    a, b = records(args[0]), records(args[1])
    bad = 0
    if is_loose:
        ev = {}
        for r in a["nat_mapping"]:
            ev[json.dumps(loose(r), sort_keys=True)] = set(r.get("evidence", []))
        for r in b["nat_mapping"]:
            k = json.dumps(loose(r), sort_keys=True)
            if k in ev and not set(r.get("evidence", [])) <= ev[k]:
                print("nat_mapping evidence gained in the derived capture:", k[:200])
                bad += 1
    for t in ("finding", "nat_mapping"):
        ra = [loose(r) if is_loose else r for r in a[t]]
        rb = [loose(r) if is_loose else r for r in b[t]]
        ka = sorted(json.dumps(r, sort_keys=True) for r in ra)
        kb = sorted(json.dumps(r, sort_keys=True) for r in rb)
        if ka != kb:
            bad += 1
            print(f"{t}: {len(ka)} in the original, {len(kb)} in the derived capture")
            for x in sorted(set(ka) - set(kb)):
                print("  only original:", x[:400])
            for x in sorted(set(kb) - set(ka)):
                print("  only derived: ", x[:400])
    if not a["finding"] and not a["nat_mapping"]:
        print("the original has neither findings nor mappings: nothing to compare")
        bad += 1
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
