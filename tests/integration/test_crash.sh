#!/usr/bin/env bash
# kill -9 of the daemon while commits and fsync'd writes run: after a
# remount every branch head is a complete commit whose history is readable,
# and every file whose fsync returned has its exact bytes.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
mesh_domain red
mesh_domain blue
mesh_mount
MANIFEST=$MESH_TMP/manifest
: >"$MANIFEST"
ROUNDS=${MESH_CRASH_ROUNDS:-4}

# writer DOMAIN ROUND: new files of random size, each written, fsync'd and
# closed; only then "path sha256" goes into the manifest (outside the mount).
WRITER='
import hashlib, os, random, sys
mnt, domain, rnd, manifest, stop = sys.argv[1:]
rng = random.Random()
base = f"{mnt}/{domain}/main/crash/r{rnd}"
i = 0
try:
    os.makedirs(base, exist_ok=True)
    while not os.path.exists(stop):
        sub = f"{base}/d{i % 5}"
        os.makedirs(sub, exist_ok=True)
        data = os.urandom(rng.randint(1, 400_000))
        rel = f"{domain}/main/crash/r{rnd}/d{i % 5}/f{i}.bin"
        fd = os.open(f"{mnt}/{rel}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
        os.close(fd)
        line = "%s %s\n" % (rel, hashlib.sha256(data).hexdigest())
        mfd = os.open(manifest, os.O_WRONLY | os.O_APPEND)
        os.write(mfd, line.encode())
        os.close(mfd)
        i += 1
except OSError:
    pass   # the daemon died under us: expected
'

# committer DOMAIN: commits in a loop until stopped; failures are expected
# (nothing to commit, or the daemon is gone).
committer() {
	local domain=$1 stop=$2 k=0
	while [[ ! -e $stop ]]; do
		k=$((k + 1))
		"$MESHFS_BIN" commit "$domain/main" -m "crash commit $k" --mount "$MNT" >/dev/null 2>&1 || true
		sleep 0.05
	done
}

verify() {
	local domain log n ids id
	for domain in red blue; do
		log=$(mesh_ctl_ok "log $domain/main") || fail "log $domain/main unreadable after kill -9"
		mesh_json 'all(d["commits"][i]["parents"] == [d["commits"][i+1]["id"]] for i in range(len(d["commits"]) - 1)) and d["commits"][-1]["parents"] == [] or exit(1)' <<<"$log" >/dev/null ||
			fail "log of $domain/main is not a complete chain down to the initial commit: $log"
		n=$(mesh_json 'len(d["commits"])' <<<"$log")
		ids=$(mesh_json '" ".join(c["id"] for c in d["commits"])' <<<"$log")
		for id in $ids; do
			ls "$MNT/$domain/$id" >/dev/null || fail "commit view $domain/$id does not list"
		done
		# Every byte of the head commit must read back verified (no EIO).
		id=${ids%% *}
		find "$MNT/$domain/$id" -type f -exec cat {} + >/dev/null ||
			fail "reading the files of head commit $domain/$id failed"
		note "$domain: $n commits, head ${id:0:12}"
	done
	"$PY" - "$MNT" "$MANIFEST" <<'PYEOF' || fail "fsync'd data lost or changed after kill -9"
import hashlib, sys
mnt, manifest = sys.argv[1:]
bad, n = [], 0
for line in open(manifest):
    parts = line.split()
    if len(parts) != 2 or len(parts[1]) != 64:
        continue
    rel, want = parts
    n += 1
    try:
        with open(f"{mnt}/{rel}", "rb") as f:
            got = hashlib.sha256(f.read()).hexdigest()
    except OSError as e:
        bad.append(f"{rel}: {e}")
        continue
    if got != want:
        bad.append(f"{rel}: sha256 {got}, fsync'd {want}")
for b in bad:
    print("LOST", b)
print(f"{n} fsync'd files checked, {len(bad)} bad")
sys.exit(1 if bad or n == 0 else 0)
PYEOF
}

for round in $(seq 1 "$ROUNDS"); do
	stop=$MESH_TMP/stop.$round
	before=$(wc -l <"$MANIFEST")
	pids=()
	for domain in red blue; do
		"$PY" -c "$WRITER" "$MNT" "$domain" "$round" "$MANIFEST" "$stop" &
		pids+=($!)
		committer "$domain" "$stop" &
		pids+=($!)
	done
	delay=$((800 + RANDOM % 2200))
	sleep "$((delay / 1000)).$(printf '%03d' $((delay % 1000)))"
	note "round $round: kill -9 after ${delay} ms"
	mesh_kill9_daemon
	touch "$stop"
	for pid in "${pids[@]}"; do
		wait "$pid" || true
	done
	mesh_drop_dead_mount
	after=$(wc -l <"$MANIFEST")
	((after > before)) || fail "round $round: no file was fsync'd before the kill (the test proves nothing)"
	mesh_mount
	verify
done

note "commits made it through the rounds"
total=$(mesh_ctl_ok "log red/main" | mesh_json 'len(d["commits"])')
((total >= 2)) || fail "no commit of red/main survived $ROUNDS rounds"

note "the recovered branches still commit"
echo after >"$MNT/red/main/after.txt"
mesh_commit red/main "after the crashes" >/dev/null
mesh_umount
mesh_mount
verify
exit 0
