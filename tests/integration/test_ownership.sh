#!/usr/bin/env bash
# Versioned ownership (POSIX): owners set by real users through ls -l,
# chown/chgrp rules, setgid directories, FIFOs, sockets and device nodes,
# kept by commit, commit views (atime = ctime = mtime there), remount,
# merge, the cp control command, import (as root) and export (as root);
# a format-2 store is refused naming its version and `meshfs migrate`.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

cleanup_users() {
	userdel own_a 2>/dev/null || true
	userdel own_b 2>/dev/null || true
	groupdel own_team 2>/dev/null || true
	groupdel own_ga 2>/dev/null || true
	groupdel own_w 2>/dev/null || true
}
mesh_setup
mesh_on_exit cleanup_users
cleanup_users
groupadd own_team
groupadd own_ga
groupadd own_w    # the domain's writers: both users may write in it
useradd -M -N -g own_ga -G own_team,own_w own_a
useradd -M -N -g own_ga -G own_w own_b
UA=$(id -u own_a) UB=$(id -u own_b) GA=$(getent group own_ga | cut -d: -f3)
GT=$(getent group own_team | cut -d: -f3)
as_a() { setpriv --reuid own_a --regid own_ga --init-groups "$@"; }
as_b() { setpriv --reuid own_b --regid own_ga --init-groups "$@"; }
chmod 755 "$MESH_TMP"

mesh_domain own
mesh_mount -o allow_other
B=$MNT/own/main
# "type mode uid gid" of each entry below a directory, name order.
owners() {
	(cd "$1" && find . -mindepth 1 -printf '%P %y %m %U %G\n' | LC_ALL=C sort)
}

note "the view root and the domain directory: the domain's owner, setgid 2775"
assert_eq "2775 0 0" "$(stat -c '%a %u %g' "$MNT/own")" "domain directory"
assert_eq "2775 0 0" "$(stat -c '%a %u %g' "$B")" "view root"

mesh_cli domain set own writers own_w >/dev/null
GW=$(getent group own_w | cut -d: -f3)
# The kernel keeps a branch view's attributes for 1 s.
for ((i = 0; i < 30; i++)); do
	[[ $(stat -c '%a %u %g' "$B") == "2775 0 $GW" ]] && break
	sleep 0.1
done
assert_eq "2775 0 $GW" "$(stat -c '%a %u %g' "$B")" "view root with a writers group"
assert_eq "2775 0 $GW" "$(stat -c '%a %u %g' "$MNT/own")" "domain directory with a writers group"

note "a new file belongs to its creator; ls -l shows it"
mkdir "$B/open"
chmod 777 "$B/open"
chmod g-s "$B/open"   # GNU chmod keeps a directory's setgid for numeric modes
as_a sh -c "echo a >'$B/open/a.txt'"
as_a mkdir "$B/open/adir"
assert_eq "$UA $GA" "$(stat -c '%u %g' "$B/open/a.txt")" "owner of a file own_a made"
assert_contains "$(ls -l "$B/open")" "own_a own_ga" "ls -l of own_a's files"
[[ $(stat -c %a "$B/open/adir") == 755 ]] || fail "mode of own_a's directory: $(stat -c %a "$B/open/adir")"

note "chown and chgrp as POSIX has them"
as_a chgrp own_team "$B/open/a.txt" || fail "own_a could not chgrp to a group of theirs"
assert_eq "$GT" "$(stat -c %g "$B/open/a.txt")" "group after chgrp"
run as_a chgrp root "$B/open/a.txt"
[[ $RC -ne 0 ]] || fail "chgrp to a group own_a is not in succeeded"
assert_contains "$ERR" "Operation not permitted" "chgrp to a group own_a is not in"
run as_a chown own_b "$B/open/a.txt"
[[ $RC -ne 0 ]] || fail "chown by a non-root owner succeeded"
assert_contains "$ERR" "Operation not permitted" "chown by a non-root owner"
run as_b chgrp own_ga "$B/open/a.txt"
[[ $RC -ne 0 ]] || fail "chgrp by someone else succeeded"
assert_contains "$ERR" "Operation not permitted" "chgrp by someone else"
chmod 6755 "$B/open/a.txt"
chown own_b:own_ga "$B/open/a.txt"
assert_eq "755 $UB $GA" "$(stat -c '%a %u %g' "$B/open/a.txt")" "root's chown clears the set-id bits"
chmod 2775 "$B/open/adir"
chown own_b "$B/open/adir"
assert_eq "2775 $UB" "$(stat -c '%a %u' "$B/open/adir")" "a directory's setgid survives chown"

note "setgid directories give their group, and subdirectories inherit the bit"
mkdir "$B/team"
chgrp own_team "$B/team"
chmod 2777 "$B/team"
as_b sh -c "echo b >'$B/team/b.txt'"
as_b mkdir "$B/team/sub"
assert_eq "$UB $GT" "$(stat -c '%u %g' "$B/team/b.txt")" "file in a setgid directory (own_b is not in own_team)"
assert_eq "2755 $UB $GT" "$(stat -c '%a %u %g' "$B/team/sub")" "subdirectory of a setgid directory"

note "special files: FIFO, socket, device node (root), with modes and owners"
as_a mkfifo -m 640 "$B/open/fifo"
"$PY" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$B/open/sock"
mknod -m 600 "$B/open/null" c 1 3
chown own_a:own_team "$B/open/null"
run as_a mknod "$B/open/dev2" c 1 3
[[ $RC -ne 0 ]] || fail "own_a made a device node"
assert_eq "fifo 640 $UA" "$(stat -c '%F %a %u' "$B/open/fifo")" "FIFO"
assert_eq "socket" "$(stat -c '%F' "$B/open/sock")" "socket"
assert_eq "character special file 1,3 $UA $GT" \
	"$(stat -c '%F %t,%T %u %g' "$B/open/null")" "device node"
# The mount does not open devices (nodev): an entry, not a way into one.
run sh -c "echo x >'$B/open/null'"
[[ $RC -ne 0 ]] || fail "a device node of the mount opened"

note "link(2): an existing name is EEXIST, a new one EPERM"
run ln "$B/team/b.txt" "$B/open/a.txt"
assert_contains "$ERR" "File exists" "ln onto an existing name"
run ln "$B/team/b.txt" "$B/open/new"
assert_contains "$ERR" "Operation not permitted" "ln to a new name"

note "nlink of a directory is 2 plus its subdirectories"
mkdir -p "$B/n/x" "$B/n/y" "$B/n/z"
assert_eq 5 "$(stat -c %h "$B/n")" "nlink of a staged directory with 3 subdirectories"

BEFORE=$(owners "$B")
note "commit: the commit view shows the same owners, atime = ctime = mtime"
C1=$(mesh_commit own/main "owners")
assert_eq "$BEFORE" "$(owners "$B")" "owners in the branch after the commit"
assert_eq "$BEFORE" "$(owners "$MNT/own/$C1")" "owners in the commit view"
times=$(stat -c '%X %Y %Z' "$MNT/own/$C1/team/b.txt")
read -r at mt ct <<<"$times"
[[ $at == "$mt" && $ct == "$mt" ]] || fail "commit view times are not all equal: $times"
assert_eq 5 "$(stat -c %h "$MNT/own/$C1/n")" "nlink of a committed directory"

note "a read moves atime (relatime), a chmod moves ctime, neither mtime"
touch -d '2020-01-01' "$B/team/b.txt"
read -r at0 mt0 ct0 <<<"$(stat -c '%X %Y %Z' "$B/team/b.txt")"
sleep 1.1
cat "$B/team/b.txt" >/dev/null
read -r at1 mt1 ct1 <<<"$(stat -c '%X %Y %Z' "$B/team/b.txt")"
((at1 > at0)) || fail "atime did not move on the first read ($at0 -> $at1)"
assert_eq "$mt0 $ct0" "$mt1 $ct1" "mtime and ctime after a read"
sleep 1.1
chmod 664 "$B/team/b.txt"
read -r at2 mt2 ct2 <<<"$(stat -c '%X %Y %Z' "$B/team/b.txt")"
((ct2 > ct1)) || fail "ctime did not move on chmod"
assert_eq "$at1 $mt1" "$at2 $mt2" "atime and mtime after chmod"
mesh_ctl_ok "status own/main" >/dev/null
C2=$(mesh_commit own/main "chmod")

note "a remount keeps owners, staged ones too"
as_a chgrp own_team "$B/open/adir" 2>/dev/null || chgrp own_team "$B/open/adir"
STAGED=$(owners "$B")
mesh_remount -o allow_other
assert_eq "$STAGED" "$(owners "$B")" "owners in the branch after remount (staged chgrp included)"
assert_eq "$BEFORE" "$(owners "$MNT/own/$C1")" "owners in the commit view after remount"
mesh_commit own/main "chgrp" >/dev/null

note "merge carries an ownership change"
mkdir "$MNT/own/feature"
chown own_a:own_team "$MNT/own/feature/team/b.txt"
mesh_commit own/feature "give b.txt to own_a" >/dev/null
mesh_ctl_ok "merge own/feature --into main" >/dev/null
assert_eq "$UA $GT" "$(stat -c '%u %g' "$B/team/b.txt")" "owner after the merge"

note "cp (control command) keeps owners, directories included"
mesh_ctl_ok "cp own/main/open own/main/copy" >/dev/null
assert_eq "$(owners "$B/open")" "$(owners "$B/copy")" "owners of a cp copy"

note "import as root keeps lstat's owners; export as root restores them"
SRC=$MESH_TMP/src
mkdir -p "$SRC/d"
echo x >"$SRC/d/f"
mkfifo "$SRC/d/p"
chown -R "$UA:$GT" "$SRC/d"
chown "$UB:$GA" "$SRC/d/f"
chmod 4755 "$SRC/d/f"
mesh_ctl_ok "import $SRC own/main/imp" >/dev/null
assert_eq "$(owners "$SRC")" "$(owners "$B/imp")" "owners after an import as root"
mesh_ctl_ok "export own/main/imp $MESH_TMP/out" >/dev/null
assert_eq "$(owners "$SRC")" "$(owners "$MESH_TMP/out")" "owners after an export as root"
# A read keeps an atime in staging; that is no change to commit.
cat "$B/imp/d/f" >/dev/null
ANS=$(mesh_ctl_ok "import $SRC own/main/imp")
assert_eq false "$(mesh_json 'd["committed"]' <<<"$ANS")" "a rerun of the import after a read commits"
mesh_umount

note "a store of format 2 is refused naming its version and meshfs migrate"
echo "meshfs store format 2" >"$STORE/FORMAT"
run "$MESHFS_BIN" status own/main --store "$STORE"
[[ $RC -ne 0 ]] || fail "a format-2 store was opened"
assert_contains "$ERR" "format version 2" "refusal of a format-2 store"
assert_contains "$ERR" "meshfs migrate" "refusal of a format-2 store"
mesh_cli migrate --store "$STORE" >/dev/null
assert_eq "meshfs store format 3" "$(cat "$STORE/FORMAT")" "FORMAT after migrate"
mesh_mount -o allow_other
assert_eq "$BEFORE" "$(owners "$MNT/own/$C1")" "owners of a commit view after migrate"
exit 0
