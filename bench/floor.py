#!/usr/bin/env python3
"""The floor under pith's bulk rates on this machine, from measured primitives only.

A bundle cannot be issued faster than its four Ed25519 signatures plus the SHA-256 of every
byte the spec makes it hash (spec section 3: the canonical record, the title and abstract
text rule, each event's content, each section pith builds, the state, the bundle) plus
parsing its input line; nor verified faster than four verifications plus the same digests
plus parsing the bundle. This script counts those bytes on real output (a sample of the
bundles pith wrote and of the corpus they came from), takes the per-operation costs from
the table of `examples/primitives.rs` run from the build being measured (pith's Ed25519
sign and strict verify, SHA-256 MB/s on 16 KiB, serde_json's parse of the real bundle
scaled by size: a build for the local CPU gets a floor of its own primitives) and prints
the floor rate for the cores of this machine, and how near pith's measured rates come to
it. It leaves out everything else a real tool does (building the objects, serializing
them, the ledger, writing the output), so no implementation reaches it.
`../shared/bench/limits` prints a table of the same shape (its verify row is dalek's
cofactorless verify, its batch row is used when present).

Usage: floor.py PRIMITIVES_OUT BUNDLES.jsonl CORPUS.jsonl CORES REF_ISSUE_RATE REF_VERIFY_RATE
                [PITH_ISSUE_RATE PITH_VERIFY_RATE]
"""
import json
import re
import sys
import unicodedata


def canon(v):
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def without(obj, *keys):
    return {k: v for k, v in obj.items() if k not in keys}


def hashed_bytes(bundle):
    """Bytes a verifier must hash for one bundle (spec section 3)."""
    n = len(canon(bundle["canonical_record"]))
    for ev in bundle["events"]:
        n += len(canon(without(ev, "signature", "content_sha256", "event_id")))
        snap = ev.get("payload", {}).get("graph_snapshot")
        if isinstance(snap, dict):
            for sec in snap.values():
                if isinstance(sec, dict) and "snapshot_sha256" in sec:
                    n += len(canon(without(sec, "snapshot_sha256")))
            title = snap.get("paper", {}).get("title", "")
            n += len(title.encode())  # the title rule, checked against title_canon_sha256
    n += len(canon(without(bundle["state"], "state_sha256")))
    n += len(canon(without(bundle, "bundle_signature")))
    return n


def limit(text, pattern, required=True):
    m = re.search(r"\|\s*" + pattern + r"[^|]*\|\s*([0-9.]+)\s*\|", text)
    if not m:
        if not required:
            return None
        sys.exit(f"floor.py: no '{pattern}' line in the primitives output")
    return float(m.group(1))


def main():
    limits_out, bundles, corpus, cores, ref_issue, ref_verify = sys.argv[1:7]
    cores, ref_issue, ref_verify = int(cores), float(ref_issue), float(ref_verify)
    pith_issue, pith_verify = (float(x) for x in (sys.argv[7:9] or ["0", "0"]))
    text = open(limits_out, encoding="utf-8").read()
    sign_us = limit(text, r"ed25519 sign")
    verify_us = limit(text, r"ed25519 verify \(32-byte msg\)")
    batch_us = limit(text, r"ed25519 batch verify", required=False)
    sha_mbs = limit(text, r"sha256 throughput, 16 KiB")
    m = re.search(r"\((\d+) B\) \|\n\|\s*serde_json parse to Value\s*\|\s*([0-9.]+)", text)
    if not m:
        sys.exit("floor.py: no serde_json parse line in the primitives output")
    parse_us_per_byte = float(m.group(2)) / int(m.group(1))

    sample, hashed, line_len = 0, 0, 0
    with open(bundles, encoding="utf-8") as f:
        for line in f:
            if sample == 500:
                break
            hashed += hashed_bytes(json.loads(line))
            line_len += len(line.encode())
            sample += 1
    verify_hashed, bundle_len = hashed / sample, line_len / sample

    texts, in_len, n_in = 0, 0, 0
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            if n_in == 500:
                break
            rec = json.loads(line)
            for k in ("title", "abstract"):
                texts += len(unicodedata.normalize("NFC", str(rec.get(k, ""))).encode())
            in_len += len(line.encode())
            n_in += 1
    issue_hashed = verify_hashed + texts / n_in
    in_len /= n_in

    def us_hash(n):
        return n / sha_mbs  # bytes / (MB/s) = microseconds

    issue_us = 4 * sign_us + us_hash(issue_hashed) + parse_us_per_byte * in_len
    verify_us_total = 4 * verify_us + us_hash(verify_hashed) + parse_us_per_byte * bundle_len
    rate = lambda us: cores * 1e6 / us  # noqa: E731
    print(
        f"floor from this build's primitives ({cores} cores; per bundle: {issue_hashed:,.0f} B hashed "
        f"to issue, {verify_hashed:,.0f} B to verify, {bundle_len:,.0f} B parsed):"
    )
    print(
        f"  issue:  {rate(issue_us):,.0f}/s  (4 signs {4 * sign_us:.1f} us + hashing "
        f"{us_hash(issue_hashed):.1f} us + input parse {parse_us_per_byte * in_len:.1f} us)"
        f"; target 20x pithref = {20 * ref_issue:,.0f}/s"
    )
    print(
        f"  verify: {rate(verify_us_total):,.0f}/s  (4 single verifications {4 * verify_us:.1f} us"
        f" + hashing {us_hash(verify_hashed):.1f} us + parse {parse_us_per_byte * bundle_len:.1f} us)"
        f"; target 20x pithref = {20 * ref_verify:,.0f}/s"
    )
    sig_hash_us = 4 * verify_us + us_hash(verify_hashed)
    print(
        f"  verify, signatures and hashing alone (a free parse): {rate(sig_hash_us):,.0f}/s"
        f" = {100 * rate(sig_hash_us) / (20 * ref_verify):.0f} % of the 20x target"
    )
    if batch_us is not None:
        batch_us_total = 4 * batch_us + us_hash(verify_hashed) + parse_us_per_byte * bundle_len
        print(
            f"  verify with 64-signature batches (not strict; pith does not use it): "
            f"{rate(batch_us_total):,.0f}/s"
        )
    if pith_issue and pith_verify:
        print(
            f"  pith at {100 * pith_issue / rate(issue_us):.0f} % of the issue floor, "
            f"{100 * pith_verify / rate(verify_us_total):.0f} % of the verify floor"
        )


if __name__ == "__main__":
    main()
