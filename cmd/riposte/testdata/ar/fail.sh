#!/bin/sh
# Reads ONE line, records it, complains on stderr and exits 3.
IFS= read -r line
mkdir -p records
printf '%s\n' "$line" >> records/fail.jsonl
echo "boom: cannot apply" >&2
exit 3
