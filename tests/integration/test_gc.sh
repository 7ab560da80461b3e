#!/usr/bin/env bash
# meshfs gc: racing writers, commits, merges and cp it loses nothing; a
# deleted branch goes after its retention (0 days) and stays with 7; a
# kill -9 mid-write leaves orphans that gc reclaims (store size measured);
# --dry-run removes nothing and counts the same; through the control file
# and through the CLI without a mount.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
mesh_domain sales
mesh_domain mkt

objects_bytes() { du -sb "$STORE/objects" | cut -f1; }
db_objects() { find "$STORE/objects" -type f | wc -l; }

# sums DIR...: "path sha256" of every file under each branch view, sorted.
SUMS='
import hashlib, os, sys
out = []
for top in sys.argv[1:]:
    for root, dirs, files in os.walk(top):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                out.append("%s %s" % (os.path.relpath(p, os.path.dirname(os.path.dirname(top))),
                                      hashlib.sha256(fh.read()).hexdigest()))
print("\n".join(sorted(out)))
'
all_sums() { "$PY" -c "$SUMS" "$MNT"/sales/main "$MNT"/sales/side "$MNT"/mkt/main "$MNT"/mkt/side; }

mesh_mount

note "bad input changes nothing"
mesh_ctl_fails EINVAL "gc --bogus"
mesh_ctl_fails EINVAL "gc extra"
mesh_ctl_fails EINVAL "domain set sales retention -1"
mesh_ctl_fails EINVAL "domain set sales retention abc"
mesh_ctl_fails EINVAL "domain set sales colour 3"
mesh_ctl_fails ENOENT "domain set nope retention 3"
assert_eq 7 "$(mesh_ctl_ok 'domain list' | mesh_json '[x["retention_days"] for x in d["domains"] if x["name"] == "sales"][0]')" "default retention"

note "a deleted branch stays within its retention, goes with retention 0"
mkdir -p "$MNT/sales/main/base"
for i in 1 2 3; do head -c 100000 /dev/urandom >"$MNT/sales/main/base/f$i.bin"; done
mesh_commit sales/main "base" >/dev/null
mesh_ctl_ok "branch create sales/feat --from main" >/dev/null
head -c $((3 << 20)) /dev/urandom >"$MESH_TMP/feat.bin"
cp "$MESH_TMP/feat.bin" "$MNT/sales/feat/feat.bin"
FEAT=$(mesh_commit sales/feat "feat data")
mesh_ctl_ok "branch delete sales/feat" >/dev/null
ans=$(mesh_ctl_ok "gc")
# (an intermediate map of a file staged twice may go, never the data)
[[ $(mesh_json 'd["removed_bytes"]' <<<"$ans") -lt 100000 ]] || fail "gc removed data within retention 7: $ans"
[[ $(mesh_json 'd["retained_commits"]' <<<"$ans") -ge 1 ]] || fail "no commit kept by retention: $ans"
assert_file_eq "$MESH_TMP/feat.bin" "$MNT/sales/$FEAT/feat.bin"
mesh_ctl_ok "domain set sales retention 0" | grep -q '"retention_days":0' || fail "retention not shown"
before_bytes=$(objects_bytes)
before_files=$(db_objects)
dry=$(mesh_ctl_ok "gc --dry-run")
assert_eq true "$(mesh_json 'd["dry_run"]' <<<"$dry")" "dry_run flag"
[[ $(mesh_json 'd["removed_bytes"]' <<<"$dry") -ge $((3 << 20)) ]] || fail "dry run would not remove the 3 MiB: $dry"
assert_eq "$before_bytes" "$(objects_bytes)" "objects/ bytes after a dry run"
assert_eq "$before_files" "$(db_objects)" "object files after a dry run"
real=$(mesh_ctl_ok "gc")
for k in removed_objects removed_bytes removed_db_objects index_entries_removed; do
	assert_eq "$(mesh_json "d['$k']" <<<"$dry")" "$(mesh_json "d['$k']" <<<"$real")" "$k of dry run and real run"
done
after_bytes=$(objects_bytes)
[[ $((before_bytes - after_bytes)) -ge $((3 << 20)) ]] || fail "objects/ shrank by $((before_bytes - after_bytes)) bytes only"
assert_fails mesh_ctl "log sales/$FEAT"
for i in 1 2 3; do [[ -s $MNT/sales/main/base/f$i.bin ]] || fail "base/f$i.bin lost"; done

note "gc racing writers, commits, merges and cp loses nothing"
mesh_ctl_ok "branch create sales/side --from main" >/dev/null
mesh_ctl_ok "domain set mkt retention 0" >/dev/null
STOP=$MESH_TMP/stop
MANIFEST=$MESH_TMP/manifest
: >"$MANIFEST"
WRITER='
import hashlib, os, random, sys
top, tag, manifest, stop = sys.argv[1:]
rng = random.Random(tag)
i = 0
while not os.path.exists(stop):
    name = "w%s/f%d.bin" % (tag, i % 12)       # rewritten: old versions become garbage
    os.makedirs(os.path.join(top, "w" + tag), exist_ok=True)
    data = os.urandom(rng.choice([3000, 70000, 300000, 1200000]))
    with open(os.path.join(top, name), "wb") as f:
        f.write(data)
    with open(manifest, "a") as m:
        m.write("%s %s %s\n" % (top, name, hashlib.sha256(data).hexdigest()))
    i += 1
'
mesh_ctl_ok "branch create mkt/side --from main" >/dev/null
"$PY" -c "$WRITER" "$MNT/mkt/side" a "$MANIFEST" "$STOP" &
W1=$!
"$PY" -c "$WRITER" "$MNT/sales/side" b "$MANIFEST" "$STOP" &
W2=$!
"$PY" -c "$WRITER" "$MNT/mkt/main" c "$MANIFEST" "$STOP" &
W3=$!
(
	k=0
	while [[ ! -e $STOP ]]; do
		k=$((k + 1))
		mesh_ctl "commit sales/side -m 'side $k'" >/dev/null 2>&1 || true
		mesh_ctl "merge sales/side --into main --strategy source-wins" >/dev/null 2>&1 || true
		mesh_ctl "commit sales/main -m 'main $k'" >/dev/null 2>&1 || true
		mesh_ctl "commit mkt/main -m 'mkt $k'" >/dev/null 2>&1 || true
		mesh_ctl "commit mkt/side -m 'mkt side $k'" >/dev/null 2>&1 || true
		mesh_ctl "merge mkt/side --into main" >/dev/null 2>&1 || true
		mesh_ctl "branch create mkt/tmp$k --from main" >/dev/null 2>&1 || true
		mesh_ctl "cp sales/main/base mkt/tmp$k/copy$k" >/dev/null 2>&1 || true
		mesh_ctl "branch delete mkt/tmp$k" >/dev/null 2>&1 || true
		sleep 0.05
	done
) &
C1=$!
GCS=0
REMOVED=0
end=$((SECONDS + 15))
while ((SECONDS < end)); do
	ans=$(mesh_ctl_ok "gc")
	GCS=$((GCS + 1))
	REMOVED=$((REMOVED + $(mesh_json 'd["removed_objects"]' <<<"$ans")))
done
touch "$STOP"
wait "$W1" "$W2" "$W3" "$C1"
note "$GCS collections during the race removed $REMOVED objects"
[[ $REMOVED -gt 0 ]] || fail "the racing collections removed nothing: the race did not exercise a sweep"
# The last version of every path written must read back exactly.
"$PY" - "$MANIFEST" <<'PYEOF' || fail "a file written during the race lost its content"
import hashlib, sys
last = {}
for line in open(sys.argv[1]):
    top, name, digest = line.split()
    last[(top, name)] = digest
bad = 0
for (top, name), digest in last.items():
    with open(top + "/" + name, "rb") as f:
        if hashlib.sha256(f.read()).hexdigest() != digest:
            print("wrong content:", top, name); bad += 1
sys.exit(1 if bad else 0)
PYEOF
mesh_ctl "commit sales/side -m final" >/dev/null 2>&1 || true
mesh_ctl "commit sales/main -m final" >/dev/null 2>&1 || true
mesh_ctl "commit mkt/main -m final" >/dev/null 2>&1 || true
mesh_ctl "commit mkt/side -m final" >/dev/null 2>&1 || true
MERGES=$(grep -c "merge .* -> ok" "$MESH_LOG" || true)
note "$MERGES merges succeeded during the race"
[[ $MERGES -gt 0 ]] || fail "no merge succeeded during the race"
all_sums >"$MESH_TMP/sums.before"
mesh_ctl_ok "gc" >/dev/null
mesh_remount
all_sums >"$MESH_TMP/sums.after"
cmp "$MESH_TMP/sums.before" "$MESH_TMP/sums.after" || fail "a ref's files changed across gc and remount"
mesh_ctl_ok "fsck" >/dev/null

note "a gc killed with kill -9 half-way leaves a consistent store; the next run finishes"
mesh_ctl_ok "branch create sales/junk --from main" >/dev/null
"$PY" - "$MNT/sales/junk" <<'PYEOF'
import os, sys
from concurrent.futures import ThreadPoolExecutor
top = sys.argv[1]
def one(d):
    os.makedirs(f"{top}/d{d}", exist_ok=True)
    for i in range(75):    # 20 kB each: chunk files, so the sweep can be watched
        with open(f"{top}/d{d}/f{i}", "wb") as f:
            f.write(os.urandom(20000))
with ThreadPoolExecutor(4) as ex:
    list(ex.map(one, range(40)))
PYEOF
mesh_commit sales/junk junk >/dev/null
mesh_ctl_ok "branch delete sales/junk" >/dev/null
total=$(mesh_ctl_ok "gc --dry-run" | mesh_json 'd["removed_objects"]')
[[ $total -ge 6000 ]] || fail "the deleted branch holds only $total objects"
all_sums >"$MESH_TMP/sums.prekill"
objects_before=$(find "$STORE/objects" -type f | wc -l)
( mesh_ctl "gc" >/dev/null 2>&1 || true ) &
GCPID=$!
# Killed in the middle of its sweep: once 300 of the 3,000 chunk files
# went (whatever the build's speed), never before or after.
"$PY" - "$STORE/objects" "$objects_before" "$MESH_PID" <<'PYEOF' || fail "gc never got to removing objects"
import os, signal, sys, time
top, before, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def count():
    return sum(len(files) for _, _, files in os.walk(top))
end = time.time() + 60
while time.time() < end:
    if count() <= before - 300:
        os.kill(pid, signal.SIGKILL)
        sys.exit(0)
    time.sleep(0.005)
sys.exit(1)
PYEOF
mesh_kill9_daemon
wait "$GCPID" || true
mesh_drop_dead_mount
mesh_mount
mesh_ctl_ok "fsck" >/dev/null
all_sums | cmp - "$MESH_TMP/sums.prekill" || fail "ref content changed by a killed gc"
ans=$(mesh_ctl_ok "gc")
note "the killed run had removed $((total - $(mesh_json 'd["removed_objects"]' <<<"$ans"))) of $total objects; the rerun: $ans"
assert_eq true "$(mesh_json 'd["resumed"]' <<<"$ans")" "resumed after a killed gc"
assert_eq 0 "$(mesh_ctl_ok "gc --dry-run" | mesh_json 'd["removed_objects"]')" "garbage left after the rerun"
mesh_ctl_ok "fsck" >/dev/null

note "a kill -9 mid-write leaves orphans that gc reclaims"
# No empty file is left anywhere: the mount's cached empty map must stay
# (a create after gc names it).
find "$MNT"/*/main -size 0 -type f -delete
mesh_ctl "commit sales/main -m 'no empty files'" >/dev/null 2>&1 || true
mesh_ctl_ok "gc" >/dev/null
base=$(objects_bytes)
( head -c $((200 << 20)) /dev/urandom >"$MNT/sales/main/huge.bin" ) 2>/dev/null &
DD=$!
for ((i = 0; i < 200; i++)); do
	(( $(objects_bytes) - base > 60 << 20 )) && break
	sleep 0.05
done
mesh_kill9_daemon
wait "$DD" 2>/dev/null || true
mesh_drop_dead_mount
grown=$(( $(objects_bytes) - base ))
[[ $grown -gt $((50 << 20)) ]] || fail "the killed write stored only $grown bytes"
note "the killed write left $grown bytes of objects"
# CLI without a mount, on the store itself.
dry=$(mesh_cli gc --dry-run --json --store "$STORE")
assert_eq "$(( $(objects_bytes) - base ))" "$grown" "objects/ after gc --dry-run"
human=$(mesh_cli gc --store "$STORE")
assert_contains "$human" "removed" "human gc line"
left=$(( $(objects_bytes) - base ))
note "after gc: $left bytes over the base (was $grown); $human"
(( left < grown / 20 )) || fail "gc left $left of $grown orphaned bytes"
[[ $(mesh_json 'd["removed_bytes"]' <<<"$dry") -ge $((grown * 9 / 10)) ]] || fail "dry run reported less than the orphans: $dry"
mesh_cli fsck --store "$STORE" >/dev/null
mesh_mount
all_sums >"$MESH_TMP/sums.end"
grep -v huge.bin "$MESH_TMP/sums.end" | cmp - "$MESH_TMP/sums.after" || fail "ref content changed after the crash and gc"
mesh_umount
