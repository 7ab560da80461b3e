#!/usr/bin/env bash
# The meshfs CLI as a user types it: init, domains, mount/umount, and
# commit/status/log through a mounted store, human and --json output.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup

note "init creates db/ objects/ tmp/; running it again is harmless"
for d in db objects tmp; do
	[[ -d $STORE/$d ]] || fail "meshfs init did not create $STORE/$d"
done
mesh_domain sales "Orders and customers"
mesh_cli init --store "$STORE" >/dev/null
mesh_cli domain list --store "$STORE" >/dev/null
assert_contains "$OUT" sales "domain list after a second init"

note "MESHFS_STORE is the default store"
MESHFS_STORE=$MESH_TMP/envstore "$MESHFS_BIN" init ||
	fail "meshfs init with MESHFS_STORE failed"
[[ -d $MESH_TMP/envstore/db ]] || fail "MESHFS_STORE=$MESH_TMP/envstore: no db/ created there"
MESHFS_STORE=$MESH_TMP/envstore "$MESHFS_BIN" domain create envdom --description "via env" ||
	fail "domain create with MESHFS_STORE failed"
list=$(MESHFS_STORE=$MESH_TMP/envstore "$MESHFS_BIN" domain list)
assert_eq "$(printf 'envdom\tvia env')" "$list" "domain list of the MESHFS_STORE store"
list=$(mesh_cli domain list --store "$STORE")
assert_not_contains "$list" envdom "domain list of the --store store"

note "domain create and list, text and --json"
mesh_domain marketing "Campaigns, leads & more"
list=$(mesh_cli domain list --store "$STORE")
assert_eq 2 "$(wc -l <<<"$list")" "number of lines of domain list"
assert_contains "$list" "$(printf 'sales\tOrders and customers')" "domain list"
assert_contains "$list" "$(printf 'marketing\tCampaigns, leads & more')" "domain list"
json=$(mesh_cli domain list --store "$STORE" --json)
# cli.md fixes the fields, not the envelope: a list or {"domains": [...]}.
names=$(mesh_json '",".join(sorted(x["name"] + "=" + x["description"] for x in (d["domains"] if isinstance(d, dict) else d)))' <<<"$json")
assert_eq "marketing=Campaigns, leads & more,sales=Orders and customers" "$names" "domain list --json"

note "bad domain names are refused, exit 2, naming the allowed characters"
for bad in ".hidden" "a/b" "has space" "semi;colon" "star*" "" "ünïcode"; do
	assert_status 2 "$MESHFS_BIN" domain create "$bad" --store "$STORE"
	msg="$OUT$ERR"
	if [[ $msg != *A-Za-z0-9* && ! ($msg == *letter* && $msg == *digit*) ]]; then
		fail "refusal of domain name [$bad] does not name the allowed characters: $msg"
	fi
done
list=$(mesh_cli domain list --store "$STORE")
assert_eq 2 "$(wc -l <<<"$list")" "domains after refused names"

note "a duplicate domain is refused"
assert_status 1 "$MESHFS_BIN" domain create sales --store "$STORE"
assert_contains "$ERR" "already exists" "stderr of a duplicate domain create"
list=$(mesh_cli domain list --store "$STORE")
assert_contains "$list" "$(printf 'sales\tOrders and customers')" "description after a refused duplicate"

note "mount: root lists domains, a domain lists its branches"
mesh_mount
assert_eq "$(printf 'marketing\nsales')" "$(ls "$MNT")" "ls of the mount root"
assert_eq main "$(ls "$MNT/sales")" "ls of a domain"
assert_eq "" "$(ls -A "$MNT/sales/main")" "ls of a new branch"
[[ -f $MNT/.control ]] || fail ".control is not a regular file at the root"

note "status, commit, log with --mount, human and --json"
mkdir -p "$MNT/sales/main/orders"
printf 'id,amount\n1,10\n' >"$MNT/sales/main/orders/a.csv"
st=$(mesh_cli status sales/main --mount "$MNT")
assert_contains "$st" "orders/a.csv" "human status"
stj=$(mesh_cli status sales/main --mount "$MNT" --json)
assert_eq true "$(mesh_json 'd["ok"]' <<<"$stj")" "status --json ok"
assert_eq sales/main "$(mesh_json 'd["domain"] + "/" + d["branch"]' <<<"$stj")" "status --json domain/branch"
assert_eq '["added", "file"]' \
	"$(mesh_json '[[c["change"], c["kind"]] for c in d["changes"] if c["path"] == "orders/a.csv"][0]' <<<"$stj")" \
	"status --json entry of orders/a.csv"
ctl=$(mesh_ctl_ok "status sales/main")
assert_eq "$(mesh_json 'd' <<<"$ctl")" "$(mesh_json 'd' <<<"$stj")" "status --json versus the control file's answer"
head0=$(mesh_json 'd["head"]' <<<"$stj")
[[ $head0 =~ ^[0-9a-f]{64}$ ]] || fail "status head is not 64 hex: $head0"

cj=$(mesh_cli commit sales/main -m "first orders" --meta source=test --meta "owner=data team" --mount "$MNT" --json)
c1=$(mesh_json 'd["commit"]' <<<"$cj")
[[ $c1 =~ ^[0-9a-f]{64}$ ]] || fail "commit --json: commit is not 64 hex: $cj"
assert_eq "$head0" "$(mesh_json 'd["parent"]' <<<"$cj")" "parent of the first commit"
assert_eq sales/main "$(mesh_json 'd["domain"] + "/" + d["branch"]' <<<"$cj")" "commit --json domain/branch"
[[ $(mesh_json 'd["changes"]' <<<"$cj") -ge 1 ]] || fail "commit --json reports no changes: $cj"
stj=$(mesh_cli status sales/main --mount "$MNT" --json)
assert_eq "[]" "$(mesh_json 'd["changes"]' <<<"$stj")" "status after commit"
assert_eq "$c1" "$(mesh_json 'd["head"]' <<<"$stj")" "status head after commit"

lj=$(mesh_cli log sales/main --mount "$MNT" --json)
assert_eq 2 "$(mesh_json 'len(d["commits"])' <<<"$lj")" "commits in the log (initial included)"
assert_eq "$c1" "$(mesh_json 'd["commits"][0]["id"]' <<<"$lj")" "newest commit in the log"
assert_eq "first orders" "$(mesh_json 'd["commits"][0]["message"]' <<<"$lj")" "message in the log"
assert_eq '{"owner": "data team", "source": "test"}' \
	"$(mesh_json 'dict(sorted(d["commits"][0]["meta"].items()))' <<<"$lj")" "meta in the log"
assert_eq "[\"$head0\"]" "$(mesh_json 'd["commits"][0]["parents"]' <<<"$lj")" "parents in the log"
assert_eq "$head0" "$(mesh_json 'd["commits"][1]["id"]' <<<"$lj")" "initial commit in the log"
assert_eq "[]" "$(mesh_json 'd["commits"][1]["parents"]' <<<"$lj")" "parents of the initial commit"
assert_eq "$(id -u)" "$(mesh_json 'd["commits"][0]["uid"]' <<<"$lj")" "uid in the log"
assert_eq "$(id -un)" "$(mesh_json 'd["commits"][0]["author"]' <<<"$lj")" "author in the log"
now=$(date +%s)
t=$(mesh_json 'd["commits"][0]["time"]' <<<"$lj")
((t <= now && t > now - 600)) || fail "commit time $t is not about now ($now)"
assert_eq 1 "$(mesh_cli log sales/main -n 1 --mount "$MNT" --json | mesh_json 'len(d["commits"])')" "log -n 1"

lh=$(mesh_cli log sales/main --mount "$MNT")
assert_contains "$lh" "first orders" "human log"
assert_contains "$lh" "${c1:0:8}" "human log"
printf '2,20\n' >>"$MNT/sales/main/orders/a.csv"
ch=$(mesh_cli commit sales/main -m "more orders" --mount "$MNT")
[[ -n $ch ]] || fail "human commit printed nothing"
c2=$(mesh_cli log sales/main -n 1 --mount "$MNT" --json | mesh_json 'd["commits"][0]["id"]')
assert_contains "$ch" "${c2:0:8}" "human commit output"

note "without --mount the CLI finds the mount in /proc/self/mounts"
run mesh_alone "$MESHFS_BIN" log sales/main --json
[[ $RC -eq 0 ]] || fail "log without --mount exited $RC: $ERR"
assert_eq "$c2" "$(mesh_json 'd["commits"][0]["id"]' <<<"$OUT")" "log without --mount"
printf 'x\n' >"$MNT/marketing/main/leads.csv"
run mesh_alone "$MESHFS_BIN" status marketing/main
[[ $RC -eq 0 ]] || fail "status without --mount exited $RC: $ERR"
assert_contains "$OUT" leads.csv "status without --mount"
run mesh_alone "$MESHFS_BIN" commit marketing/main -m "leads" --json
[[ $RC -eq 0 ]] || fail "commit without --mount exited $RC: $ERR"
[[ $(mesh_json 'd["commit"]' <<<"$OUT") =~ ^[0-9a-f]{64}$ ]] || fail "commit --json without --mount: $OUT"

note "errors: non-zero exit and a message naming the problem"
assert_status 1 "$MESHFS_BIN" commit sales/main -m "again" --mount "$MNT"
assert_contains "$ERR" "nothing to commit" "stderr of an empty commit"
assert_status 1 "$MESHFS_BIN" commit sales/main -m "again" --mount "$MNT" --json
assert_eq EINVAL "$(mesh_json 'd["error"]' <<<"$OUT")" "commit --json error when nothing is staged"
assert_contains "$(mesh_json 'd["message"]' <<<"$OUT")" "nothing to commit on sales/main" "commit --json message"
assert_status 1 "$MESHFS_BIN" log nope/main --mount "$MNT"
assert_contains "$ERR" nope "stderr of log of an unknown domain"
assert_status 1 "$MESHFS_BIN" status sales/nobranch --mount "$MNT"
assert_contains "$ERR" nobranch "stderr of status of an unknown branch"
assert_status 1 "$MESHFS_BIN" log sales/nobranch --mount "$MNT" --json
assert_eq ENOENT "$(mesh_json 'd["error"]' <<<"$OUT")" "log --json error for an unknown branch"
assert_status 2 "$MESHFS_BIN" commit sales/main --mount "$MNT"
[[ -n $ERR ]] || fail "commit without -m printed no message"
assert_status 2 "$MESHFS_BIN" frobnicate
[[ -n $ERR ]] || fail "an unknown subcommand printed no message"
assert_fails "$MESHFS_BIN" log sales/main --mount "$MESH_TMP"
[[ -n $ERR ]] || fail "log with a --mount that is no meshfs mount printed no message"
assert_fails "$MESHFS_BIN" domain create x --store "$MESH_TMP/no/such/store"
[[ -n $ERR ]] || fail "domain create in a missing store printed no message"

note "umount, then the daemon has closed the store"
mesh_umount
mesh_cli domain list --store "$STORE" >/dev/null
assert_fails "$MESHFS_BIN" umount "$MNT"

note "--log-level debug logs to stderr in the foreground; -o passes FUSE options"
: >"$MESH_LOG"
mesh_mount --log-level debug -o noatime
cat "$MNT/sales/main/orders/a.csv" >/dev/null
mesh_ctl_ok "status sales/main" >/dev/null
grep -v '^====' "$MESH_LOG" | grep -q . || fail "nothing logged on stderr at --log-level debug"
opts=$(awk -v m="$MNT" '$2 == m { print $4 }' /proc/self/mounts)
assert_contains "$opts" noatime "mount options with -o noatime"
mesh_umount
assert_status 2 "$MESHFS_BIN" mount "$MNT" --store "$STORE" --foreground --log-level loud
_mesh_in_mounts "$MNT" && fail "mount with a bad --log-level mounted anyway"

note "without --foreground, mount returns once the mount is up"
mesh_cli mount "$MNT" --store "$STORE" >/dev/null
mountpoint -q "$MNT" || fail "meshfs mount returned before $MNT was mounted"
assert_eq "$(printf 'id,amount\n1,10\n2,20')" "$(cat "$MNT/sales/main/orders/a.csv")" "content via the daemonized mount"
mesh_cli umount "$MNT" >/dev/null
_mesh_in_mounts "$MNT" && fail "$MNT still mounted after meshfs umount"
mesh_cli domain list --store "$STORE" >/dev/null
exit 0
