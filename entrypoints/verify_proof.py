"""Checks a proof from the ledger's audit chain offline, with the standard library alone.

``python entrypoints/verify_proof.py proof.json [digest.json]`` recomputes every link from
the proof's first event to the digest the auditor kept, and prints ``ok`` or the first bad position
(exit status 1). The encoding is the one in ``ledger/audit_chain.py`` (see the README).
"""

import base64
import hashlib
import json
import struct
import sys
import uuid


def check(proof: dict) -> int | None:  # type: ignore[type-arg]
    """None when the proof holds, else the first position that does not."""
    link = bytes.fromhex(proof["previous_link"])
    last = None
    for e in proof["events"]:
        pos = e["position"]
        if (last is None and pos != proof["position"]) or (last is not None and pos <= last):
            return int(pos)
        topic, state = e["topic"].encode("utf-8"), base64.b64decode(e["state_b64"])
        link = hashlib.sha256(
            link + struct.pack(">q", pos) + uuid.UUID(e["originator_id"]).bytes
            + struct.pack(">q", e["originator_version"]) + struct.pack(">I", len(topic))
            + topic + struct.pack(">I", len(state)) + state).digest()
        if e.get("stored_link") is not None and e["stored_link"] != link.hex():
            return int(pos)
        last = pos
    digest = proof["digest"]
    if last != digest["position"] or link.hex() != digest["link"]:
        return int(digest["position"])
    return None


def main(argv: list[str]) -> int:
    with open(argv[1], encoding="utf-8") as f:
        proof = json.load(f)
    if len(argv) > 2:  # the digest the auditor kept, rather than the one the proof echoes
        with open(argv[2], encoding="utf-8") as f:
            proof["digest"] = json.load(f)
    bad = check(proof)
    print("ok" if bad is None else f"bad position {bad}")
    return 0 if bad is None else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
