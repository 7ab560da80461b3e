#!/usr/bin/env bash
# Domain access rules with real users and groups on one root daemon's
# mount (allow_other): readers, writers of a team, an outsider, a restricted
# domain, sensitive paths in every view and through cp, a grant that lapses,
# a protected main, and root squash.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

USERS=(acc_owner acc_w1 acc_w2 acc_reader acc_out acc_admin)
GROUPS_=(acc_team acc_readers acc_pii)

acc_cleanup() {
	local u g
	for u in "${USERS[@]}"; do userdel "$u" 2>/dev/null || true; done
	for g in "${GROUPS_[@]}"; do groupdel "$g" 2>/dev/null || true; done
}

mesh_setup
# lib.sh's EXIT trap unmounts and removes the temp dir, then the users go.
mesh_on_exit acc_cleanup
acc_cleanup
for g in "${GROUPS_[@]}"; do groupadd "$g"; done
for u in "${USERS[@]}"; do useradd -M -N -g users "$u"; done
usermod -a -G acc_team acc_w1
usermod -a -G acc_team,acc_pii acc_w2
usermod -a -G acc_readers acc_reader
chmod 755 "$MESH_TMP"

mesh_mount

# as USER CMD...: runs CMD as USER with its groups, files created 0666.
as() {
	local user=$1
	shift
	(cd / && umask 000 && setpriv --reuid "$user" --regid users --init-groups "$@")
}
cli() { as "$1" "$MESHFS_BIN" --mount "$MNT" "${@:2}"; }
json() { as "$1" "$MESHFS_BIN" --mount "$MNT" "${@:2}" --json; }
# errno_of USER CMD...: the errno name of a failing program (python).
try_write() {
	as "$1" "$PY" -c '
import errno, os, sys
try:
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    os.write(fd, sys.argv[2].encode())
    os.close(fd)
    print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])' "$2" "${3:-x}"
}
try_read() {
	as "$1" "$PY" -c '
import errno, sys
try:
    sys.stdout.write(open(sys.argv[1]).read())
except OSError as e:
    print(errno.errorcode[e.errno])' "$2"
}

note "the owner creates a public domain with a writers group; root's daemon serves all"
run cli acc_owner domain create sales --writers acc_team --description orders
[[ $RC -eq 0 ]] || fail "owner could not create sales: $ERR"
assert_eq acc_owner "$(json acc_reader domain show sales | mesh_json 'd["domain"]["owner"]')" owner
assert_eq acc_team "$(json acc_reader domain show sales | mesh_json 'd["domain"]["writers"]')" writers
# Until ownership lands, files show the mount's owner: a world-writable
# directory lets the kernel through, so the domain rule is what decides.
mkdir -m 0777 "$MNT/sales/main/shared" "$MNT/sales/main/customers"
chmod 0777 "$MNT/sales/main/shared"
mkdir "$MNT/sales/main/customers/pii"
echo "id,total" >"$MNT/sales/main/shared/data.csv"
echo "a@example.com" >"$MNT/sales/main/customers/pii/emails.csv"
mesh_commit sales/main "first load" >/dev/null
OLD=$(mesh_json 'd["commits"][0]["id"]' <<<"$(mesh_ctl_ok 'log sales/main -n 1')")
mesh_ctl_ok "tag create sales/v1 main" >/dev/null

note "a reader reads a public domain and cannot write, commit, branch, tag or merge"
assert_eq "id,total" "$(try_read acc_reader "$MNT/sales/main/shared/data.csv")" "reader's read"
assert_eq EACCES "$(try_write acc_reader "$MNT/sales/main/shared/r.csv")" "reader's create"
[[ ! -e $MNT/sales/main/shared/r.csv ]] || fail "a refused create left a file"
for words in "commit sales/main -m x" "branch create sales/r" "tag create sales/r1 main" \
	"merge sales/v1 --into main" "reset sales/main"; do
	# shellcheck disable=SC2086
	run cli acc_reader $words
	[[ $RC -ne 0 ]] || fail "reader: meshfs $words succeeded"
	assert_contains "$ERR" "writers group (acc_team)" "reader's refusal of $words"
done
run as acc_reader "$PY" -c "import os; fd = os.open('$MNT/.control', os.O_RDWR); os.write(fd, b'branch create sales/r')"
assert_contains "$ERR" "PermissionError" "reader's branch create through .control"

note "a writer writes, commits and branches; a colleague of the team overwrites"
assert_eq OK "$(try_write acc_w1 "$MNT/sales/main/shared/w.csv" first)" "writer's create"
run cli acc_w1 commit sales/main -m "w1 writes"
[[ $RC -eq 0 ]] || fail "writer could not commit: $ERR"
assert_eq OK "$(try_write acc_w2 "$MNT/sales/main/shared/w.csv" second)" "colleague's overwrite"
assert_eq second "$(cat "$MNT/sales/main/shared/w.csv")" "overwritten content"
run cli acc_w2 commit sales/main -m "w2 overwrites"
[[ $RC -eq 0 ]] || fail "colleague could not commit: $ERR"

note "a descriptor opened for writing keeps its right until it is closed"
mkdir -m 0777 "$MESH_TMP/sync"
as acc_w1 "$PY" - "$MNT/sales/main/shared/kept.csv" "$MESH_TMP/sync" <<'EOF' >"$MESH_TMP/sync/out" 2>&1 &
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o666)
os.write(fd, b"written before the rule changed\n")
open(sys.argv[2] + "/ready", "w").close()
while not os.path.exists(sys.argv[2] + "/go"):
    time.sleep(0.02)
os.write(fd, b"and after\n")
os.close(fd)
print("closed")
EOF
writer=$!
for ((i = 0; i < 250; i++)); do [[ -e $MESH_TMP/sync/ready ]] && break; sleep 0.02; done
cli acc_owner domain set sales writers none >/dev/null
touch "$MESH_TMP/sync/go"
wait "$writer" || fail "the writer's close failed after the rule changed: $(cat "$MESH_TMP/sync/out")"
assert_eq closed "$(cat "$MESH_TMP/sync/out")" "the writer's close"
assert_contains "$(mesh_cli status sales/main)" "shared/kept.csv" "staged by the close"
assert_eq "written before the rule changed and after" "$(xargs <"$MNT/sales/main/shared/kept.csv")" \
	"what the descriptor wrote"
assert_eq EACCES "$(try_write acc_w1 "$MNT/sales/main/shared/kept.csv" again)" "a new open after the change"
cli acc_owner domain set sales writers acc_team >/dev/null
mesh_cli reset sales/main -- shared/kept.csv >/dev/null

run cli acc_w1 branch create sales/feature
[[ $RC -eq 0 ]] || fail "writer could not branch: $ERR"
run cli acc_w1 tag create sales/w1tag main
[[ $RC -eq 0 ]] || fail "writer could not tag: $ERR"
assert_eq OK "$(try_write acc_w1 "$MNT/sales/feature/shared/f.csv" feature)" "writer in a branch"
cli acc_w1 commit sales/feature -m "feature work" >/dev/null

note "a sensitive path is unreadable to others in a branch, a tag, an old commit and through cp"
run cli acc_w1 domain restrict sales 'customers/pii/**' --group acc_pii
[[ $RC -ne 0 ]] || fail "a writer set a sensitive path"
run cli acc_owner domain restrict sales 'customers/pii/[x' --group acc_pii
[[ $RC -ne 0 ]] || fail "succeeded: $OUT"; assert_contains "$ERR" "does not parse" "bad glob"
run cli acc_owner domain restrict sales 'customers/pii/**' --group acc_nosuch
[[ $RC -ne 0 ]] || fail "succeeded: $OUT"; assert_contains "$ERR" "unknown group" "unknown group"
cli acc_owner domain restrict sales 'customers/pii/**' --group acc_pii >/dev/null
for view in main v1 "$OLD"; do
	assert_eq EACCES "$(try_read acc_reader "$MNT/sales/$view/customers/pii/emails.csv")" \
		"reader's read of the sensitive path in $view"
	assert_eq EACCES "$(try_read acc_w1 "$MNT/sales/$view/customers/pii/emails.csv")" \
		"writer (not in acc_pii) reading the sensitive path in $view"
	assert_eq "a@example.com" "$(try_read acc_w2 "$MNT/sales/$view/customers/pii/emails.csv")" \
		"acc_pii member's read in $view"
done
cli acc_reader domain create rdom >/dev/null
for src in sales/main/customers/pii/emails.csv sales/v1/customers sales/main/customers; do
	run cli acc_reader cp "$src" rdom/main/stolen
	[[ $RC -ne 0 ]] || fail "reader copied $src into their own domain"
	assert_contains "$ERR" "sensitive path" "cp of $src"
done
[[ ! -e $MNT/rdom/main/stolen ]] || fail "a refused cp left a copy"
cli acc_reader cp sales/main/shared/data.csv rdom/main/data.csv >/dev/null
assert_eq "id,total" "$(try_read acc_reader "$MNT/rdom/main/data.csv")" "a permitted cp"
echo "b@example.com" >>"$MNT/sales/main/customers/pii/emails.csv"
mesh_commit sales/main "more emails" >/dev/null
assert_not_contains "$(json acc_reader diff sales/v1 main)" "emails" "reader's diff"
assert_contains "$(json acc_w2 diff sales/v1 main)" "customers/pii/emails.csv" "acc_pii member's diff"

note "a grant lets the reader in and its lapse shuts them out"
run cli acc_reader access request sales read --path 'customers/pii/**' --reason 'churn study' --json
[[ $RC -eq 0 ]] || fail "request failed: $ERR"
ID=$(mesh_json 'd["request"]["id"]' <<<"$OUT")
assert_contains "$(json acc_owner access pending)" "churn study" "owner's pending list"
assert_not_contains "$(json acc_w1 access pending)" "churn study" "a writer's pending list"
run cli acc_w1 access grant "$ID"
[[ $RC -ne 0 ]] || fail "a writer granted a request on a domain they do not own"
run cli acc_owner access grant "$ID" --until 2001-01-01
[[ $RC -ne 0 ]] || fail "succeeded: $OUT"; assert_contains "$ERR" "in the past" "a grant ending in the past"
UNTIL=$(date -u -d '+4 seconds' +%Y-%m-%dT%H:%M:%SZ)
cli acc_owner access grant "$ID" --until "$UNTIL" >/dev/null
assert_eq "a@example.com b@example.com" \
	"$(try_read acc_reader "$MNT/sales/main/customers/pii/emails.csv" | xargs)" "granted reader's read"
assert_eq granted "$(json acc_reader access mine | mesh_json 'd["requests"][0]["state"]')" "state"
while [[ $(date -u +%Y-%m-%dT%H:%M:%SZ) < "$UNTIL" || $(date -u +%Y-%m-%dT%H:%M:%SZ) == "$UNTIL" ]]; do
	sleep 0.3
done
assert_eq EACCES "$(try_read acc_reader "$MNT/sales/main/customers/pii/emails.csv")" \
	"read after the grant lapsed"
assert_eq lapsed "$(json acc_reader access mine | mesh_json 'd["requests"][0]["state"]')" "state"
# Each step is an audit record naming the request; the refused grant too.
steps=$(mesh_cli audit --json | mesh_json \
	'" ".join("%s:%s:%s" % (r["op"], r["user"], r["result"]) for r in d["records"] if r["op"].startswith("access"))')
assert_eq "access-request:acc_reader:ok access:acc_reader:ok access:acc_w1:EACCES access:acc_owner:EINVAL access-grant:acc_owner:ok access:acc_owner:ok" \
	"$steps" "audit records of the request's steps"
assert_contains "$(mesh_cli audit --op access-grant --json | mesh_json 'd["records"][0]["detail"]')" \
	"request $ID of uid $(id -u acc_reader) to read until" "the grant's record"

note "a restricted domain is invisible to others: ls, stat, open, the CLI, control answers"
cli acc_owner domain create hr --writers acc_team --visibility restricted >/dev/null
mkdir -m 0777 "$MNT/hr/main/pay"
echo "salary" >"$MNT/hr/main/pay/p.csv"
chmod 0644 "$MNT/hr/main/pay/p.csv"
mesh_commit hr/main "pay" >/dev/null
# A member walks there first, so the kernel has the entries it may share.
assert_eq salary "$(try_read acc_w1 "$MNT/hr/main/pay/p.csv")" "member's read"
assert_contains "$(as acc_w1 ls "$MNT")" hr "member's ls"
assert_not_contains "$(as acc_out ls "$MNT")" hr "outsider's ls"
run as acc_out stat "$MNT/hr"
[[ $RC -ne 0 ]] || fail "succeeded: $OUT"; assert_contains "$ERR" "No such file" "outsider's stat"
assert_eq ENOENT "$(try_read acc_out "$MNT/hr/main/pay/p.csv")" "outsider's open"
assert_eq ENOENT "$(try_write acc_out "$MNT/hr/main/pay/new.csv")" "outsider's create"
assert_not_contains "$(json acc_out domain list)" '"hr"' "outsider's domain list"
run cli acc_out log hr/main
NOSUCH_ERR=$(cli acc_out log nosuchdomain/main 2>&1 || true)
assert_eq "${NOSUCH_ERR//nosuchdomain/hr}" "$ERR" "outsider's log: as for an absent domain"
for words in "branch list hr" "domain show hr" "status hr/main" "diff hr/main main" \
	"cp hr/main/pay/p.csv rdom/main/p.csv" "access request hr read --reason x"; do
	run as acc_out "$PY" -c "import os,sys; fd = os.open('$MNT/.control', os.O_RDWR)
try:
    os.write(fd, sys.argv[1].encode())
except OSError as e:
    print(e.errno == 2, os.pread(fd, 65536, 0).decode())" "$words"
	assert_contains "$OUT" "True" "outsider's '$words' errno"
	assert_contains "$OUT" "domain hr does not exist" "outsider's '$words' answer"
done

note "a protected main refuses a write, a commit, a reset and a delete, and accepts a merge"
run cli acc_w1 branch protect sales/main
[[ $RC -ne 0 ]] || fail "a writer protected main"
cli acc_owner branch protect sales/main >/dev/null
assert_eq EROFS "$(try_write acc_w1 "$MNT/sales/main/shared/p.csv")" "write in protected main"
assert_eq EROFS "$(try_write root "$MNT/sales/main/shared/p.csv")" "root's write in protected main"
for words in "commit sales/main -m x" "reset sales/main" "branch delete sales/main"; do
	# shellcheck disable=SC2086
	run cli acc_w1 $words
	[[ $RC -ne 0 ]] || fail "meshfs $words on protected main succeeded"
	assert_contains "$ERR" "protected" "refusal of $words"
done
run cli acc_w1 merge sales/feature --into main
[[ $RC -eq 0 ]] || fail "merge into protected main refused: $ERR"
assert_eq feature "$(cat "$MNT/sales/main/shared/f.csv")" "merged content"

note "root squash: root is an ordinary user, the store's owner its administrator"
mesh_umount
chown acc_admin "$STORE"
mesh_mount -o root_squash
assert_not_contains "$(ls "$MNT")" hr "root's ls under root squash"
assert_eq EACCES "$(try_write root "$MNT/sales/feature/shared/x.csv")" "root's write under root squash"
# A writer's file is staged whole at close, and commits, under root squash.
assert_eq OK "$(try_write acc_w1 "$MNT/sales/feature/shared/sq.csv" squashed)" "writer under root squash"
cli acc_w1 commit sales/feature -m "under root squash" >/dev/null
assert_eq squashed "$(try_read acc_w1 "$MNT/sales/feature~0/shared/sq.csv")" "committed under root squash"
run "$MESHFS_BIN" --mount "$MNT" policy set protect-main-by-default true
[[ $RC -ne 0 ]] || fail "root set a policy under root squash"
cli acc_admin policy set protect-main-by-default true >/dev/null
assert_contains "$(json acc_admin domain list)" '"hr"' "administrator's domain list"
cli acc_out domain create later >/dev/null
assert_eq '["main"]' "$(json acc_out domain show later | mesh_json 'd["protected"]')" \
	"main of a new domain under the policy"
mesh_umount
