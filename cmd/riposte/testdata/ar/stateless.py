#!/usr/bin/env python3
# Wazuh 4.x active-response fixture used with a response without timeout:
# reads ONE line, records it, sends check_keys on data.dstuser and records
# the reply. Records go to records/stateless.jsonl.
import json
import os
import sys

RECORDS = os.path.join("records", "stateless.jsonl")


def record(line):
    os.makedirs("records", exist_ok=True)
    if not line:
        line = b"<EOF>"
    if not line.endswith(b"\n"):
        line += b"\n"
    with open(RECORDS, "ab") as f:
        f.write(line)


def main():
    line = sys.stdin.buffer.readline()
    record(line)
    msg = json.loads(line)
    if msg.get("command") != "add":
        return 0
    user = msg["parameters"]["alert"]["data"]["dstuser"]
    keys = {
        "version": 1,
        "origin": {"name": "stateless", "module": "active-response"},
        "command": "check_keys",
        "parameters": {"keys": [user]},
    }
    sys.stdout.write(json.dumps(keys, separators=(",", ":")) + "\n")
    sys.stdout.flush()
    record(sys.stdin.buffer.readline())
    return 0


if __name__ == "__main__":
    sys.exit(main())
