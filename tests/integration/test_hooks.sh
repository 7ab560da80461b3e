#!/usr/bin/env bash
# A domain's hooks with a real owner: a pre-commit hook refuses with its
# message through the control file and the CLI (head unchanged), runs as
# the owner and cannot write its candidate; a hook sleeping past its
# time-out is killed (its processes gone) and refuses; while a pre-commit
# hook sleeps, a merge into the same branch lands only after it, and the
# mount keeps answering (ls, cat, a write in another branch), even with
# more changes waiting in the hooked branch than it has request threads
# (they land after the hook, not in its commit); a failing
# post-commit hook leaves the commit, is logged and audited; a pre-merge
# hook guards a protected main; pre-create-branch and pre-create-tag
# refuse names; without a mount the CLI runs the same hooks.
source "$(dirname "$0")/lib.sh"

OWNER=hook_owner
OTHER=hook_other
mesh_setup
chmod 755 "$MESH_TMP"
for u in "$OWNER" "$OTHER"; do
	userdel "$u" 2>/dev/null || true
	useradd -M -N -g users "$u"
	mesh_on_exit "userdel $u"
done
OWNER_UID=$(id -u "$OWNER")
HOOKS=$MESH_TMP/hooks
OUTD=$MESH_TMP/out
mkdir -p "$HOOKS" "$OUTD"
chmod 755 "$HOOKS"
chown "$OWNER" "$OUTD"

cli() { "$MESHFS_BIN" --mount "$MNT" "$@"; }
as_other() { (cd / && setpriv --reuid "$OTHER" --regid users --init-groups "$@"); }
head_of() { mesh_json 'd["commits"][0]["id"]' <<<"$(mesh_ctl_ok "log $1 -n 1")"; }
# hook NAME BODY: an executable script in HOOKS, readable by everyone.
hook() {
	printf '#!/bin/sh\n%s\n' "$2" >"$HOOKS/$1"
	chmod 755 "$HOOKS/$1"
	echo "$HOOKS/$1"
}
# gone PID: the process has ended (or is a zombie nobody reaped yet).
gone() {
	local i
	for ((i = 0; i < 50; i++)); do
		[[ -e /proc/$1/stat ]] || return 0
		[[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) == Z ]] && return 0
		sleep 0.1
	done
	return 1
}
ms() { date +%s%3N; }

mesh_mount
mesh_ctl_ok "domain create sales" >/dev/null
mesh_ctl_ok "domain set sales owner $OWNER" >/dev/null
printf 'id,status\n1,open\n' >"$MNT/sales/main/data.csv"
mesh_commit sales/main "first data" >/dev/null
cli branch create sales/feat >/dev/null
cli branch create sales/other >/dev/null

note "hook add: the owner and the administrator; list: anyone who sees the domain"
CHECK=$(hook check.sh "
id -u > $OUTD/uid
cat > $OUTD/stdin
cat \"\$MESH_CANDIDATE/data.csv\" > $OUTD/seen
env | grep '^MESH_' | sort > $OUTD/env
if touch \"\$MESH_CANDIDATE/intruder\" 2>/dev/null || echo x 2>/dev/null >> \"\$MESH_CANDIDATE/data.csv\"; then
	echo wrote > $OUTD/write
else
	echo refused > $OUTD/write
fi
if grep -q bad \"\$MESH_CANDIDATE/data.csv\"; then
	echo \"data.csv: column status: rule validValues: value 'bad' (row 2)\" >&2
	exit 1
fi
exit 0")
run as_other "$MESHFS_BIN" --mount "$MNT" hook add sales pre-commit "$CHECK"
[[ $RC -eq 1 ]] || fail "hook add by $OTHER exited $RC"
assert_contains "$ERR" "only the owner of domain sales ($OWNER) and the store's administrator may change its settings" "refusal of hook add by $OTHER"
run cli hook add sales pre-commit relative.sh
[[ $RC -eq 1 ]] || fail "a relative program exited $RC"
assert_contains "$ERR" "is not an absolute path" "relative program"
run cli hook add sales pre-commit "$CHECK" --timeout 0
[[ $RC -eq 1 ]] || fail "--timeout 0 exited $RC"
assert_contains "$(cli hook add sales pre-commit "$CHECK" --timeout 10)" "pre-commit hook $CHECK of sales, time-out 10 s, runs as $OWNER" \
	"hook add by the administrator"
assert_eq "$(printf 'pre-commit\t%s\t10 s' "$CHECK")" "$(as_other "$MESHFS_BIN" --mount "$MNT" hook list sales)" \
	"hook list by $OTHER"

note "a pre-commit hook refuses through the control file and the CLI; the head stays"
H=$(head_of sales/main)
printf 'id,status\n1,open\n2,bad\n' >"$MNT/sales/main/data.csv"
run mesh_ctl "commit sales/main -m bad"
[[ $RC -eq 1 ]] || fail "a refused commit through the control file exited $RC"
assert_eq EPERM "$ERR" "errno of the refused commit"
assert_eq EPERM "$(mesh_json 'd["error"]' <<<"$OUT")" "error of the answer"
assert_contains "$(mesh_json 'd["message"]' <<<"$OUT")" \
	"pre-commit hook $CHECK (run as $OWNER) of domain sales refused sales/main (exit status 1): data.csv: column status: rule validValues: value 'bad' (row 2)" \
	"the answer's message"
assert_eq "$H" "$(head_of sales/main)" "head after the refusal"
run cli commit sales/main -m bad
[[ $RC -eq 1 ]] || fail "a refused commit through the CLI exited $RC"
assert_contains "$ERR" "refused sales/main (exit status 1): data.csv: column status: rule validValues: value 'bad' (row 2)" \
	"the CLI's message"
assert_eq "$H" "$(head_of sales/main)" "head after the CLI's refusal"

note "the hook ran as the owner, with the changed paths and its variables, and could not write the candidate"
assert_eq "$OWNER_UID" "$(cat "$OUTD/uid")" "uid of the hook"
assert_eq "data.csv" "$(cat "$OUTD/stdin")" "changed paths on stdin"
assert_eq "$(printf 'id,status\n1,open\n2,bad')" "$(cat "$OUTD/seen")" "the candidate's data.csv"
assert_eq refused "$(cat "$OUTD/write")" "a write into the candidate"
ENV=$(cat "$OUTD/env")
assert_contains "$ENV" "MESH_BRANCH=main" "MESH_BRANCH"
assert_contains "$ENV" "MESH_DOMAIN=sales" "MESH_DOMAIN"
assert_contains "$ENV" "MESH_EVENT=pre-commit" "MESH_EVENT"
assert_contains "$ENV" "MESH_USER=root" "MESH_USER"
assert_contains "$ENV" "MESH_CANDIDATE=$(realpath "$MNT")/sales/" "MESH_CANDIDATE in the mount"
[[ ! -e $MNT/sales/main/intruder ]] || fail "the hook wrote into main"

printf 'id,status\n1,open\n2,shipped\n' >"$MNT/sales/main/data.csv"
C1=$(mesh_json 'd["commit"]' <<<"$(mesh_ctl_ok "commit sales/main -m good")")
assert_eq "$C1" "$(head_of sales/main)" "head after a commit the hook passes"
cli hook remove sales pre-commit "$CHECK" >/dev/null

note "a hook sleeping past its time-out is killed, with what it started, and refuses"
SLEEPER=$(hook sleeper.sh "sleep 30 &
echo \$! > $OUTD/sleep.pid
wait")
cli hook add sales pre-commit "$SLEEPER" --timeout 2 >/dev/null
echo more >"$MNT/sales/main/more.txt"
T0=$(ms)
run cli commit sales/main -m slow
T1=$(ms)
[[ $RC -eq 1 ]] || fail "a commit whose hook timed out exited $RC"
assert_contains "$ERR" "pre-commit hook $SLEEPER (run as $OWNER) of domain sales refused sales/main (timed out after 2 s and was killed)" \
	"message of the time-out"
((T1 - T0 >= 2000 && T1 - T0 < 6000)) || fail "the timed-out commit took $((T1 - T0)) ms"
gone "$(cat "$OUTD/sleep.pid")" || fail "the hook's sleep $(cat "$OUTD/sleep.pid") still runs"
assert_eq "$C1" "$(head_of sales/main)" "head after the time-out"
cli hook remove sales pre-commit "$SLEEPER" >/dev/null

note "while a pre-commit hook sleeps: a merge into the branch lands after it; the mount answers"
echo feat >"$MNT/sales/feat/feat.txt"
mesh_commit sales/feat "feat" >/dev/null
SLOW=$(hook slow.sh "touch $OUTD/slow.started; sleep 5; exit 0")
cli hook add sales pre-commit "$SLOW" --timeout 20 >/dev/null
rm -f "$OUTD/slow.started"
cli commit sales/main -m "slow but fine" --json >"$OUTD/slow.answer" 2>&1 &
SLOW_PID=$!
for ((i = 0; i < 100; i++)); do
	[[ -e $OUTD/slow.started ]] && break
	sleep 0.1
done
[[ -e $OUTD/slow.started ]] || fail "the slow hook did not start"
cli merge sales/feat --into main --json >"$OUTD/merge.answer" 2>&1 &
MERGE_PID=$!
T0=$(ms)
ls "$MNT/sales/main" >/dev/null
T1=$(ms)
cat "$MNT/sales/main/data.csv" >/dev/null
T2=$(ms)
echo "other branch" >"$MNT/sales/other/during.txt"
T3=$(ms)
cli status sales/other >/dev/null
T4=$(ms)
kill -0 "$SLOW_PID" 2>/dev/null || fail "the slow commit ended before the checks did"
kill -0 "$MERGE_PID" 2>/dev/null || fail "the merge did not wait for the slow commit's hook"
note "during the hook: ls $((T1 - T0)) ms, cat $((T2 - T1)) ms, write in another branch $((T3 - T2)) ms, status $((T4 - T3)) ms"
for d in $((T1 - T0)) $((T2 - T1)) $((T3 - T2)) $((T4 - T3)); do
	((d < 2000)) || fail "a request took $d ms while the hook slept"
done
wait "$SLOW_PID" || fail "the slow commit failed: $(cat "$OUTD/slow.answer")"
wait "$MERGE_PID" || fail "the merge failed: $(cat "$OUTD/merge.answer")"
C2=$(mesh_json 'd["commit"]' <"$OUTD/slow.answer")
PARENT=$(mesh_json 'd["commits"][0]["parents"][0]' <<<"$(mesh_ctl_ok "log sales/main -n 1")")
assert_eq "$C2" "$PARENT" "the merge's first parent is the slow commit"
[[ $(cat "$MNT/sales/other/during.txt") == "other branch" ]] || fail "the write in another branch"
cli hook remove sales pre-commit "$SLOW" >/dev/null

# More changes wait for the held branch than the mount has request
# threads (64): were each waiting on its request thread, nothing else
# would be answered until the hook ended.
note "while a pre-commit hook sleeps: 80 changes wait in its branch, the mount still answers"
cli hook add sales pre-commit "$SLOW" --timeout 20 >/dev/null
rm -f "$OUTD/slow.started"
mkdir "$MNT/sales/main/waiting"
for ((i = 0; i < 80; i++)); do echo "$i" >"$MNT/sales/main/waiting/f-$i"; done
chmod 644 "$MNT"/sales/main/waiting/f-*
cli commit sales/main -m "slow again" --json >"$OUTD/slow2.answer" 2>&1 &
SLOW_PID=$!
for ((i = 0; i < 100; i++)); do
	[[ -e $OUTD/slow.started ]] && break
	sleep 0.1
done
[[ -e $OUTD/slow.started ]] || fail "the slow hook did not start again"
# One file each: the kernel lets one change per inode through at a time.
WAITERS=()
for ((i = 0; i < 80; i++)); do
	chmod 600 "$MNT/sales/main/waiting/f-$i" & WAITERS+=($!)
done
sleep 0.5
T0=$(ms)
ls "$MNT/sales/other" >/dev/null
cat "$MNT/sales/other/during.txt" >/dev/null
echo "still" >"$MNT/sales/other/still.txt"
T1=$(ms)
note "with 80 changes waiting: ls, cat and a write in another branch took $((T1 - T0)) ms"
((T1 - T0 < 2000)) || fail "the mount took $((T1 - T0)) ms to answer with 80 changes waiting"
kill -0 "$SLOW_PID" 2>/dev/null || fail "the slow commit ended before the check"
wait "$SLOW_PID" || fail "the second slow commit failed: $(cat "$OUTD/slow2.answer")"
for pid in "${WAITERS[@]}"; do
	wait "$pid" || fail "a chmod that waited for the hook failed"
done
C2B=$(mesh_json 'd["commit"]' <"$OUTD/slow2.answer")
assert_eq "600 644" "$(stat -c %a "$MNT/sales/main/waiting/f-79" "$MNT/sales/$C2B/waiting/f-79" | xargs)" \
	"a chmod made while the hook ran: in the branch, not in the hooked commit"
rm -rf "$MNT/sales/main/waiting"
cli hook remove sales pre-commit "$SLOW" >/dev/null

note "a failing post-commit hook leaves the commit in place; the log and the audit log say so"
POST=$(hook post.sh "echo \"\$MESH_EVENT \$MESH_COMMIT\" > $OUTD/post
echo 'cannot notify the catalog' >&2
exit 5")
cli hook add sales post-commit "$POST" >/dev/null
echo post >"$MNT/sales/main/post.txt"
C3=$(mesh_json 'd["commit"]' <<<"$(mesh_ctl_ok "commit sales/main -m post")")
assert_eq "$C3" "$(head_of sales/main)" "head after the failing post-commit hook"
assert_eq "post-commit $C3" "$(cat "$OUTD/post")" "what the post-commit hook saw"
AUDIT=$(cli audit --op hook --json)
assert_contains "$(mesh_json '" ".join(r["detail"] + " " + r["result"] + " " + r["commit"] for r in d["records"])' <<<"$AUDIT")" \
	"post-commit hook $POST (run as $OWNER) of domain sales failed after sales/main (exit status 5): cannot notify the catalog EPERM $C3" \
	"audit record of the post-commit hook"
grep -q "post-commit hook $POST .*cannot notify the catalog" "$MESH_LOG" || fail "the daemon log has no line of the post-commit hook"
cli hook remove sales post-commit "$POST" >/dev/null

note "a pre-merge hook guards a protected main"
cli branch protect sales/main >/dev/null
GUARD=$(hook guard.sh "echo \"\$MESH_EVENT \$MESH_SOURCE\" > $OUTD/merge
if [ -e \"\$MESH_CANDIDATE/forbidden.csv\" ]; then
	echo 'forbidden.csv must not reach main' >&2
	exit 1
fi")
cli hook add sales pre-merge "$GUARD" >/dev/null
cli branch create sales/bad >/dev/null
echo x >"$MNT/sales/bad/forbidden.csv"
mesh_commit sales/bad "forbidden" >/dev/null
H=$(head_of sales/main)
run cli merge sales/bad --into main
[[ $RC -eq 1 ]] || fail "a merge the pre-merge hook refuses exited $RC"
assert_contains "$ERR" "pre-merge hook $GUARD (run as $OWNER) of domain sales refused sales/main (exit status 1): forbidden.csv must not reach main" \
	"message of the pre-merge refusal"
assert_eq "$H" "$(head_of sales/main)" "main after the refused merge"
assert_eq "pre-merge bad" "$(cat "$OUTD/merge")" "MESH_SOURCE of the merge"
cli branch create sales/good >/dev/null
echo fine >"$MNT/sales/good/fine.csv"
mesh_commit sales/good "fine" >/dev/null
cli merge sales/good --into main >/dev/null
[[ $(cat "$MNT/sales/main/fine.csv") == fine ]] || fail "the merge the hook passes did not land"

note "pre-create-branch and pre-create-tag refuse names; mkdir of a branch too"
NAMES=$(hook names.sh "case \$MESH_BRANCH in
tmp-*) echo \"\$MESH_EVENT: names tmp-* are not allowed (\$MESH_BRANCH from \$MESH_SOURCE)\" >&2; exit 1;;
esac")
cli hook add sales pre-create-branch "$NAMES" >/dev/null
cli hook add sales pre-create-tag "$NAMES" >/dev/null
run cli branch create sales/tmp-x --from feat
[[ $RC -eq 1 ]] || fail "a refused branch create exited $RC"
assert_contains "$ERR" "pre-create-branch: names tmp-* are not allowed (tmp-x from feat)" "refused branch"
run mkdir "$MNT/sales/tmp-y"
[[ $RC -ne 0 ]] || fail "mkdir of a refused branch succeeded"
assert_contains "$ERR" "Operation not permitted" "mkdir of a refused branch"
mkdir "$MNT/sales/kept"
run cli tag create sales/tmp-v1 main
[[ $RC -eq 1 ]] || fail "a refused tag create exited $RC"
assert_contains "$ERR" "pre-create-tag: names tmp-* are not allowed (tmp-v1 from main)" "refused tag"
cli tag create sales/v1 main >/dev/null
REFS=$(cli branch list sales; cli tag list sales)
assert_not_contains "$REFS" "tmp-" "refs after the refusals"
assert_contains "$REFS" "kept" "the branch mkdir made"

note "without a mount the CLI runs the same hooks, on an exported candidate it cannot write"
cli hook add sales pre-commit "$CHECK" >/dev/null
cli branch unprotect sales/main >/dev/null
printf 'id,status\n1,bad\n' >"$MNT/sales/main/data.csv"
rm -f "$OUTD/write" "$OUTD/uid"
mesh_umount
H=$("$MESHFS_BIN" --store "$STORE" log sales/main -n 1 --json | mesh_json 'd["commits"][0]["id"]')
run "$MESHFS_BIN" --store "$STORE" commit sales/main -m "offline bad"
[[ $RC -eq 1 ]] || fail "a refused commit on the store exited $RC"
assert_contains "$ERR" "pre-commit hook $CHECK (run as $OWNER) of domain sales refused sales/main (exit status 1): data.csv: column status" \
	"the CLI's message on the store"
assert_eq "$OWNER_UID" "$(cat "$OUTD/uid")" "uid of the hook run by the CLI"
assert_eq refused "$(cat "$OUTD/write")" "a write into the exported candidate"
EXPORTED=$(sed -n 's/^MESH_CANDIDATE=//p' "$OUTD/env")
[[ $EXPORTED == /tmp/meshfs-hook-* ]] || fail "MESH_CANDIDATE of an export is $EXPORTED"
[[ ! -e $EXPORTED ]] || fail "the exported candidate $EXPORTED was left behind"
assert_eq "$H" "$("$MESHFS_BIN" --store "$STORE" log sales/main -n 1 --json | mesh_json 'd["commits"][0]["id"]')" \
	"head after the refusal on the store"
note "ok"
