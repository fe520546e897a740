#!/bin/sh
# Reads ONE line, records it and exits 0 without ever sending check_keys:
# Wazuh treats such a response as stateless, so no delete ever runs.
IFS= read -r line
mkdir -p records
printf '%s\n' "$line" >> records/nokeys.jsonl
exit 0
