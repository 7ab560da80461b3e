#!/usr/bin/env bash
# Differential POSIX test: the same system calls by root and two other users
# (chmod, chown, open, create, unlink, rename, mkdir, rmdir, truncate,
# utimensat, symlink, link, mkfifo, mknod, reads for atime) in a directory
# on ext4 and in a branch view must give the same return values and errnos
# and leave the same modes, owners, link counts and time changes
# (posix_diff.py).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

USERS=(pdiff_a pdiff_b)
GROUPS_=(pdiff_s pdiff_ga pdiff_gb)
cleanup_users() {
	local u g
	for u in "${USERS[@]}"; do userdel "$u" 2>/dev/null || true; done
	for g in "${GROUPS_[@]}"; do groupdel "$g" 2>/dev/null || true; done
}
mesh_setup
mesh_on_exit cleanup_users
cleanup_users
for g in "${GROUPS_[@]}"; do groupadd "$g"; done
useradd -M -N -g pdiff_ga -G pdiff_s pdiff_a
useradd -M -N -g pdiff_gb -G pdiff_s pdiff_b

mesh_domain pdiff
# Both users write the domain (its rule), so only POSIX's rules differ.
mesh_cli domain set pdiff writers pdiff_s >/dev/null
mesh_mount -o allow_other
chmod 755 "$MESH_TMP"
FS_TYPE=$(stat -f -c %T "$MESH_TMP")
[[ $FS_TYPE == ext2/ext3 ]] || fail "$MESH_TMP is on $FS_TYPE, not ext4: the comparison needs ext4"
EXT4=$MESH_TMP/ext4base
VIEW=$MNT/pdiff/main/base
for base in "$EXT4" "$VIEW"; do
	mkdir "$base"
	"$PY" -c 'import os, sys; os.chown(sys.argv[1], 0, 0); os.chmod(sys.argv[1], 0o777)' "$base"
done

note "the same calls on ext4 ($EXT4) and in the branch view ($VIEW)"
"$PY" "$MESH_SOURCE_DIR/tests/integration/posix_diff.py" "$EXT4" "$VIEW" \
	pdiff_a pdiff_b pdiff_s pdiff_ga pdiff_gb || fail "ext4 and the branch view differ (DIFF lines above)"
exit 0
