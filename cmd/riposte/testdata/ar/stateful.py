#!/usr/bin/env python3
# Stateful Wazuh 4.x active-response fixture: reads ONE line from stdin,
# records it, and on "add" asks for its keys (data.srcip), then records the
# reply (continue or abort). Records go to records/stateful.jsonl, relative
# to the working directory (the data directory).
import json
import os
import sys

RECORDS = os.path.join("records", "stateful.jsonl")


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
    srcip = msg["parameters"]["alert"]["data"]["srcip"]
    keys = {
        "version": 1,
        "origin": {"name": "stateful", "module": "active-response"},
        "command": "check_keys",
        "parameters": {"keys": [srcip]},
    }
    sys.stdout.write(json.dumps(keys, separators=(",", ":")) + "\n")
    sys.stdout.flush()
    record(sys.stdin.buffer.readline())
    return 0


if __name__ == "__main__":
    sys.exit(main())
