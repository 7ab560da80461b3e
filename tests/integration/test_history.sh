#!/usr/bin/env bash
# Read-only history: MNT/DOMAIN/<commit-id>/, unique prefixes of >= 8 hex
# digits, main~N and main^, all read-only (EROFS).
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
mesh_domain hist
mesh_domain other
mesh_mount
B=$MNT/hist/main

c0=$(mesh_ctl_ok "log hist/main" | mesh_json 'd["commits"][0]["id"]')
mkdir -p "$B/dir"
echo v1 >"$B/f.txt"
echo keep >"$B/dir/keep.txt"
c1=$(mesh_commit hist/main "v1")
echo v2 >"$B/f.txt"
echo new >"$B/dir/new.txt"
c2=$(mesh_commit hist/main "v2")
echo v3 >"$B/f.txt"
rm "$B/dir/keep.txt"
c3=$(mesh_commit hist/main "v3")
echo staged >"$B/f.txt"

note "views of each commit: full id, 8-hex prefix, longer prefix"
for spec in "$c1 v1" "$c2 v2" "$c3 v3"; do
	id=${spec% *}
	want=${spec#* }
	assert_eq "$want" "$(cat "$MNT/hist/$id/f.txt")" "f.txt at $id"
	assert_eq "$want" "$(cat "$MNT/hist/${id:0:8}/f.txt")" "f.txt at ${id:0:8}"
	assert_eq "$want" "$(cat "$MNT/hist/${id:0:20}/f.txt")" "f.txt at ${id:0:20}"
done
assert_eq staged "$(cat "$B/f.txt")" "f.txt in the branch view"
assert_eq "keep.txt" "$(ls "$MNT/hist/$c1/dir")" "dir at c1"
assert_eq "keep.txt new.txt" "$(cd "$MNT/hist/$c2/dir" && echo *)" "dir at c2"
assert_eq "new.txt" "$(ls "$MNT/hist/$c3/dir")" "dir at c3"
assert_eq "" "$(ls -A "$MNT/hist/$c0")" "the initial commit is empty"

note "ancestor expressions"
assert_eq v2 "$(cat "$MNT/hist/main~1/f.txt")" "main~1"
assert_eq v2 "$(cat "$MNT/hist/main^/f.txt")" "main^"
assert_eq v1 "$(cat "$MNT/hist/main~2/f.txt")" "main~2"
assert_eq v1 "$(cat "$MNT/hist/main^^/f.txt")" "main^^"
assert_eq v1 "$(cat "$MNT/hist/main~1^/f.txt")" "main~1^"
assert_eq "" "$(ls -A "$MNT/hist/main~3")" "main~3 is the initial commit"
assert_eq v2 "$(cat "$MNT/hist/${c3:0:8}~1/f.txt")" "<prefix>~1"
[[ ! -e $MNT/hist/main~4 ]] || fail "main~4 exists (beyond the initial commit)"

note "the domain lists branches only"
assert_eq main "$(ls "$MNT/hist")" "listing of the domain"

note "history views are read-only: EROFS"
mesh_py "$MNT/hist" "$c2" <<'PYEOF' || fail "writes into history views did not all fail with EROFS"
import errno, os, sys
root, c2 = sys.argv[1:]
failed = []
for view in (c2, c2[:8], "main~1", "main^"):
    v = f"{root}/{view}"
    ops = {
        "open O_WRONLY": lambda: os.open(f"{v}/f.txt", os.O_WRONLY),
        "open O_RDWR": lambda: os.open(f"{v}/f.txt", os.O_RDWR),
        "open O_TRUNC": lambda: os.open(f"{v}/f.txt", os.O_WRONLY | os.O_TRUNC),
        "create": lambda: os.open(f"{v}/new.txt", os.O_WRONLY | os.O_CREAT, 0o644),
        "mkdir": lambda: os.mkdir(f"{v}/newdir"),
        "unlink": lambda: os.unlink(f"{v}/f.txt"),
        "rmdir": lambda: os.rmdir(f"{v}/dir"),
        "rename": lambda: os.rename(f"{v}/f.txt", f"{v}/g.txt"),
        "chmod": lambda: os.chmod(f"{v}/f.txt", 0o600),
        "utime": lambda: os.utime(f"{v}/f.txt", (0, 0)),
        "truncate": lambda: os.truncate(f"{v}/f.txt", 0),
        "symlink": lambda: os.symlink("f.txt", f"{v}/link"),
    }
    for name, op in ops.items():
        try:
            op()
            failed.append(f"{view}: {name} succeeded")
        except OSError as e:
            if e.errno != errno.EROFS:
                failed.append(f"{view}: {name}: {errno.errorcode[e.errno]}, expected EROFS")
    with open(f"{v}/f.txt") as f:
        assert f.read() == "v2\n", view
for f in failed:
    print("FAIL", f)
sys.exit(1 if failed else 0)
PYEOF
if echo x >"$MNT/hist/$c2/f.txt" 2>/dev/null; then
	fail "echo > a file of a commit view succeeded"
fi
assert_eq v2 "$(cat "$MNT/hist/$c2/f.txt")" "f.txt at c2 after refused writes"

note "unknown, too short and malformed ids are refused"
mesh_py "$MNT/hist" "$c2" <<'PYEOF' || fail "bad ids were not refused"
import errno, os, sys
root, c2 = sys.argv[1:]
bad = {
    "7-hex prefix": c2[:7],
    "unknown 8-hex": ("0" if c2[0] != "0" else "1") + c2[1:8],
    "not hex": "zzzzzzzz",
    "65 hex": c2 + "0",
    "unknown branch": "nobranch",
    "bad expression": "main~x",
}
failed = []
for what, name in bad.items():
    try:
        os.stat(f"{root}/{name}")
        failed.append(f"{what} ({name}) resolved")
    except OSError as e:
        if e.errno not in (errno.ENOENT, errno.EINVAL):
            failed.append(f"{what} ({name}): {errno.errorcode[e.errno]}")
for f in failed:
    print("FAIL", f)
sys.exit(1 if failed else 0)
PYEOF
note "a commit id of another domain is not a view here"
echo other >"$MNT/other/main/o.txt"
oc=$(mesh_commit other/main "commit of other")
[[ ! -e $MNT/hist/$oc ]] || fail "commit $oc of domain other resolves in domain hist"

note "a name that moves (main~0, a tag made again) shows its new commit within seconds"
echo before >"$MNT/other/main/moving.txt"
m1=$(mesh_commit other/main "moving 1")
mesh_ctl_ok "tag create other/moving $m1" >/dev/null
assert_eq before "$(cat "$MNT/other/main~0/moving.txt")" "main~0 before main moved"
assert_eq before "$(cat "$MNT/other/moving/moving.txt")" "tag before it was made again"
echo after >"$MNT/other/main/moving.txt"
m2=$(mesh_commit other/main "moving 2")
mesh_ctl_ok "tag delete other/moving" >/dev/null
mesh_ctl_ok "tag create other/moving $m2" >/dev/null
sleep 1.5
assert_eq after "$(cat "$MNT/other/main~0/moving.txt")" "main~0 after main moved"
assert_eq after "$(cat "$MNT/other/moving/moving.txt")" "the tag made again"
assert_eq before "$(cat "$MNT/other/$m1/moving.txt")" "the first commit by its id"

note "history views after a remount"
mesh_remount
assert_eq v2 "$(cat "$MNT/hist/${c2:0:8}/f.txt")" "f.txt at c2 after remount"
assert_eq v1 "$(cat "$MNT/hist/main~2/f.txt")" "main~2 after remount"
assert_eq staged "$(cat "$B/f.txt")" "staged f.txt after remount"
exit 0
