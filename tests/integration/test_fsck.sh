#!/usr/bin/env bash
# fsck through the control file and the CLI (mounted and not): it finds a
# flipped byte in a chunk file and in an object kept in RocksDB, a removed
# chunk (which reads as EIO, the daemon log naming it) and a corrupt head;
# --repair quarantines; branch reset-head makes the branch list and read
# again.  Exit codes: 0 clean, 1 damage, 2 usage.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
DBPOKE=$(dirname "$MESHFS_BIN")/mesh_dbpoke
[[ -x $DBPOKE ]] || fail "helper $DBPOKE not built"
mesh_setup
mesh_domain vault
mesh_mount
B=$MNT/vault/main

# Chunk ids are SHA-256 over "chunk <len>\0" + data (oid.h): files under
# the 64 KiB minimum chunk size are one chunk each.
chunk_id() {
	"$PY" - "$1" <<'PYEOF'
import hashlib, sys
data = open(sys.argv[1], "rb").read()
print(hashlib.sha256(b"chunk %d\0" % len(data) + data).hexdigest())
PYEOF
}
loose() { echo "$STORE/objects/${1:0:2}/${1:2}"; }
# read_errno PATH: prints the errno name reading PATH fails with, or "ok".
read_errno() {
	"$PY" - "$1" <<'PYEOF'
import errno, os, sys
try:
    open(sys.argv[1], "rb").read()
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
PYEOF
}

note "c1: a loose chunk (40 KiB), one that will be removed, a small file (in RocksDB), a healthy one"
head -c 40000 /dev/urandom >"$MESH_TMP/big.bin"
head -c 40000 /dev/urandom >"$MESH_TMP/gone.bin"
printf 'id,v\n1,2\n3,4\n' >"$MESH_TMP/small.csv"
printf 'healthy\n' >"$MESH_TMP/healthy.txt"
for f in big.bin gone.bin small.csv healthy.txt; do cp "$MESH_TMP/$f" "$B/$f"; done
c1=$(mesh_commit vault/main "four files")
mesh_ctl_ok "branch create vault/dev --from main" >/dev/null
echo later >"$B/later.txt"
c2=$(mesh_commit vault/main "one more")
big=$(chunk_id "$MESH_TMP/big.bin")
gone=$(chunk_id "$MESH_TMP/gone.bin")
small=$(chunk_id "$MESH_TMP/small.csv")
[[ -f $(loose "$big") && -f $(loose "$gone") ]] || fail "the 40 KiB chunks are not loose files"
[[ ! -e $(loose "$small") ]] || fail "the small file's chunk is a loose file, expected it in RocksDB"

note "a clean store: control answer, CLI exit 0"
ans=$(mesh_ctl_ok "fsck")
assert_eq true "$(mesh_json 'd["clean"]' <<<"$ans")" "clean"
assert_eq 0 "$(mesh_json 'd["damage_total"]' <<<"$ans")" "damage_total"
assert_eq 2 "$(mesh_json 'd["refs"]' <<<"$ans")" "refs walked (main and dev)"
assert_status 0 "$MESHFS_BIN" fsck --mount "$MNT"
assert_contains "$OUT" "clean"
assert_status 2 "$MESHFS_BIN" fsck --bogus --mount "$MNT"
assert_status 1 "$MESHFS_BIN" fsck --domain nosuch --mount "$MNT"
mesh_umount

note "damage: flip a byte of the loose chunk, of the small file's value and of the head commit; remove a chunk"
"$PY" - "$(loose "$big")" <<'PYEOF'
import os, sys
os.chmod(sys.argv[1], 0o644)
with open(sys.argv[1], "r+b") as f:
    f.seek(20000)
    b = f.read(1)
    f.seek(20000)
    f.write(bytes([b[0] ^ 0x10]))
PYEOF
"$DBPOKE" "$STORE" has "$small" || fail "small chunk $small not in RocksDB"
"$DBPOKE" "$STORE" flip "$small"
"$DBPOKE" "$STORE" flip "$c2"
rm -f "$(loose "$gone")"

note "the CLI on the unmounted store finds it: exit 1"
assert_status 1 "$MESHFS_BIN" fsck --store "$STORE"
assert_contains "$OUT" "damage found: 4 problem(s)"
assert_contains "$OUT" "reset-head vault/main"

mesh_mount
note "reads: a removed chunk is EIO with the daemon log naming it; the broken head does not list"
assert_eq EIO "$(read_errno "$MNT/vault/dev/gone.bin")" "reading the file whose chunk was removed"
grep -q "$gone.*missing" "$MESH_LOG" || fail "no daemon log line names the missing chunk $gone"
assert_eq EIO "$(read_errno "$MNT/vault/dev/big.bin")" "reading the file with a flipped chunk byte"
assert_eq EIO "$(read_errno "$MNT/vault/dev/small.csv")" "reading the file with a flipped RocksDB value"
assert_eq ok "$(read_errno "$MNT/vault/dev/healthy.txt")" "reading the healthy file"
assert_fails ls "$B"

note "fsck through the control file: EIO, and the answer lists each problem where it was found"
mesh_ctl_fails EIO "fsck"
assert_eq false "$(mesh_json 'd["clean"]' <<<"$OUT")" "clean"
assert_eq 4 "$(mesh_json 'd["damage_total"]' <<<"$OUT")" "damage_total"
problems=$(mesh_json '" ".join(sorted("%s:%s:%s:%s" % (x["problem"], x["type"], x.get("ref"), x.get("path", "-")) for x in d["damage"]))' <<<"$OUT")
assert_eq "corrupt:chunk:heads/dev:big.bin corrupt:chunk:heads/dev:small.csv corrupt:commit:heads/main:- missing:chunk:heads/dev:gone.bin" \
	"$problems" "problems found"
assert_eq "$c2" "$(mesh_json '[x for x in d["damage"] if x["type"] == "commit"][0]["object"]' <<<"$OUT")" "corrupt commit"
assert_eq "$gone" "$(mesh_json '[x for x in d["damage"] if x["problem"] == "missing"][0]["object"]' <<<"$OUT")" "missing chunk"
assert_eq '[["vault", "main"]]' "$(mesh_json '[[b["domain"], b["branch"]] for b in d["broken_heads"]]' <<<"$OUT")" "broken heads"

note "--quick does not re-hash chunks: only the head and the missing chunk"
assert_status 1 "$MESHFS_BIN" fsck --quick --json --mount "$MNT"
assert_eq 2 "$(mesh_json 'd["damage_total"]' <<<"$OUT")" "problems found by --quick"

note "reset-head refuses an intact head"
mesh_ctl_fails EINVAL "branch reset-head vault/dev"
assert_contains "$(mesh_json 'd["message"]' <<<"$OUT")" "intact"

note "--repair moves the three corrupt objects to quarantine/"
assert_status 1 "$MESHFS_BIN" fsck --repair --mount "$MNT"
assert_contains "$OUT" "3 corrupt copies moved"
assert_eq 3 "$(find "$STORE/quarantine" -type f | wc -l)" "files in quarantine/"
[[ -f $STORE/quarantine/$big.loose && -f $STORE/quarantine/$small.db && -f $STORE/quarantine/$c2.db ]] ||
	fail "quarantine holds $(ls "$STORE/quarantine")"
[[ ! -e $(loose "$big") ]] || fail "the corrupt chunk file is still in objects/"
assert_status 1 "$MESHFS_BIN" fsck --json --mount "$MNT"
assert_eq "missing missing missing missing" \
	"$(mesh_json '" ".join(x["problem"] for x in d["damage"])' <<<"$OUT")" "what remains after repair"

note "branch reset-head moves main back to c1; it lists and reads again"
ans=$(mesh_ctl_ok "branch reset-head vault/main")
assert_eq "$c2" "$(mesh_json 'd["old_head"]' <<<"$ans")" "old head"
assert_eq "$c1" "$(mesh_json 'd["commit"]' <<<"$ans")" "new head"
grep -q "reset-head vault/main by uid $(id -u)" "$MESH_LOG" || fail "the daemon log does not record the reset and its caller"
assert_eq "big.bin gone.bin healthy.txt small.csv" "$(ls "$B" | xargs)" "main after reset-head"
assert_file_eq "$MESH_TMP/healthy.txt" "$B/healthy.txt"
assert_eq "$c1" "$(mesh_json 'd["branches"][[b["name"] for b in d["branches"]].index("main")]["commit"]' \
	<<<"$(mesh_ctl_ok "branch list vault")")" "main in branch list"

note "writing the damaged files again stores their objects again: clean, exit 0"
for f in big.bin gone.bin small.csv; do cp "$MESH_TMP/$f" "$B/$f"; done
assert_file_eq "$MESH_TMP/big.bin" "$B/big.bin"
assert_status 0 "$MESHFS_BIN" fsck --mount "$MNT"
assert_contains "$OUT" "clean"
