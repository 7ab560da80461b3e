#!/usr/bin/env bash
# mount(8)'s helper: packaging/mount.meshfs STORE MOUNTPOINT -o OPTIONS
# mounts the store with the FUSE options, dropping mount(8)'s own ones.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
mesh_domain helper

note "mount.meshfs mounts in the background, as mount(8) expects"
MESHFS_BIN="$MESHFS_BIN" "$MESH_SOURCE_DIR/packaging/mount.meshfs" "$STORE" "$MNT" \
	-o defaults,rw,noatime,nofail || fail "mount.meshfs failed"
mountpoint -q "$MNT" || fail "nothing mounted at $MNT"
grep -q " $MNT fuse.meshfs " /proc/self/mounts || fail "the mount is not of type fuse.meshfs"
echo "via helper" >"$MNT/helper/main/h.txt"
assert_eq "via helper" "$(cat "$MNT/helper/main/h.txt")" "a file written through the helper's mount"

note "meshfs umount unmounts it and waits for the daemon"
"$MESHFS_BIN" umount "$MNT" || fail "umount of the helper's mount"
mountpoint -q "$MNT" && fail "still mounted after umount"

note "a bad option is refused with a non-zero exit"
assert_fails env MESHFS_BIN="$MESHFS_BIN" "$MESH_SOURCE_DIR/packaging/mount.meshfs" "$STORE" "$MNT" -o no_such_fuse_option
assert_contains "$ERR" "no_such_fuse_option" "the error of a bad option"
mountpoint -q "$MNT" && fail "mounted despite a bad option"
note "ok"
