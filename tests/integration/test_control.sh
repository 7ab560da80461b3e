#!/usr/bin/env bash
# The control file MNT/.control: one command per write(2), the JSON answer
# read back on the same descriptor, failures as errnos of the write, and
# shell-like quoting of arguments.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
mesh_domain sales
mesh_domain marketing
mesh_mount
B=$MNT/sales/main

note "the answer comes back on the same descriptor (read after write, pread at 0)"
echo "id" >"$B/a.csv"
mesh_py "$MNT/.control" <<'EOF'
import json, os, sys
ctl = sys.argv[1]
fd = os.open(ctl, os.O_RDWR)
os.write(fd, b"status sales/main\n")
after = b""
while True:
    b = os.read(fd, 4096)
    if not b:
        break
    after += b
again = os.pread(fd, 1 << 20, 0)
os.close(fd)
a = json.loads(after)
assert a == json.loads(again), (after, again)
assert a["ok"] is True and a["domain"] == "sales" and a["branch"] == "main", a
assert [c["path"] for c in a["changes"]] == ["a.csv"], a

# Two descriptors, two commands: each gets its own answer.
f1 = os.open(ctl, os.O_RDWR)
f2 = os.open(ctl, os.O_RDWR)
os.write(f1, b"status sales/main")
os.write(f2, b"log marketing/main")
r2 = json.loads(os.pread(f2, 1 << 20, 0))
r1 = json.loads(os.pread(f1, 1 << 20, 0))
os.close(f1)
os.close(f2)
assert r1.get("branch") == "main" and "changes" in r1, r1
assert r2.get("domain") == "marketing" and "commits" in r2, r2
EOF

note "a failing command fails the write in the shell"
if echo 'bogus' >"$MNT/.control" 2>"$MESH_TMP/echo.err"; then
	fail "echo bogus > .control succeeded"
fi
assert_contains "$(cat "$MESH_TMP/echo.err")" "Invalid argument" "the shell's error for echo bogus > .control"
if ! echo 'status sales/main' >"$MNT/.control"; then
	fail "echo 'status sales/main' > .control failed"
fi

note "errnos: EINVAL for bad commands, ENOENT for unknown domains, branches and refs"
mesh_ctl_fails EINVAL "bogus"
mesh_ctl_fails EINVAL ""
mesh_ctl_fails EINVAL "commit sales/main"
mesh_ctl_fails EINVAL "commit sales/main -m"
mesh_ctl_fails EINVAL "commit sales/main -m \"unterminated"
mesh_ctl_fails EINVAL "commit sales/main -m 'unterminated"
mesh_ctl_fails EINVAL "status sales"
mesh_ctl_fails EINVAL "status"
mesh_ctl_fails EINVAL "log sales/main -n abc"
mesh_ctl_fails EINVAL "commit sales/main -m x --meta novalue"
mesh_ctl_fails ENOENT "status nope/main"
assert_contains "$(mesh_json 'd["message"]' <<<"$OUT")" nope "message for an unknown domain"
mesh_ctl_fails ENOENT "log nope/main"
mesh_ctl_fails ENOENT "commit nope/main -m x"
mesh_ctl_fails ENOENT "status sales/nobranch"
assert_contains "$(mesh_json 'd["message"]' <<<"$OUT")" nobranch "message for an unknown branch"
mesh_ctl_fails ENOENT "log sales/feedbeef"

note "failed commands change nothing"
st=$(mesh_ctl_ok "status sales/main")
assert_eq '["a.csv"]' "$(mesh_json '[c["path"] for c in d["changes"]]' <<<"$st")" "staged paths after failed commands"
assert_eq 1 "$(mesh_ctl_ok "log sales/main" | mesh_json 'len(d["commits"])')" "commits after failed commands"

note "commit, then nothing to commit is EINVAL"
ans=$(mesh_ctl_ok "commit sales/main -m first")
c1=$(mesh_json 'd["commit"]' <<<"$ans")
assert_eq 1 "$(mesh_json 'd["changes"]' <<<"$ans")" "changes of a commit of one new file"
mesh_ctl_fails EINVAL "commit sales/main -m again"
assert_contains "$(mesh_json 'd["message"]' <<<"$OUT")" "nothing to commit on sales/main" "message of an empty commit"

note "quoting like a shell's"
n=0
# commit_with_message ARGS-AS-TYPED EXPECTED-MESSAGE
commit_with_message() {
	n=$((n + 1))
	echo "$n" >"$B/q$n.txt"
	mesh_ctl_ok "commit sales/main $1" >/dev/null
	assert_eq "$2" "$(mesh_ctl_ok "log sales/main -n 1" | mesh_json 'd["commits"][0]["message"]')" \
		"message committed with: $1"
}
commit_with_message '-m "two words"' 'two words'
# shellcheck disable=SC2016  # the $ is literal on purpose
commit_with_message "-m 'single \$HOME \"quoted\"'" 'single $HOME "quoted"'
commit_with_message '-m "say \"hi\" to \\ backslash"' 'say "hi" to \ backslash'
commit_with_message '-m two\ escaped\ words' 'two escaped words'
commit_with_message "-m \"a\"'b'c" 'abc'
commit_with_message "-m 'tab	and ünïcode'" 'tab	and ünïcode'
echo meta >"$B/meta.txt"
mesh_ctl_ok "commit sales/main -m 'with meta' --meta 'note=a b' --meta \"k2=x=y\"" >/dev/null
assert_eq '{"k2": "x=y", "note": "a b"}' \
	"$(mesh_ctl_ok "log sales/main -n 1" | mesh_json 'dict(sorted(d["commits"][0]["meta"].items()))')" \
	"quoted --meta values"

note "the trailing newline is optional"
echo nl >"$B/nonl.txt"
ans=$(mesh_ctl "commit sales/main -m 'no newline'" nonl) || fail "commit without a trailing newline failed: $ans"
assert_eq "no newline" "$(mesh_ctl_ok "log sales/main -n 1" | mesh_json 'd["commits"][0]["message"]')" \
	"message of a command without newline"

note "a commit through echo in the shell"
echo shell >"$B/shell.txt"
echo "commit sales/main -m 'from the shell'" >"$MNT/.control" || fail "echo commit > .control failed"
assert_eq "from the shell" "$(mesh_ctl_ok "log sales/main -n 1" | mesh_json 'd["commits"][0]["message"]')" \
	"message of a commit written with echo"

note "log: -n, newest first, initial commit last"
lg=$(mesh_ctl_ok "log sales/main")
total=$(mesh_json 'len(d["commits"])' <<<"$lg")
assert_eq $((n + 5)) "$total" "number of commits"
assert_eq "$c1" "$(mesh_json 'd["commits"][-2]["id"]' <<<"$lg")" "first commit after the initial one"
assert_eq "[]" "$(mesh_json 'd["commits"][-1]["parents"]' <<<"$lg")" "parents of the initial commit"
mesh_json 'all(d["commits"][i]["parents"] == [d["commits"][i+1]["id"]] for i in range(len(d["commits"]) - 1)) or exit(1)' <<<"$lg" >/dev/null ||
	fail "log is not a parent chain: $lg"
assert_eq 3 "$(mesh_ctl_ok "log sales/main -n 3" | mesh_json 'len(d["commits"])')" "log -n 3"
assert_eq "$c1" "$(mesh_ctl_ok "log sales/${c1:0:8}" | mesh_json 'd["commits"][0]["id"]')" "log of a commit prefix"

note ".control exists at the root only"
[[ -e $MNT/.control ]] || fail "no $MNT/.control"
for p in "$MNT/sales/.control" "$B/.control" "$MNT/sales/${c1}/.control"; do
	[[ ! -e $p ]] || fail "$p exists"
done
assert_not_contains "$(ls -A "$MNT/sales")" ".control" "listing of a domain"
assert_not_contains "$(ls -A "$B")" ".control" "listing of a branch view"
exit 0
