#!/usr/bin/env bash
# POSIX in a branch view, system call by system call (posix_checks.py), and
# sizes, modes, mtimes and empty directories surviving commit and remount.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
mesh_domain posix
mesh_mount
B=$MNT/posix/main
CHECKS=$MESH_SOURCE_DIR/tests/integration/posix_checks.py
STATE=$MESH_TMP/state.json

note "committed starting data"
"$PY" "$CHECKS" base "$B" || fail "writing the starting data failed"
c1=$(mesh_commit posix/main "base")

note "system calls in the branch view (committed version at $MNT/posix/${c1:0:8}...)"
if ! "$PY" "$CHECKS" checks "$B" "$MNT/posix/$c1" "$MNT" "$STATE"; then
	fail "POSIX checks failed (see the FAIL lines above)"
fi

note "shell: ln is refused with EPERM"
assert_fails ln "$B/committed.txt" "$B/ln.txt"
assert_contains "$ERR" "Operation not permitted" "stderr of ln"

note "everything survives a commit"
objects_before=$(mesh_objects)
c2=$(mesh_commit posix/main "after checks")
"$PY" "$CHECKS" verify "$B" "$STATE" || fail "branch view changed by the commit"
"$PY" "$CHECKS" verify "$MNT/posix/$c2" "$STATE" || fail "commit view differs from the branch before commit"
objects_after=$(mesh_objects)
note "objects: $objects_before before the commit, $objects_after after"

note "and a remount"
mesh_remount
"$PY" "$CHECKS" verify "$B" "$STATE" || fail "branch view differs after remount"
"$PY" "$CHECKS" verify "$MNT/posix/$c2" "$STATE" || fail "commit view differs after remount"
"$PY" "$CHECKS" verify "$MNT/posix/${c2:0:8}" "$STATE" || fail "commit prefix view differs after remount"

note "staged (uncommitted) metadata survives a remount too"
chmod 600 "$B/committed.txt"
touch -m -d '2021-05-06 07:08:09 UTC' "$B/committed.txt"
mkdir "$B/staged_empty_dir"
mesh_remount
assert_eq "600 1620284889" "$(stat -c '%a %Y' "$B/committed.txt")" "mode and mtime of a staged change after remount"
[[ -d $B/staged_empty_dir ]] || fail "staged empty directory lost by remount"
exit 0
