#!/usr/bin/env bash
# Staging in RocksDB: staged changes survive kill -9 of the daemon (after
# fsync or close) and a clean umount/mount; identical data in two domains
# is stored once.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
mesh_domain alpha
mesh_domain beta
mesh_mount
A=$MNT/alpha/main

note "committed starting point"
mkdir -p "$A/base"
head -c 300000 /dev/urandom >"$MESH_TMP/base.bin"
cp "$MESH_TMP/base.bin" "$A/base/base.bin"
echo "delete me" >"$A/base/gone.txt"
echo "rename me" >"$A/base/old-name.txt"
mesh_commit alpha/main "base" >/dev/null

note "write + fsync (file still open), write + close, then kill -9"
head -c 3000000 /dev/urandom >"$MESH_TMP/synced.bin"
head -c 1000000 /dev/urandom >"$MESH_TMP/closed.bin"
head -c 200000 /dev/urandom >"$MESH_TMP/patch.bin"
cp "$MESH_TMP/base.bin" "$MESH_TMP/base-patched.bin"
dd if="$MESH_TMP/patch.bin" of="$MESH_TMP/base-patched.bin" bs=1 seek=50000 conv=notrunc status=none
"$PY" - "$A" "$MESH_TMP" <<'PYEOF' &
import os, sys, time
a, tmp = sys.argv[1:]
os.makedirs(f"{a}/new/deep")
with open(f"{tmp}/closed.bin", "rb") as f:
    closed = f.read()
with open(f"{a}/new/deep/closed.bin", "wb") as f:
    f.write(closed)
with open(f"{tmp}/patch.bin", "rb") as f:
    patch = f.read()
fd = os.open(f"{a}/base/base.bin", os.O_RDWR)
os.pwrite(fd, patch, 50000)
os.fsync(fd)
with open(f"{tmp}/synced.bin", "rb") as f:
    synced = f.read()
fd2 = os.open(f"{a}/new/synced.bin", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
os.write(fd2, synced)
os.fsync(fd2)
os.unlink(f"{a}/base/gone.txt")
os.rename(f"{a}/base/old-name.txt", f"{a}/base/new-name.txt")
os.mkdir(f"{a}/new/empty")
dfd = os.open(f"{a}/new", os.O_RDONLY)
os.fsync(dfd)
open(f"{tmp}/ready", "w").close()
time.sleep(60)   # keeps fd and fd2 open: killed below
PYEOF
writer=$!
for _ in $(seq 300); do [[ -e $MESH_TMP/ready ]] && break; sleep 0.1; done
[[ -e $MESH_TMP/ready ]] || fail "the writer did not finish its writes"
mesh_kill9_daemon
kill -9 "$writer" 2>/dev/null || true
wait "$writer" 2>/dev/null || true
mesh_drop_dead_mount
mesh_mount
assert_file_eq "$MESH_TMP/synced.bin" "$A/new/synced.bin"
assert_file_eq "$MESH_TMP/closed.bin" "$A/new/deep/closed.bin"
assert_file_eq "$MESH_TMP/base-patched.bin" "$A/base/base.bin"
assert_eq 640 "$(stat -c %a "$A/new/synced.bin")" "mode of the fsync'd file after kill -9"
[[ -d $A/new/empty ]] || fail "mkdir lost by kill -9"
[[ ! -e $A/base/gone.txt ]] || fail "unlink lost by kill -9"
[[ ! -e $A/base/old-name.txt && -f $A/base/new-name.txt ]] || fail "rename lost by kill -9"
st=$(mesh_ctl_ok "status alpha/main")
assert_eq "added" "$(mesh_json '{c["path"]: c["change"] for c in d["changes"]}.get("new/synced.bin")' <<<"$st")" \
	"status of new/synced.bin after kill -9"
assert_eq "modified" "$(mesh_json '{c["path"]: c["change"] for c in d["changes"]}.get("base/base.bin")' <<<"$st")" \
	"status of base/base.bin after kill -9"
assert_eq "removed" "$(mesh_json '{c["path"]: c["change"] for c in d["changes"]}.get("base/gone.txt")' <<<"$st")" \
	"status of base/gone.txt after kill -9"

note "staged changes survive a clean umount/mount, then commit"
head -c 500000 /dev/urandom >"$MESH_TMP/later.bin"
cp "$MESH_TMP/later.bin" "$A/new/later.bin"
chmod 600 "$A/new/later.bin"
ln -s deep/closed.bin "$A/new/link"
mesh_remount
assert_file_eq "$MESH_TMP/later.bin" "$A/new/later.bin"
assert_file_eq "$MESH_TMP/synced.bin" "$A/new/synced.bin"
assert_eq 600 "$(stat -c %a "$A/new/later.bin")" "mode of a staged file after remount"
assert_eq deep/closed.bin "$(readlink "$A/new/link")" "staged symlink after remount"
c=$(mesh_commit alpha/main "staged work")
assert_eq "[]" "$(mesh_ctl_ok "status alpha/main" | mesh_json 'd["changes"]')" "status after commit"
assert_file_eq "$MESH_TMP/synced.bin" "$MNT/alpha/$c/new/synced.bin"
assert_file_eq "$MESH_TMP/base-patched.bin" "$MNT/alpha/$c/base/base.bin"
assert_file_eq "$MESH_TMP/base.bin" "$MNT/alpha/main~1/base/base.bin"

note "identical data in two domains is stored once"
head -c 5242880 /dev/urandom >"$MESH_TMP/five.bin"
mkdir -p "$A/shared"
cp "$MESH_TMP/five.bin" "$A/shared/five.bin"
mesh_commit alpha/main "five MiB" >/dev/null
n1=$(mesh_objects)
k1=$(du -sk "$STORE/objects" | cut -f1)
mkdir -p "$MNT/beta/main/imported"
cp "$MESH_TMP/five.bin" "$MNT/beta/main/imported/copy.bin"
mesh_commit beta/main "same five MiB" >/dev/null
n2=$(mesh_objects)
k2=$(du -sk "$STORE/objects" | cut -f1)
note "objects: $n1 -> $n2 files, ${k1} KiB -> ${k2} KiB"
((n2 - n1 <= 6)) || fail "the second copy of 5 MiB added $((n2 - n1)) objects (only trees and a commit expected)"
((k2 - k1 < 200)) || fail "the second copy of 5 MiB grew objects/ by $((k2 - k1)) KiB"
((k1 >= 5000)) || fail "objects/ holds only $k1 KiB after committing 5 MiB of random data"
assert_file_eq "$MESH_TMP/five.bin" "$MNT/beta/main/imported/copy.bin"

note "and within a domain: a copy in another directory adds no chunks"
cp "$MESH_TMP/five.bin" "$A/base/five-again.bin"
mesh_commit alpha/main "five MiB again" >/dev/null
n3=$(mesh_objects)
((n3 - n2 <= 6)) || fail "a second copy in the same domain added $((n3 - n2)) objects"
exit 0
