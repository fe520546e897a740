#!/bin/sh
# The classic Wazuh hang: read stdin to EOF, which never comes because execd
# keeps stdin open while it waits for a check_keys line. A grandchild
# (sleep 300) is started first to prove the whole process group is killed.
# records/hang.pid holds "<pid of this shell> <pid of the sleep>".
mkdir -p records
sleep 300 &
echo "$$ $!" > records/hang.pid.tmp
mv records/hang.pid.tmp records/hang.pid
cat > /dev/null
