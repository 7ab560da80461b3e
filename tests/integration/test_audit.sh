#!/usr/bin/env bash
# The audit log through a mount: a scripted session of root and another
# user (writes, reads, commands, refusals) leaves exactly the expected
# records in order; filters, export and domain stats answer from them;
# -o noaudit records nothing; `audit verify` names a record altered or
# removed in RocksDB (tests/tools/auditpoke.c).
source "$(dirname "$0")/lib.sh"

POKE=$(dirname "$MESHFS_BIN")/mesh_auditpoke
[[ -x $POKE ]] || fail "no $POKE (built with the tests)"
USER_A=aud_alice

mesh_setup
chmod 755 "$MESH_TMP"
id "$USER_A" >/dev/null 2>&1 || useradd -M -N "$USER_A"
_audit_cleanup() { userdel "$USER_A" 2>/dev/null || true; _mesh_cleanup; }
trap _audit_cleanup EXIT
as_alice() { setpriv --reuid "$USER_A" --regid nogroup --clear-groups "$@"; }
ctl_as_alice() { as_alice "$PY" -c "$_MESH_CTL_PY" "$MNT/.control" "$1" nl; }

mesh_mount -o allow_other

note "a scripted session"
mesh_ctl_ok "domain create sales" >/dev/null
printf 'a,b\n' >"$MNT/sales/main/orders.csv"
C1=$(mesh_commit sales/main one)
cat "$MNT/sales/main/orders.csv" >/dev/null
mesh_ctl_fails ENOENT "commit sales/nope -m x"
mesh_ctl_fails EINVAL "frobnicate"
if (echo x >"$MNT/sales/$C1/new.txt") 2>/dev/null; then fail "wrote into a commit view"; fi
if mkdir "$MNT/nodomain" 2>/dev/null; then fail "mkdir at the mount's root worked"; fi
mkdir "$MNT/sales/main/tmp"
printf x >"$MNT/sales/main/tmp/a"
chmod 600 "$MNT/sales/main/tmp/a"
mv "$MNT/sales/main/tmp/a" "$MNT/sales/main/tmp/b"
rm "$MNT/sales/main/tmp/b"
rmdir "$MNT/sales/main/tmp"
ln -s orders.csv "$MNT/sales/main/link"
if mv "$MNT/sales/main/link" "$MNT/sales/$C1/link" 2>/dev/null; then fail "renamed into a commit view"; fi
as_alice cat "$MNT/sales/main/orders.csv" >/dev/null
run ctl_as_alice "domain create alice_d"
[[ $RC -eq 0 ]] || fail "$USER_A could not create a domain: $OUT $ERR"

note "who reads what: root all, an owner their domain, nobody else"
run as_alice "$MESHFS_BIN" audit --mount "$MNT"
[[ $RC -eq 1 ]] || fail "$USER_A read every domain's records (exit $RC)"
assert_contains "$ERR" "only root" "refusal of audit without --domain"
run as_alice "$MESHFS_BIN" audit --domain sales --mount "$MNT"
[[ $RC -eq 1 ]] || fail "$USER_A read the records of sales, not theirs"
run as_alice "$MESHFS_BIN" audit --domain alice_d --json --mount "$MNT"
[[ $RC -eq 0 ]] || fail "the owner of alice_d cannot read its records: $ERR"
assert_eq '[["domain", "alice_d"]]' "$(mesh_json '[[r["op"], r["domain"]] for r in d["records"]]' <<<"$OUT")" \
	"records $USER_A reads of alice_d"
run as_alice "$MESHFS_BIN" audit verify --mount "$MNT"
[[ $RC -eq 1 ]] || fail "$USER_A verified the whole log"

note "the log holds exactly the session, in order"
ANS=$(mesh_cli audit --json --mount "$MNT")
"$PY" - "$ANS" "$C1" "$USER_A" <<'EOF'
import json, sys
ans, c1, alice = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
want = [
    ("domain", "root", "sales", "", "", "ok"),
    ("create", "root", "sales", "main", "orders.csv", "ok"),
    ("commit", "root", "sales", "main", "", "ok"),
    ("read", "root", "sales", "main", "orders.csv", "ok"),
    ("commit", "root", "sales", "nope", "", "ENOENT"),
    ("frobnicate", "root", "", "", "", "EINVAL"),
    ("create", "root", "sales", "", "new.txt", "EROFS"),
    ("mkdir", "root", "nodomain", "", "", "EPERM"),
    ("mkdir", "root", "sales", "main", "tmp", "ok"),
    ("create", "root", "sales", "main", "tmp/a", "ok"),
    ("chmod", "root", "sales", "main", "tmp/a", "ok"),
    ("rename", "root", "sales", "main", "tmp/a", "ok"),
    ("unlink", "root", "sales", "main", "tmp/b", "ok"),
    ("rmdir", "root", "sales", "main", "tmp", "ok"),
    ("symlink", "root", "sales", "main", "link", "ok"),
    ("rename", "root", "sales", "main", "link", "EROFS"),
    ("read", alice, "sales", "main", "orders.csv", "ok"),
    ("domain", alice, "alice_d", "", "", "ok"),
    ("audit", alice, "", "", "", "EACCES"),
    ("audit", alice, "sales", "", "", "EACCES"),
    ("audit", alice, "", "", "", "EACCES"),
]
got = [(r["op"], r["user"], r["domain"], r["ref"], r["path"], r["result"]) for r in ans["records"]]
if got != want:
    sys.exit("records differ:\n got  %s\n want %s" % ("\n      ".join(map(str, got)),
                                                    "\n      ".join(map(str, want))))
recs = ans["records"]
if [r["seq"] for r in recs] != list(range(1, len(want) + 1)):
    sys.exit("seqs are not 1..%d: %s" % (len(want), [r["seq"] for r in recs]))
def find(op, **kw):
    return [r for r in recs if r["op"] == op and all(r[k] == v for k, v in kw.items())]
reads = find("read")
if [r["bytes"] for r in reads] != [4, 4] or [r["comm"] for r in reads] != ["cat", "cat"]:
    sys.exit("read opens: %s" % reads)
if find("create", path="orders.csv")[0]["comm"] != "bash":
    sys.exit("command name of the shell's create: %s" % find("create"))
if find("create", result="EROFS")[0]["commit"] != c1 or len(reads[0]["commit"]) != 64:
    sys.exit("resolved commits: %s %s" % (find("create", result="EROFS"), reads[0]))
if [r["detail"] for r in find("rename")] != ["tmp/b", "link"]:
    sys.exit("rename details (the new path, or the new name when refused): %s" % find("rename"))
if find("symlink")[0]["detail"] != "orders.csv":
    sys.exit("symlink detail: %s" % find("symlink"))
if any(r["time_ns"] > s["time_ns"] for r, s in zip(recs, recs[1:])):
    sys.exit("times go back along the log")
EOF

note "filters answer from the indexes"
ALICE_UID=$(id -u "$USER_A")
ANS=$(mesh_cli audit --op read --path 'orders*' --json --mount "$MNT")
assert_eq "[0, $ALICE_UID]" "$(mesh_json '[r["uid"] for r in d["records"]]' <<<"$ANS")" "--op read --path"
ANS=$(mesh_cli audit --user "$USER_A" --domain sales --json --mount "$MNT")
assert_eq '["read", "audit"]' "$(mesh_json '[r["op"] for r in d["records"]]' <<<"$ANS")" "--user --domain"
ANS=$(mesh_cli audit --since 1h --until "$(date -u +%Y-%m-%d)" --op commit --json --mount "$MNT")
assert_eq '[3, 5]' "$(mesh_json '[r["seq"] for r in d["records"]]' <<<"$ANS")" "--since --until --op"
T8=$(mesh_json 'd["records"][7]["time"]' <<<"$(mesh_cli audit --json --mount "$MNT")")
T9=$(mesh_json 'd["records"][8]["time"]' <<<"$(mesh_cli audit --json --mount "$MNT")")
ANS=$(mesh_cli audit --since "$T8" --until "$T9" --json --mount "$MNT")
assert_eq '[8, 9]' "$(mesh_json '[r["seq"] for r in d["records"]]' <<<"$ANS")" "--since and --until a record's time"
ANS=$(mesh_cli audit --until 2000-01-01 --json --mount "$MNT")
assert_eq 0 "$(mesh_json 'd["count"]' <<<"$ANS")" "--until before everything"
run "$MESHFS_BIN" audit --user no_such_user_x --mount "$MNT"
[[ $RC -eq 1 ]] || fail "--user of an unknown user was accepted"
assert_contains "$ERR" "no such user" "error of an unknown --user"
run "$MESHFS_BIN" audit --since yesterdayish --mount "$MNT"
[[ $RC -eq 1 ]] || fail "--since yesterdayish was accepted"
assert_contains "$ERR" "'yesterdayish' is not a time" "error of a bad --since"

note "export: JSON lines"
mesh_cli audit export --since 1d --mount "$MNT" >"$MESH_TMP/export.jsonl"
"$PY" - "$MESH_TMP/export.jsonl" <<'EOF'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
recs = [json.loads(l) for l in lines]
if len(recs) < 21 or [r["seq"] for r in recs[:21]] != list(range(1, 22)):
    sys.exit("export: %d lines, seqs %s" % (len(recs), [r.get("seq") for r in recs]))
EOF

note "domain stats: consumers by user"
ANS=$(mesh_cli domain stats sales --json --mount "$MNT")
assert_eq "[[\"root\", \"orders.csv\", 1, 4], [\"$USER_A\", \"orders.csv\", 1, 4]]" \
	"$(mesh_json '[[u["user"], u["path"], u["read_opens"], u["bytes_opened"]] for u in d["consumers"]]' <<<"$ANS")" \
	"domain stats sales"
run as_alice "$MESHFS_BIN" domain stats sales --mount "$MNT"
[[ $RC -eq 1 ]] || fail "$USER_A read the usage of a domain not theirs"
run "$MESHFS_BIN" domain stats sales --days 0 --mount "$MNT"
[[ $RC -eq 1 ]] || fail "--days 0 was accepted"

note "the chain is intact"
OUT=$(mesh_cli audit verify --mount "$MNT")
assert_contains "$OUT" "audit log intact" "audit verify"
COUNT=$(mesh_json 'd["count"]' <<<"$(mesh_cli audit --json --mount "$MNT")")

note "-o noaudit records nothing"
mesh_remount -o allow_other,noaudit
cat "$MNT/sales/main/orders.csv" >/dev/null
printf 'x\n' >"$MNT/sales/main/more.csv"
mesh_ctl_ok "commit sales/main -m two" >/dev/null
mesh_umount
assert_eq "$COUNT" "$(mesh_json 'd["count"]' <<<"$(mesh_cli audit --json)")" "records after a noaudit mount"

note "a read through meshfs serve on the store is a record too"
"$MESHFS_BIN" serve --store "$STORE" --listen 127.0.0.1:0 >"$MESH_TMP/serve.out" 2>"$MESH_TMP/serve.err" </dev/null &
SERVE_PID=$!
for ((i = 0; i < 100; i++)); do
	URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*/?token=[0-9a-f]*' "$MESH_TMP/serve.out" || true)
	[[ -n $URL ]] && break
	sleep 0.1
done
[[ -n $URL ]] || fail "meshfs serve printed no URL: $(cat "$MESH_TMP/serve.err")"
GOT=$("$PY" -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode(), end="")' \
	"${URL%%/?token=*}/raw?d=sales&ref=main&path=orders.csv&token=${URL##*token=}")
kill "$SERVE_PID"
wait "$SERVE_PID" || true
assert_eq "a,b" "$GOT" "orders.csv through meshfs serve"
ANS=$(mesh_cli audit --op read --domain sales --json)
assert_eq '["orders.csv", "meshfs serve", 4]' \
	"$(mesh_json '[d["records"][-1][k] for k in ("path", "detail", "bytes")]' <<<"$ANS")" "the last read record"

note "audit verify names a record altered or removed in RocksDB"
"$POKE" "$STORE" flip 5
run "$MESHFS_BIN" audit verify
[[ $RC -eq 1 ]] || fail "audit verify passed a log with record 5 altered: $OUT"
assert_contains "$ERR" "record 5 was altered" "verify of an altered record"
run "$MESHFS_BIN" audit verify --json
assert_eq '[5, "altered"]' "$(mesh_json '[d["bad_seq"], d["problem"]]' <<<"$OUT")" "the answer's bad record"
"$POKE" "$STORE" flip 5
mesh_cli audit verify >/dev/null
"$POKE" "$STORE" delete 9
run "$MESHFS_BIN" audit verify
[[ $RC -eq 1 ]] || fail "audit verify passed a log with record 9 removed: $OUT"
assert_contains "$ERR" "record 9 is missing" "verify of a removed record"

note "bench/audit.py has its rows (quick sizes)"
run "$PY" "$MESH_SOURCE_DIR/bench/audit.py" --quick --meshfs "$MESHFS_BIN" --dir "$MESH_TMP"
[[ $RC -eq 0 ]] || fail "bench/audit.py --quick exited $RC: $ERR"
for row in "cold sequential read" "warm sequential read" "write + commit" "  its daemon CPU time"; do
	assert_contains "$OUT" "| $row |" "bench/audit.py's table"
done
assert_contains "$OUT" "create records written with auditing on: 501 (expected 501)" "bench/audit.py's count"
