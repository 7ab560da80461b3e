#!/usr/bin/env bash
# Version control through the mount, the control file and the CLI:
# branches as directories, tags, ref expressions, log, diff, status,
# merge (clean, conflicts, strategies), revert, cherry-pick, reset,
# zero-copy copies (meshfs cp, copy_file_range) and coherent caches for
# processes reading a branch while it is merged into.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
mesh_setup
mesh_domain sales
mesh_domain mkt
mesh_domain empty
mesh_mount
S=$MNT/sales
B=$S/main

# ---------------------------------------------------------------- helpers

# py_errno OP PATH [ARG]: the errno name of os.OP(PATH[, ARG]), or OK.
py_errno() {
	"$PY" - "$@" <<'PYEOF'
import errno, os, sys
op, path = sys.argv[1], sys.argv[2]
try:
    if op == "write":
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, b"x")
        os.close(fd)
    elif op == "mkdir":
        os.mkdir(path)
    elif op == "rmdir":
        os.rmdir(path)
    elif op == "unlink":
        os.unlink(path)
    elif op == "rename":
        os.rename(path, sys.argv[3])
    else:
        sys.exit("unknown op " + op)
    print("OK")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e.errno)))
PYEOF
}

# assert_errno WANT OP PATH [ARG]
assert_errno() {
	local want=$1
	shift
	assert_eq "$want" "$(py_errno "$@")" "errno of $*"
}

# cli_fails "NEEDLE1|NEEDLE2..." ARGS...: meshfs ARGS must exit non-zero
# and its stderr must name every needle.
cli_fails() {
	local needles=$1 n
	shift
	run "$MESHFS_BIN" "$@"
	[[ $RC -ne 0 ]] || fail "meshfs $* succeeded, expected an error: $OUT"
	[[ -n $ERR ]] || fail "meshfs $* failed without a message"
	IFS='|' read -ra n <<<"$needles"
	for needle in "${n[@]}"; do
		assert_contains "$ERR" "$needle" "stderr of meshfs $*"
	done
}

# ctl_fails ERRNO "NEEDLES" "line": the control command fails with ERRNO
# and its message names every needle.
ctl_fails() {
	local want=$1 needles=$2 line=$3 msg n
	mesh_ctl_fails "$want" "$line"
	msg=$(mesh_json 'd["message"]' <<<"$OUT")
	IFS='|' read -ra n <<<"$needles"
	for needle in "${n[@]}"; do
		assert_contains "$msg" "$needle" "message of '$line'"
	done
}

# head_of DOMAIN/BRANCH: the head commit id.
head_of() {
	mesh_cli log "$1" -n 1 --json | mesh_json 'd["commits"][0]["id"]'
}

# listing DIR: recursive listing of names and contents, for comparing trees.
tree_digest() {
	(cd "$1" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

# ---------------------------------------------------------------- data
mkdir -p "$B/d/sub"
echo alpha >"$B/a.txt"
echo bravo >"$B/b.txt"
echo xray >"$B/d/x.txt"
echo yank >"$B/d/sub/y.txt"
c_base=$(mesh_commit sales/main "base")

note "mkdir in a domain creates a branch from main, listable at once"
mkdir "$S/feat"
assert_contains "$(ls "$S")" feat "listing of sales after mkdir feat"
assert_eq "$(tree_digest "$B")" "$(tree_digest "$S/feat")" "feat's files against main's"
assert_eq "a.txt b.txt d" "$(cd "$S/feat" && echo *)" "ls of the new branch"
assert_eq "$c_base" "$(head_of sales/feat)" "head of feat"
mesh_cli branch list sales --json >/dev/null
assert_eq '["feat", "main"]' \
	"$(mesh_cli branch list sales --json | mesh_json '[b["name"] for b in d["branches"]]')" \
	"branch list after mkdir"
note "mkdir of an existing branch, of a bad name"
assert_errno EEXIST mkdir "$S/feat"
assert_errno EEXIST mkdir "$S/main"
[[ $(py_errno mkdir "$S/bad..name") != OK ]] || fail "mkdir of bad..name made a branch"
[[ $(py_errno mkdir "$S/x.lock") != OK ]] || fail "mkdir of x.lock made a branch"
assert_not_contains "$(ls "$S")" "bad..name" "listing of sales"

note "a branch made by mkdir is independent of main"
echo feat-a >"$S/feat/a.txt"
echo new >"$S/feat/d/n.txt"
c_feat1=$(mesh_commit sales/feat "feat work")
assert_eq alpha "$(cat "$B/a.txt")" "main's a.txt after a commit on feat"
[[ ! -e $B/d/n.txt ]] || fail "feat's new file shows on main"

note "branch create/list/delete through the CLI"
run "$MESHFS_BIN" branch create sales/cli1 --from main
[[ $RC -eq 0 ]] || fail "branch create: $ERR"
assert_contains "$OUT" "sales/cli1" "human output of branch create"
assert_contains "$OUT" "${c_base:0:12}" "human output of branch create"
assert_eq "$(tree_digest "$B")" "$(tree_digest "$S/cli1")" "cli1's files"
mesh_cli branch create sales/cli2 --from feat >/dev/null
assert_eq "$c_feat1" "$(head_of sales/cli2)" "cli2 from feat"
assert_eq new "$(cat "$S/cli2/d/n.txt")" "n.txt on cli2"
out=$(mesh_cli branch list sales)
assert_contains "$out" "cli1" "branch list"
assert_contains "$out" "cli2" "branch list"
assert_contains "$out" "${c_feat1:0:12}" "branch list shows heads"
assert_eq "$c_feat1" \
	"$(mesh_cli branch list sales --json | mesh_json '[b["commit"] for b in d["branches"] if b["name"] == "cli2"][0]')" \
	"cli2's commit in branch list --json"
cli_fails "cli1|sales|exists" branch create sales/cli1
cli_fails "nosuchref|sales" branch create sales/cli3 --from nosuchref
cli_fails "nodomain" branch create nodomain/x
cli_fails "bad name" branch create "sales/bad name"
mesh_cli branch delete sales/cli2 >/dev/null
assert_not_contains "$(ls "$S")" cli2 "listing after branch delete"
[[ ! -e $S/cli2 ]] || fail "sales/cli2 still resolves after branch delete"
cli_fails "cli2|sales" branch delete sales/cli2
cli_fails "main|sales|default" branch delete sales/main
[[ -e $B/a.txt ]] || fail "main lost its files after a refused delete"

note "branch create/list/delete through the control file"
mesh_ctl_ok "branch create sales/ctl1 --from main" >/dev/null
assert_contains "$(ls "$S")" ctl1 "listing after control branch create"
assert_eq alpha "$(cat "$S/ctl1/a.txt")" "a.txt on ctl1"
ans=$(mesh_ctl_ok "branch list sales")
assert_contains "$(mesh_json '[b["name"] for b in d["branches"]]' <<<"$ans")" ctl1 "control branch list"
mesh_ctl_ok "branch delete sales/ctl1" >/dev/null
assert_not_contains "$(ls "$S")" ctl1 "listing after control branch delete"
[[ ! -e $S/ctl1 ]] || fail "sales/ctl1 still resolves after control branch delete"
ctl_fails EPERM "main|sales" "branch delete sales/main"
ctl_fails ENOENT "ctl1|sales" "branch delete sales/ctl1"
ctl_fails EEXIST "feat" "branch create sales/feat"
ctl_fails EINVAL "branch" "branch create sales/-x"

note "rmdir of branch views"
assert_errno ENOTEMPTY rmdir "$S/feat"
[[ -d $S/feat ]] || fail "feat vanished after a refused rmdir"
assert_eq feat-a "$(cat "$S/feat/a.txt")" "feat's a.txt after refused rmdir"
assert_errno EPERM rmdir "$MNT/empty/main"      # empty, but the default branch
[[ -d $MNT/empty/main ]] || fail "empty/main vanished after rmdir"
mkdir "$S/tmpb"
echo staged >"$S/tmpb/staged.txt"
rm -rf "${S:?}/tmpb/"*
assert_eq "" "$(ls -A "$S/tmpb")" "tmpb after rm -rf of its contents"
rmdir "$S/tmpb"
[[ ! -e $S/tmpb ]] || fail "tmpb still there after rmdir"
assert_not_contains "$(mesh_cli branch list sales)" tmpb "branch list after rmdir"
mkdir "$S/tmpb"
assert_eq "$(tree_digest "$B")" "$(tree_digest "$S/tmpb")" "tmpb re-made: main's files, no old staging"
assert_eq "nothing staged" "$(mesh_cli status sales/tmpb | tail -n 1)" "status of re-made tmpb"
mesh_cli branch delete sales/tmpb >/dev/null

note "tags: create, read-only view, clashes, list, delete"
run "$MESHFS_BIN" tag create sales/v1 main
[[ $RC -eq 0 ]] || fail "tag create: $ERR"
assert_contains "$OUT" "v1" "tag create output"
assert_eq "$(tree_digest "$B")" "$(tree_digest "$S/v1")" "the tag view shows main"
echo changed >"$B/b.txt"
mesh_commit sales/main "main changes b" >/dev/null
assert_eq bravo "$(cat "$S/v1/b.txt")" "the tag view after main moved"
assert_eq changed "$(cat "$B/b.txt")" "main after its commit"
assert_errno EROFS write "$S/v1/a.txt"
assert_errno EROFS write "$S/v1/new.txt"
assert_errno EROFS mkdir "$S/v1/dd"
assert_errno EROFS unlink "$S/v1/a.txt"
assert_errno EROFS rename "$S/v1/a.txt" "$S/v1/z.txt"
assert_errno EPERM rmdir "$S/v1"
assert_eq alpha "$(cat "$S/v1/a.txt")" "tag view after refused writes"
cli_fails "v1|exists" tag create sales/v1 main
assert_eq "$c_base" "$(mesh_cli tag list sales --json | mesh_json '[t["commit"] for t in d["tags"] if t["name"] == "v1"][0]')" \
	"v1 did not move"
cli_fails "feat|branch" tag create sales/feat main
cli_fails "v1|tag" branch create sales/v1
assert_errno EEXIST mkdir "$S/v1"
ctl_fails EEXIST "v1" "tag create sales/v1 main"
ctl_fails EEXIST "feat" "tag create sales/feat main"
mesh_ctl_ok "tag create sales/v2 main~1" >/dev/null
out=$(mesh_cli tag list sales)
assert_contains "$out" "v1" "tag list"
assert_contains "$out" "v2" "tag list"
assert_eq '["v1", "v2"]' "$(mesh_ctl_ok "tag list sales" | mesh_json '[t["name"] for t in d["tags"]]')" \
	"control tag list"
assert_not_contains "$(mesh_cli branch list sales)" "v1" "branch list shows no tags"
mesh_cli tag delete sales/v2 >/dev/null
assert_eq '["v1"]' "$(mesh_ctl_ok "tag list sales" | mesh_json '[t["name"] for t in d["tags"]]')" \
	"tag list after delete"
[[ ! -e $S/v2 ]] || fail "the deleted tag v2 still resolves"
cli_fails "v2|sales" tag delete sales/v2
ctl_fails ENOENT "v2" "tag delete sales/v2"

note "diff between refs, with sizes, limited by -- PATH"
# feat against main: a.txt changed (6 -> 7 bytes), b.txt changed on main
# (6 -> 8), d/n.txt added on feat (4).
ans=$(mesh_cli diff sales/main feat --json)
assert_eq '[["a.txt", "changed", 6, 7], ["b.txt", "changed", 8, 6], ["d/n.txt", "added", null, 4]]' \
	"$(mesh_json '[[c["path"], c["change"], c.get("old_size"), c.get("new_size")] for c in d["changes"]]' <<<"$ans")" \
	"diff main feat"
out=$(mesh_cli diff sales/main feat)
assert_contains "$out" "a.txt" "human diff"
assert_contains "$out" "6 -> 7 bytes" "human diff shows sizes"
assert_contains "$out" "added" "human diff"
assert_contains "$out" "d/n.txt" "human diff"
ans=$(mesh_cli diff sales/feat main --json)
assert_eq '[["a.txt", "changed"], ["b.txt", "changed"], ["d/n.txt", "removed"]]' \
	"$(mesh_json '[[c["path"], c["change"]] for c in d["changes"]]' <<<"$ans")" "diff feat main"
assert_eq '[["d/n.txt", "added"]]' \
	"$(mesh_cli diff sales/main feat --json -- d | mesh_json '[[c["path"], c["change"]] for c in d["changes"]]')" \
	"diff -- d"
assert_eq '[["a.txt", "changed"]]' \
	"$(mesh_ctl_ok "diff sales/main feat -- a.txt" | mesh_json '[[c["path"], c["change"]] for c in d["changes"]]')" \
	"control diff -- a.txt"
assert_eq '[]' "$(mesh_cli diff sales/main main --json | mesh_json 'd["changes"]')" "diff of a ref with itself"
assert_eq '[]' "$(mesh_cli diff sales/v1 "$c_base" --json | mesh_json 'd["changes"]')" "diff of tag and its id"
cli_fails "nosuch|sales" diff sales/main nosuch
cli_fails "nosuch|sales" diff sales/nosuch main
cli_fails "nodomain" diff nodomain/main main

note "status lists what is staged"
echo staged-a >"$B/a.txt"
echo brand-new >"$B/new.txt"
rm "$B/d/x.txt"
out=$(mesh_cli status sales/main)
assert_contains "$out" "sales/main" "status header"
assert_contains "$out" "a.txt" "status"
assert_contains "$out" "new.txt" "status"
assert_contains "$out" "d/x.txt" "status"
assert_eq '[["a.txt", "modified"], ["d/x.txt", "removed"], ["new.txt", "added"]]' \
	"$(mesh_ctl_ok "status sales/main" | mesh_json 'sorted([c["path"], c["change"]] for c in d["changes"])')" \
	"control status"

note "reset -- PATH drops staged changes under PATH only, reset drops all"
ans=$(mesh_ctl_ok "reset sales/main -- d")
assert_eq '["d/x.txt"]' "$(mesh_json '[c["path"] for c in d["dropped"]]' <<<"$ans")" "dropped by reset -- d"
assert_eq xray "$(cat "$B/d/x.txt")" "d/x.txt right after reset -- d"
assert_eq staged-a "$(cat "$B/a.txt")" "a.txt still staged after reset -- d"
run "$MESHFS_BIN" reset sales/main -- a.txt
[[ $RC -eq 0 ]] || fail "reset -- a.txt: $ERR"
assert_contains "$OUT" "dropped 1" "human output of reset"
assert_eq alpha "$(cat "$B/a.txt")" "a.txt right after reset -- a.txt"
[[ -e $B/new.txt ]] || fail "new.txt dropped by reset -- a.txt"
echo again >"$B/a.txt"
mesh_cli reset sales/main >/dev/null
assert_eq alpha "$(cat "$B/a.txt")" "a.txt right after reset"
[[ ! -e $B/new.txt ]] || fail "new.txt still there after reset"
assert_eq "a.txt b.txt d" "$(cd "$B" && echo *)" "main after reset"
assert_eq "nothing staged" "$(mesh_cli status sales/main | tail -n 1)" "status after reset"
cli_fails "nosuch|sales" reset sales/nosuch

note "log: meta shown, -n, -- PATH lists only commits touching PATH"
echo p1 >"$B/p1.txt"
mesh_ctl_ok "commit sales/main -m 'add p1' --meta owner=sales-team --meta rows=42" >/dev/null
echo p2 >"$B/p2.txt"
mesh_commit sales/main "add p2" >/dev/null
echo p1b >"$B/p1.txt"
mesh_commit sales/main "change p1" >/dev/null
rm "$B/p1.txt"
mesh_commit sales/main "remove p1" >/dev/null
out=$(mesh_cli log sales/main -n 4)
assert_contains "$out" "Meta:   owner=sales-team" "log shows meta"
assert_contains "$out" "Meta:   rows=42" "log shows meta"
assert_contains "$out" "Author: " "log shows the author"
assert_contains "$out" "(uid $(id -u))" "log shows the uid"
assert_eq '{"owner": "sales-team", "rows": "42"}' \
	"$(mesh_cli log sales/main~3 -n 1 --json | mesh_json 'd["commits"][0]["meta"]')" "meta in log --json"
assert_eq '["remove p1", "change p1", "add p1"]' \
	"$(mesh_cli log sales/main --json -- p1.txt | mesh_json '[c["message"] for c in d["commits"]]')" \
	"log -- p1.txt"
assert_eq '["add p2"]' \
	"$(mesh_ctl_ok "log sales/main -- p2.txt" | mesh_json '[c["message"] for c in d["commits"]]')" \
	"control log -- p2.txt"
assert_eq '["feat work", "base"]' \
	"$(mesh_cli log sales/feat --json -- d | mesh_json '[c["message"] for c in d["commits"]]')" \
	"log -- d (a directory)"
assert_eq '["remove p1"]' \
	"$(mesh_cli log sales/main -n 1 --json -- p1.txt | mesh_json '[c["message"] for c in d["commits"]]')" \
	"log -n 1 -- p1.txt"
out=$(mesh_cli log sales/main -- p2.txt)
assert_contains "$out" "add p2" "human log -- p2.txt"
assert_not_contains "$out" "p1" "human log -- p2.txt"
cli_fails "nosuch|sales" log sales/nosuch
cli_fails "nodomain" log nodomain/main

note "refs: REF~N, REF^, hex prefixes"
assert_eq "change p1" "$(mesh_cli log sales/main~1 -n 1 --json | mesh_json 'd["commits"][0]["message"]')" "main~1"
assert_eq "add p2" "$(mesh_cli log 'sales/main^^' -n 1 --json | mesh_json 'd["commits"][0]["message"]')" "main^^"
assert_eq "add p1" "$(mesh_cli log sales/main~3 -n 1 --json | mesh_json 'd["commits"][0]["message"]')" "main~3"
assert_eq "add p1" "$(mesh_cli log 'sales/main~2^' -n 1 --json | mesh_json 'd["commits"][0]["message"]')" "main~2^"
assert_eq "$c_base" "$(mesh_cli log "sales/${c_base:0:8}" -n 1 --json | mesh_json 'd["commits"][0]["id"]')" "8-hex prefix"
assert_eq p1b "$(cat "$S/main~1/p1.txt")" "view main~1"
cli_fails "main~99|sales" log sales/main~99
cli_fails "main^2|sales" log 'sales/main^2'      # not a merge commit
cli_fails "${c_base:0:7}" log "sales/${c_base:0:7}"
cli_fails "main~x" log 'sales/main~x'
unknown=$( [[ ${c_base:0:1} == 0 ]] && echo 1 || echo 0 )${c_base:1:9}
cli_fails "$unknown|sales" log "sales/$unknown"

note "merge: clean, with two parents, REF^2"
c_main_before=$(head_of sales/main)
c_feat=$(head_of sales/feat)
run "$MESHFS_BIN" merge sales/feat --into main -m "merge feat"
[[ $RC -eq 0 ]] || fail "merge: $ERR"
assert_contains "$OUT" "sales/main" "human merge output"
c_merge=$(head_of sales/main)
assert_eq "[\"$c_main_before\", \"$c_feat\"]" \
	"$(mesh_cli log sales/main -n 1 --json | mesh_json 'd["commits"][0]["parents"]')" "parents of the merge"
assert_eq "merge feat" "$(mesh_cli log sales/main -n 1 --json | mesh_json 'd["commits"][0]["message"]')" "merge message"
assert_eq feat-a "$(cat "$B/a.txt")" "a.txt on main after merge (from feat)"
assert_eq changed "$(cat "$B/b.txt")" "b.txt on main after merge (main's)"
assert_eq new "$(cat "$B/d/n.txt")" "d/n.txt on main after merge"
assert_eq p2 "$(cat "$B/p2.txt")" "p2.txt on main after merge"
assert_eq "$c_feat" "$(mesh_cli log 'sales/main^2' -n 1 --json | mesh_json 'd["commits"][0]["id"]')" "main^2"
assert_eq "$c_main_before" "$(mesh_cli log 'sales/main^1' -n 1 --json | mesh_json 'd["commits"][0]["id"]')" "main^1"
assert_eq "$c_feat" "$(mesh_cli log 'sales/main^2' -n 1 --json | mesh_json 'd["commits"][0]["id"]')" "main^2"
assert_eq feat-a "$(cat "$S/main^2/a.txt")" "view main^2"
[[ ! -e "$S/main^2/p2.txt" ]] || fail "main^2 shows main's p2.txt"
cli_fails "main^3|sales" log 'sales/main^3'
run "$MESHFS_BIN" merge sales/feat --into main
[[ $RC -eq 0 ]] || fail "second merge: $ERR"
assert_contains "$OUT" "up to date" "second merge"
assert_eq "$c_merge" "$(head_of sales/main)" "head after an up-to-date merge"

note "merge with conflicts: nothing changes, each path reported"
mesh_cli branch create sales/c_src >/dev/null
mesh_cli branch create sales/c_dst1 >/dev/null
mesh_cli branch create sales/c_dst2 >/dev/null
mesh_cli branch create sales/c_dst3 >/dev/null
echo src-a >"$S/c_src/a.txt"
rm "$S/c_src/b.txt"
echo src-y >"$S/c_src/d/sub/y.txt"
echo src-only >"$S/c_src/src-only.txt"
mesh_commit sales/c_src "src side" >/dev/null
for dst in c_dst1 c_dst2 c_dst3; do
	echo dst-a >"$S/$dst/a.txt"
	echo dst-b >"$S/$dst/b.txt"
	echo dst-y >"$S/$dst/d/sub/y.txt"
	mesh_commit "sales/$dst" "dst side" >/dev/null
done
c_dst1=$(head_of sales/c_dst1)
cli_fails "conflict|a.txt|b.txt|d/sub/y.txt|sales/c_dst1" merge sales/c_src --into c_dst1
assert_eq "$c_dst1" "$(head_of sales/c_dst1)" "c_dst1 head after a conflicting merge"
assert_eq dst-a "$(cat "$S/c_dst1/a.txt")" "a.txt after a conflicting merge"
[[ ! -e $S/c_dst1/src-only.txt ]] || fail "a conflicting merge brought src-only.txt"
assert_eq "nothing staged" "$(mesh_cli status sales/c_dst1 | tail -n 1)" "status after a conflicting merge"
mesh_ctl_fails EBUSY "merge sales/c_src --into c_dst1"
assert_eq '[["a.txt", "both-changed"], ["b.txt", "change-delete"], ["d/sub/y.txt", "both-changed"]]' \
	"$(mesh_json '[[c["path"], c["kind"]] for c in d["conflicts"]]' <<<"$OUT")" \
	"conflicts in the control answer"
run "$MESHFS_BIN" merge sales/c_src --into c_dst1 --json
[[ $RC -ne 0 ]] || fail "conflicting merge --json succeeded"
assert_eq 3 "$(mesh_json 'len(d["conflicts"])' <<<"$OUT")" "conflicts in --json output"

note "merge --strategy dest-wins and source-wins"
mesh_cli merge sales/c_src --into c_dst2 --strategy dest-wins >/dev/null
assert_eq dst-a "$(cat "$S/c_dst2/a.txt")" "dest-wins a.txt"
assert_eq dst-b "$(cat "$S/c_dst2/b.txt")" "dest-wins b.txt"
assert_eq dst-y "$(cat "$S/c_dst2/d/sub/y.txt")" "dest-wins d/sub/y.txt"
assert_eq src-only "$(cat "$S/c_dst2/src-only.txt")" "dest-wins still merges the clean part"
ans=$(mesh_ctl_ok "merge sales/c_src --into c_dst3 --strategy source-wins")
assert_eq 3 "$(mesh_json 'd["resolved_conflicts"]' <<<"$ans")" "resolved conflicts"
assert_eq src-a "$(cat "$S/c_dst3/a.txt")" "source-wins a.txt"
[[ ! -e $S/c_dst3/b.txt ]] || fail "source-wins kept b.txt, deleted on the source"
assert_eq src-y "$(cat "$S/c_dst3/d/sub/y.txt")" "source-wins d/sub/y.txt"
assert_eq src-only "$(cat "$S/c_dst3/src-only.txt")" "source-wins src-only.txt"
assert_eq 2 "$(mesh_cli log sales/c_dst3 -n 1 --json | mesh_json 'len(d["commits"][0]["parents"])')" \
	"parents of a strategy merge"
cli_fails "strategy" merge sales/c_src --into c_dst1 --strategy theirs

note "merge into a branch with staged changes is refused"
echo wip >"$S/c_dst1/wip.txt"
ctl_fails EBUSY "staged|sales/c_dst1" "merge sales/c_src --into c_dst1 --strategy source-wins"
cli_fails "staged|sales/c_dst1" merge sales/c_src --into c_dst1 --strategy source-wins
assert_eq "$c_dst1" "$(head_of sales/c_dst1)" "c_dst1 head after a refused merge"
assert_eq wip "$(cat "$S/c_dst1/wip.txt")" "staged file kept after a refused merge"
assert_eq dst-a "$(cat "$S/c_dst1/a.txt")" "a.txt after a refused merge"
cli_fails "nosuch|sales" merge sales/nosuch --into c_dst2
cli_fails "nosuch|sales" merge sales/c_src --into nosuch
cli_fails "v1" merge sales/c_src --into v1

note "revert and cherry-pick"
mesh_cli branch create sales/rv >/dev/null
echo rv1 >"$S/rv/r.txt"
c_rv1=$(mesh_commit sales/rv "rv1")
echo rv2 >"$S/rv/r.txt"
c_rv2=$(mesh_commit sales/rv "rv2")
echo other >"$S/rv/o.txt"
mesh_commit sales/rv "other" >/dev/null
run "$MESHFS_BIN" revert sales/rv "${c_rv2:0:10}"
[[ $RC -eq 0 ]] || fail "revert: $ERR"
assert_eq rv1 "$(cat "$S/rv/r.txt")" "r.txt right after revert"
assert_eq other "$(cat "$S/rv/o.txt")" "o.txt after revert"
assert_contains "$(mesh_cli log sales/rv -n 1 --json | mesh_json 'd["commits"][0]["message"]')" "Revert" "revert message"
mesh_ctl_ok "revert sales/rv $c_rv1" >/dev/null
[[ ! -e $S/rv/r.txt ]] || fail "r.txt still there after reverting its creation"
cli_fails "nosuch|sales" revert sales/rv nosuch
note "revert of a merge commit needs --parent"
cli_fails "--parent|merge" revert sales/main "$c_merge"
ctl_fails EINVAL "--parent" "revert sales/main $c_merge"
assert_eq "$c_merge" "$(head_of sales/main)" "main after refused reverts"
mesh_cli revert sales/main "$c_merge" --parent 1 >/dev/null
assert_eq alpha "$(cat "$B/a.txt")" "a.txt after reverting the merge to parent 1"
[[ ! -e $B/d/n.txt ]] || fail "d/n.txt still there after reverting the merge to parent 1"
assert_eq changed "$(cat "$B/b.txt")" "b.txt after reverting the merge to parent 1"
cli_fails "parent" revert sales/main "$c_merge" --parent 3

note "cherry-pick"
mesh_cli branch create sales/cp_src >/dev/null
echo one >"$S/cp_src/one.txt"
mesh_commit sales/cp_src "one" >/dev/null
echo two >"$S/cp_src/two.txt"
c_two=$(mesh_commit sales/cp_src "two")
echo three >"$S/cp_src/three.txt"
mesh_commit sales/cp_src "three" >/dev/null
mesh_cli branch create sales/cp_dst >/dev/null
run "$MESHFS_BIN" cherry-pick sales/cp_dst "$c_two"
[[ $RC -eq 0 ]] || fail "cherry-pick: $ERR"
assert_eq two "$(cat "$S/cp_dst/two.txt")" "two.txt right after cherry-pick"
[[ ! -e $S/cp_dst/one.txt && ! -e $S/cp_dst/three.txt ]] || fail "cherry-pick brought other commits"
assert_eq two "$(mesh_cli log sales/cp_dst -n 1 --json | mesh_json 'd["commits"][0]["message"]')" "cherry-pick message"
mesh_ctl_ok "cherry-pick sales/cp_dst cp_src" >/dev/null
assert_eq three "$(cat "$S/cp_dst/three.txt")" "three.txt after control cherry-pick"
echo mine >"$S/cp_dst/one.txt"
c_cp_dst=$(mesh_commit sales/cp_dst "mine")
cli_fails "one.txt|conflict" cherry-pick sales/cp_dst cp_src~2
assert_eq "$c_cp_dst" "$(head_of sales/cp_dst)" "cp_dst after a conflicting cherry-pick"
cli_fails "nosuch|sales" cherry-pick sales/cp_dst nosuch
cli_fails "nobranch|sales" cherry-pick sales/nobranch cp_src

note "meshfs cp of a file and of a tree between domains: no bytes copied"
mkdir -p "$B/data/part1" "$B/data/part2"
head -c 3000000 /dev/urandom >"$B/data/big.bin"
for i in $(seq 1 20); do
	head -c 20000 /dev/urandom >"$B/data/part$((i % 2 + 1))/f$i.bin"
done
mesh_commit sales/main "data" >/dev/null
sync
objects_before=$(mesh_objects)
du_before=$(du -sb "$STORE/objects" | cut -f1)
run "$MESHFS_BIN" cp sales/main/data/big.bin mkt/main/big-copy.bin
[[ $RC -eq 0 ]] || fail "meshfs cp of a file: $ERR"
assert_contains "$OUT" "copied" "human cp output"
mesh_ctl_ok "cp sales/v1/d mkt/main/d-from-tag" >/dev/null
mesh_cli cp sales/main/data mkt/main/data-copy >/dev/null
assert_file_eq "$B/data/big.bin" "$MNT/mkt/main/big-copy.bin"
assert_eq "$(tree_digest "$B/data")" "$(tree_digest "$MNT/mkt/main/data-copy")" "copied tree"
assert_eq "$(tree_digest "$S/v1/d")" "$(tree_digest "$MNT/mkt/main/d-from-tag")" "tree copied from a tag"
mesh_commit mkt/main "copies" >/dev/null
assert_eq "$(tree_digest "$B/data")" "$(tree_digest "$MNT/mkt/main/data-copy")" "copied tree after commit"
objects_after=$(mesh_objects)
du_after=$(du -sb "$STORE/objects" | cut -f1)
note "objects: $objects_before -> $objects_after files, $du_before -> $du_after bytes"
((objects_after - objects_before <= 8)) ||
	fail "meshfs cp stored $((objects_after - objects_before)) new objects"
((du_after - du_before < 65536)) ||
	fail "meshfs cp grew the objects by $((du_after - du_before)) bytes"
cli_fails "nosuch.bin|sales" cp sales/main/data/nosuch.bin mkt/main/x.bin
cli_fails "nosuch|sales" cp sales/nosuch/data mkt/main/x
cli_fails "v9|mkt" cp sales/main/data mkt/v9/x
cli_fails "v1" cp sales/main/a.txt sales/v1/a2.txt
cli_fails "data-copy|exists" cp sales/main/data mkt/main/data-copy

note "coreutils cp of a 200 MB file inside the mount: zero-copy"
mesh_cli branch create sales/big >/dev/null
head -c $((200 << 20)) /dev/urandom >"$MESH_TMP/big.src"
cp "$MESH_TMP/big.src" "$S/big/big.bin"
sync
objects_before=$(mesh_objects)
du_before=$(du -sb "$STORE/objects" | cut -f1)
cp "$S/big/big.bin" "$S/big/big-copy.bin"
sync
du_after=$(du -sb "$STORE/objects" | cut -f1)
note "objects after cp: $objects_before -> $(mesh_objects) files, $du_before -> $du_after bytes"
((du_after - du_before < 1048576)) ||
	fail "cp of a 200 MB file grew the objects by $((du_after - du_before)) bytes"
cmp "$MESH_TMP/big.src" "$S/big/big-copy.bin" || fail "the copy reads back different"
cp "$S/big/big.bin" "$MNT/mkt/main/big-across.bin"
du_after=$(du -sb "$STORE/objects" | cut -f1)
((du_after - du_before < 1048576)) ||
	fail "cp of a 200 MB file across domains grew the objects by $((du_after - du_before)) bytes"
cmp "$MESH_TMP/big.src" "$MNT/mkt/main/big-across.bin" || fail "the cross-domain copy reads back different"
rm -f "$MESH_TMP/big.src"
mesh_cli branch delete sales/big >/dev/null
mesh_cli reset mkt/main >/dev/null

note "everything survives a remount"
mesh_remount
assert_eq feat-a "$(cat "$S/${c_merge:0:8}^2/a.txt")" "merge^2 after remount"
assert_eq alpha "$(cat "$S/v1/a.txt")" "tag view after remount"
assert_eq two "$(cat "$S/cp_dst/two.txt")" "cherry-picked file after remount"
assert_eq "$(tree_digest "$B/data")" "$(tree_digest "$MNT/mkt/main/data-copy")" "copied tree after remount"

note "readers with a branch-view file open while a merge changes it"
mesh_cli branch create sales/rd >/dev/null
mesh_cli branch create sales/rd_src >/dev/null
printf 'old content\n' >"$MESH_TMP/old.txt"
printf 'new content, longer than the old one\n%.0s' 1 2 3 >"$MESH_TMP/new.txt"
cp "$MESH_TMP/old.txt" "$S/rd/shared.txt"
mesh_commit sales/rd "old shared" >/dev/null
mesh_cli merge sales/rd --into rd_src >/dev/null
cp "$MESH_TMP/new.txt" "$S/rd_src/shared.txt"
mesh_commit sales/rd_src "new shared" >/dev/null
assert_file_eq "$MESH_TMP/old.txt" "$S/rd/shared.txt"
pids=()
for r in 1 2; do
	"$PY" "$HERE/vc_readers.py" "$S/rd/shared.txt" "$MESH_TMP/old.txt" "$MESH_TMP/new.txt" \
		"$MESH_TMP/ready$r" "$MESH_TMP/go" "$MESH_TMP/result$r" &
	pids+=($!)
done
for ((i = 0; i < 200; i++)); do
	[[ -e $MESH_TMP/ready1 && -e $MESH_TMP/ready2 ]] && break
	sleep 0.1
done
[[ -e $MESH_TMP/ready1 && -e $MESH_TMP/ready2 ]] || fail "the readers did not start"
sleep 0.5
mesh_cli merge sales/rd_src --into rd >/dev/null
cat_after=$(cat "$S/rd/shared.txt")
touch "$MESH_TMP/go"
assert_eq "$(cat "$MESH_TMP/new.txt")" "$cat_after" "cat right after the merge"
for r in 1 2; do
	wait "${pids[$((r - 1))]}" || true
	assert_eq ok "$(cat "$MESH_TMP/result$r")" "reader $r"
done

note "a file held open while it is written, committed, then reverted, reset or merged"
# The reader's fd is opened before the write, so the writer's close is not
# the last close of the file.
mesh_cli branch create sales/hd >/dev/null
printf 'held v0\n' >"$S/hd/held.txt"
mesh_commit sales/hd "held v0" >/dev/null
exec 7<"$S/hd/held.txt"
# A failing assertion must not leave the mount busy: fd 7 closes first.
# shellcheck disable=SC2154  # rc is set inside the trap
# The status goes to the cleanup as a word: under set -e a failing
# (exit $rc) would end the trap before the cleanup that unmounts.
trap 'rc=$?; trap - ERR; exec 7<&-; _mesh_cleanup "$rc"' EXIT
printf 'held v1, written while another fd is open\n' >"$S/hd/held.txt"
mesh_commit sales/hd "held v1" >/dev/null
assert_eq "held v1, written while another fd is open" "$(cat "$S/hd/held.txt")" "held.txt after its commit"
mesh_cli revert sales/hd hd >/dev/null
assert_eq "held v0" "$(cat "$MNT/sales/$(head_of sales/hd)/held.txt")" "held.txt in the revert commit"
assert_eq "held v0" "$(cat "$S/hd/held.txt")" "held.txt in the branch view right after the revert"
printf 'held staged\n' >"$S/hd/held.txt"
mesh_cli reset sales/hd -- held.txt >/dev/null
assert_eq "held v0" "$(cat "$S/hd/held.txt")" "held.txt right after reset -- held.txt"
mesh_cli branch create sales/hd_src --from hd >/dev/null
printf 'held from hd_src\n' >"$S/hd_src/held.txt"
mesh_commit sales/hd_src "held from hd_src" >/dev/null
printf 'held v2\n' >"$S/hd/other.txt"
mesh_commit sales/hd "other on hd" >/dev/null
mesh_cli merge sales/hd_src --into hd >/dev/null
assert_eq "held from hd_src" "$(cat "$S/hd/held.txt")" "held.txt right after the merge"
assert_eq "held from hd_src" "$(cat <&7)" "the held fd read on after the merge"
exec 7<&-
trap _mesh_cleanup EXIT

note "the same after a revert and a reset (cache invalidation)"
rm -f "$MESH_TMP/go" "$MESH_TMP"/ready* "$MESH_TMP"/result*
cp "$MESH_TMP/new.txt" "$MESH_TMP/cur.txt"
"$PY" "$HERE/vc_readers.py" "$S/rd/shared.txt" "$MESH_TMP/cur.txt" "$MESH_TMP/old.txt" \
	"$MESH_TMP/ready1" "$MESH_TMP/go" "$MESH_TMP/result1" &
pid=$!
for ((i = 0; i < 200; i++)); do
	[[ -e $MESH_TMP/ready1 ]] && break
	sleep 0.1
done
mesh_cli revert sales/rd rd --parent 1 >/dev/null
cat_after=$(cat "$S/rd/shared.txt")
touch "$MESH_TMP/go"
assert_eq "old content" "$cat_after" "cat right after the revert"
wait "$pid" || true
assert_eq ok "$(cat "$MESH_TMP/result1")" "reader across a revert"
echo "staged over it" >"$S/rd/shared.txt"
assert_eq "staged over it" "$(cat "$S/rd/shared.txt")" "staged content"
mesh_cli reset sales/rd -- shared.txt >/dev/null
assert_eq "old content" "$(cat "$S/rd/shared.txt")" "cat right after reset -- shared.txt"

exit 0
