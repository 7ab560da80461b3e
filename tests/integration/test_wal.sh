#!/usr/bin/env bash
# The metadata write-ahead log after a kill -9: a torn last record (what a
# crash leaves) opens with everything before it; a byte flipped in the
# middle refuses the store with a message naming the damaged log and what
# to do, and `meshfs recover --accept-wal-loss` is the explicit way to
# accept the loss.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
mesh_domain w
# Without audit records after each command, the last record of the log
# is the last commit: the one a torn tail loses.
mesh_mount -o noaudit

# Several commits whose only copy is the WAL: the daemon dies with them
# in its memtable.
for k in 1 2 3 4 5 6; do
	head -c 3000 /dev/urandom >"$MNT/w/main/f$k"
	mesh_commit w/main "commit $k" >/dev/null
done
mesh_kill9
WAL=$(ls -S "$STORE"/db/*.log | head -1)
WAL_SIZE=$(stat -c %s "$WAL")
((WAL_SIZE > 8000)) || fail "the commits are not in the write-ahead log $WAL ($WAL_SIZE bytes)"
note "write-ahead log $(basename "$WAL"): $WAL_SIZE bytes"
cp -a "$STORE" "$MESH_TMP/pristine"

# log_count: commits on w/main, read through the CLI on the store.
log_count() {
	"$MESHFS_BIN" log w/main --store "$STORE" --json | mesh_json 'len(d["commits"])'
}

note "a byte flipped in the middle of the log"
"$PY" -c '
import sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
data[len(data) // 2] ^= 0x5a
open(path, "wb").write(data)' "$WAL"
assert_status 1 "$MESHFS_BIN" log w/main --store "$STORE"
assert_contains "$ERR" "write-ahead log is corrupt" "meshfs log on a damaged log"
assert_contains "$ERR" "meshfs recover" "the hint"
run "$MESHFS_BIN" mount "$MNT" --store "$STORE" --foreground
[[ $RC -ne 0 ]] || fail "meshfs mount served a store with a damaged write-ahead log"
assert_contains "$ERR" "write-ahead log is corrupt" "meshfs mount on a damaged log"
cmp -s "$WAL" "$MESH_TMP/pristine/db/$(basename "$WAL")" && fail "the flip did not change the log"
# Refusing changed nothing: the damaged log is still there, untouched.
[[ -e $WAL ]] || fail "the refused open removed $WAL"

note "recover needs its flag, then drops what followed the damage"
assert_status 2 "$MESHFS_BIN" recover --store "$STORE"
assert_contains "$ERR" "--accept-wal-loss" "recover without its flag"
mesh_cli recover --accept-wal-loss --store "$STORE" >/dev/null
n=$(log_count)
((n >= 1 && n < 7)) || fail "after recover: $n commits (7 were made, the damage is in the middle)"
note "recovered with $n of 7 commits"
mesh_cli recover --accept-wal-loss --store "$STORE" | grep -q "intact" ||
	fail "recover on an intact store did not say so"

note "a torn last record opens with everything before it"
rm -rf "$STORE"
cp -a "$MESH_TMP/pristine" "$STORE"
truncate -s $((WAL_SIZE - 7)) "$WAL"
n=$(log_count) || fail "a store whose log's tail is torn does not open"
assert_eq 6 "$n" "commits after a torn tail (the last of 7 was torn)"
mesh_mount
[[ -e $MNT/w/main/f5 ]] || fail "f5 is gone after a torn tail"
mesh_umount
