#!/usr/bin/env bash
# A writer rewrites a committed file in a loop (open with O_TRUNC, write
# 200 KB, close) while another program commits: every commit records the
# file as some close left it (200,000 bytes of one round), never the
# truncated middle of a rewrite.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
mesh_domain sales
mesh_mount
SECONDS_TO_RUN=${MESH_TRUNC_SECONDS:-8}

"$PY" - "$MNT" "$SECONDS_TO_RUN" "$MESH_SOURCE_DIR/tests/stress" <<'PY' || fail "a commit recorded a state no close produced (see above)"
import os, sys, threading, time
mnt, secs = sys.argv[1], float(sys.argv[2])
sys.path.insert(0, sys.argv[3])
from meshctl import ctl_json
path = f"{mnt}/sales/main/data.bin"
size = 200_000

def payload(k):
    return bytes([k % 251]) * size

def ctl(cmd):
    return ctl_json(mnt, cmd)

with open(path, "wb") as f:
    f.write(payload(0))
assert ctl("commit sales/main -m first")[0]
stop = time.time() + secs
rounds, commits, errors = [0], [], []

def writer():
    k = 1
    while time.time() < stop:
        with open(path, "wb") as f:        # O_WRONLY | O_CREAT | O_TRUNC
            f.write(payload(k))
        k += 1
    rounds[0] = k

def committer():
    while time.time() < stop:
        ok, answer = ctl("commit sales/main -m round")
        if ok:
            commits.append(answer["commit"])
        elif answer.get("error") != "EINVAL":     # nothing to commit is fine
            errors.append(answer)
            return

ts = [threading.Thread(target=writer), threading.Thread(target=committer)]
[t.start() for t in ts]
[t.join() for t in ts]
if errors:
    sys.exit(f"a commit failed: {errors[0]}")
bad = []
for c in commits:
    with open(f"{mnt}/sales/{c}/data.bin", "rb") as f:
        data = f.read()
    if len(data) != size or data != data[:1] * size:
        bad.append((c[:12], len(data)))
print(f"{rounds[0]} rewrites, {len(commits)} commits, {len(bad)} bad")
if len(commits) < 20:
    sys.exit(f"only {len(commits)} commits ran: the race was not exercised")
if bad:
    sys.exit(f"commits that recorded no close's state: {bad[:5]}")
PY
echo "PASS: $MESH_TEST_NAME"
