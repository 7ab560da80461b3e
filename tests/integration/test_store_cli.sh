#!/usr/bin/env bash
# The CLI's store: with neither --store, --mount nor $MESHFS_STORE it acts
# on ~/.local/share/meshfs (through its mount when it has one), never on
# another store's mount that happens to be listed in /proc/self/mounts.
# And the store's format version: an old store is refused with the
# command that migrates it, `meshfs migrate` migrates it, a newer one is
# refused naming both versions.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
mesh_domain elsewhere
mesh_mount                      # another store, mounted at $MNT

HOME_DIR=$MESH_TMP/home
HOME_STORE=$HOME_DIR/.local/share/meshfs
HOME_MNT=$MESH_TMP/home-mnt
mkdir -p "$HOME_DIR" "$HOME_MNT"
# as_user CMD...: the CLI as a user whose HOME is HOME_DIR, no MESHFS_STORE.
as_user() {
	env -u MESHFS_STORE HOME="$HOME_DIR" "$@"
}

note "the default store, unmounted: the CLI opens it itself"
run as_user "$MESHFS_BIN" init
[[ $RC -eq 0 ]] || fail "meshfs init without --store: $ERR"
[[ -d $HOME_STORE/db ]] || fail "meshfs init did not make the default store $HOME_STORE"
run as_user "$MESHFS_BIN" domain create athome --description "home store"
[[ $RC -eq 0 ]] || fail "domain create on the default store: $ERR"
run as_user "$MESHFS_BIN" domain list
[[ $RC -eq 0 ]] || fail "domain list on the default store: $ERR"
assert_contains "$OUT" "athome" "domain list with HOME's default store"
assert_not_contains "$OUT" "elsewhere" "domain list with HOME's default store (the other mount answered)"
run as_user "$MESHFS_BIN" status elsewhere/main
[[ $RC -ne 0 ]] || fail "status elsewhere/main answered from the other store's mount: $OUT"

note "the default store, mounted: the CLI goes through its mount"
as_user "$MESHFS_BIN" mount "$HOME_MNT" --foreground </dev/null >>"$MESH_LOG" 2>&1 &
HOME_PID=$!
MESH_EXTRA_MOUNTS+=("$HOME_MNT")
for ((i = 0; i < 100; i++)); do
	[[ -e $HOME_MNT/.control ]] && break
	sleep 0.1
done
[[ -e $HOME_MNT/.control ]] || fail "the default store's mount did not come up"
echo data >"$HOME_MNT/athome/main/file.txt"
# The store is held by its daemon: only its mount can answer this.
run as_user "$MESHFS_BIN" status athome/main --json
[[ $RC -eq 0 ]] || fail "status through the default store's mount: $ERR"
assert_contains "$OUT" "file.txt" "status of the default store"
run as_user "$MESHFS_BIN" commit athome/main -m "from the CLI"
[[ $RC -eq 0 ]] || fail "commit through the default store's mount: $ERR"
run as_user "$MESHFS_BIN" domain list
assert_not_contains "$OUT" "elsewhere" "domain list while both stores are mounted"
# --store and $MESHFS_STORE still pick the other store.
run "$MESHFS_BIN" domain list
assert_contains "$OUT" "elsewhere" "domain list with MESHFS_STORE set"
assert_not_contains "$OUT" "athome" "domain list with MESHFS_STORE set"
mesh_cli umount "$HOME_MNT" >/dev/null
wait "$HOME_PID" || fail "the default store's daemon exited with an error"

note "an old store (format version 1: db/ and no FORMAT) is refused, then migrated"
OLD=$MESH_TMP/old
mesh_cli init --store "$OLD" >/dev/null
mesh_cli domain create legacy --store "$OLD" >/dev/null
rm "$OLD/FORMAT" "$OLD/reserve"
assert_status 1 "$MESHFS_BIN" domain list --store "$OLD"
assert_contains "$ERR" "format version 1" "opening a version 1 store"
assert_contains "$ERR" "meshfs migrate --store $OLD" "opening a version 1 store"
run "$MESHFS_BIN" mount "$MESH_TMP/home-mnt" --store "$OLD" --foreground
[[ $RC -ne 0 ]] || fail "meshfs mount served a version 1 store"
assert_contains "$ERR" "format version 1" "mounting a version 1 store"
assert_status 1 "$MESHFS_BIN" init --store "$OLD"
[[ ! -e $OLD/FORMAT ]] || fail "init converted an old store"
mesh_cli migrate --store "$OLD" | grep -q "from format version 1 to 3" || fail "migrate did not say what it did"
assert_eq "meshfs store format 3" "$(cat "$OLD/FORMAT")" "FORMAT after migrate"
assert_contains "$(mesh_cli domain list --store "$OLD")" "legacy" "domains after migrate"
mesh_cli migrate --store "$OLD" | grep -q "already has format version 3" || fail "a second migrate did not say there was nothing to do"

note "a newer store is refused naming both versions"
echo "meshfs store format 9" >"$OLD/FORMAT"
assert_status 1 "$MESHFS_BIN" domain list --store "$OLD"
assert_contains "$ERR" "format version 9" "opening a version 9 store"
assert_contains "$ERR" "version 3" "opening a version 9 store"
assert_status 1 "$MESHFS_BIN" migrate --store "$OLD"

note "migrate of a mounted store is refused"
rm "$STORE/FORMAT"
assert_status 1 "$MESHFS_BIN" migrate --store "$STORE"
assert_contains "$ERR" "in use" "migrate of a mounted store"
echo "meshfs store format 3" >"$STORE/FORMAT"
