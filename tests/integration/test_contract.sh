#!/usr/bin/env bash
# Data contracts through the CLI and the control file: a standard ODCS
# example (tests/contract/orders.odcs.yaml) imported and exported again
# is the same document; contract check holds on good committed data
# (CSV, JSON lines) and names file, column, rule and value on bad data
# with exit 1; a file a contract cannot express is refused by field and
# stages nothing; export never overwrites; another user cannot import a
# file it cannot read nor export into a directory it cannot write.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
EXAMPLE=$HERE/../contract/orders.odcs.yaml
U=ctr_alice
mesh_setup
G=ctr_pii
mesh_on_exit "userdel -r $U >/dev/null 2>&1 || true"
mesh_on_exit "groupdel $G >/dev/null 2>&1 || true"
useradd -m "$U" || fail "useradd $U"
groupadd "$G" || fail "groupadd $G"
mesh_domain air
chmod 755 "$MESH_TMP"
mesh_mount -o allow_other
A=$MNT/air/main

# --- import: standard ODCS in, our subset staged
out=$(mesh_cli contract import "$EXAMPLE" air/main)
assert_contains "$out" "staged contract my_table (dataset air/*.csv) as .mesh/contracts/my_table.yaml"
[[ -f $A/.mesh/contracts/my_table.yaml ]] || fail "import staged nothing"
mesh_commit air/main "the air quality contract" >/dev/null

# --- export: the same document back
mesh_cli contract export air/main my_table "$MESH_TMP/out.yaml" >/dev/null
mesh_py "$EXAMPLE" "$MESH_TMP/out.yaml" <<'EOF' || fail "import -> export changed the contract"
import sys, yaml
a, b = (yaml.safe_load(open(p)) for p in sys.argv[1:3])
if a != b:
    sys.exit("differs:\n%r\n%r" % (a, b))
EOF
assert_fails "$MESHFS_BIN" contract export air/main my_table "$MESH_TMP/out.yaml"
assert_contains "$ERR" "exists"
assert_fails "$MESHFS_BIN" contract export air/main nosuch "$MESH_TMP/out2.yaml"
assert_contains "$ERR" "has no contract 'nosuch'"
[[ ! -e $MESH_TMP/out2.yaml ]] || fail "a failed export left a file"

# --- check: good data holds
mkdir "$A/air"
printf 'UniqueID,air_quality_status\n1,good\n2,poor\n3,\n' >"$A/air/2024.csv"
mesh_commit air/main "good data" >/dev/null
out=$(mesh_cli contract check air/main)
assert_contains "$out" "1 file(s)"
assert_contains "$out" "hold the 1 contract(s)"
[[ $(mesh_cli contract check air/main --json | mesh_json 'd["failures"]') == "[]" ]] ||
	fail "failures on good data"

# --- the gate: a commit of bad data is refused naming file, column, rule
# and value, and the head stays
printf 'UniqueID,air_quality_status\n1,good\n,poor\n3,awful\n4,awful\n5,awful\n6,awful\n7,awful\n8,awful\n' \
	>"$A/air/2025.csv"
head_before=$(mesh_cli log air/main --json | mesh_json 'd["commits"][0]["id"]')
run "$MESHFS_BIN" commit air/main -m "bad data"
[[ $RC -ne 0 ]] || fail "a commit of bad data went through the gate: $OUT"
assert_contains "$ERR" "air/2025.csv column 'UniqueID' rule required"
assert_contains "$ERR" "rule validValues"
assert_eq "$head_before" "$(mesh_cli log air/main --json | mesh_json 'd["commits"][0]["id"]')" \
	"head after a refused commit"
mesh_ctl_fails EINVAL "commit air/main -m 'bad data'"
# A candidate that loosens the contract in the same commit is still
# judged by the head's.
cp "$A/.mesh/contracts/my_table.yaml" "$MESH_TMP/kept.yaml"
sed -i 's/required: true/required: false/' "$A/.mesh/contracts/my_table.yaml"
run "$MESHFS_BIN" commit air/main -m "loosen and add bad data"
[[ $RC -ne 0 ]] || fail "a loosened contract let its own commit through"
assert_contains "$ERR" "rule required"
# Bad data committed for check: the contract leaves in one commit (a
# change of .mesh/ only), the data lands in the next, it comes back.
rm "$A/.mesh/contracts/my_table.yaml"
mv "$A/air/2025.csv" "$MESH_TMP/2025.csv"
mesh_commit air/main "no contract" >/dev/null
mv "$MESH_TMP/2025.csv" "$A/air/2025.csv"
mesh_commit air/main "bad data" >/dev/null
cp "$MESH_TMP/kept.yaml" "$A/.mesh/contracts/my_table.yaml"
mesh_commit air/main "the contract again" >/dev/null

# --- check: bad data is named, exit 1
assert_status 1 "$MESHFS_BIN" contract check air/main
assert_contains "$ERR" "air/2025.csv column 'UniqueID' rule required"
assert_contains "$ERR" "air/2025.csv column 'UniqueID' rule nullValues"
assert_contains "$ERR" "air/2025.csv column 'air_quality_status' rule validValues"
assert_contains "$ERR" "6 values outside validValues, must be <= 5"
assert_contains "$ERR" "row 3: awful"
assert_not_contains "$ERR" "2024.csv"
assert_status 1 "$MESHFS_BIN" contract check air/main --json
assert_eq 3 "$(mesh_json 'len(d["failures"])' <<<"$OUT")" "failures in --json (primaryKey: required too)"
assert_eq "UniqueID 2 (null)" "$(mesh_json '"%s %d %s" % (d["failures"][0]["column"], d["failures"][0]["values"][0]["row"], d["failures"][0]["values"][0]["value"])' <<<"$OUT")" "first failure"
# The same through the control file.
mesh_ctl_fails EINVAL "contract check air/main"
assert_contains "$(mesh_json 'd["message"]' <<<"$OUT")" "rule nullValues"
# An older commit still holds.
mesh_cli contract check air/main~3 >/dev/null   # "good data"

# --- JSON lines
cat >"$MESH_TMP/events.yaml" <<'EOF'
apiVersion: v3.1.0
kind: DataContract
name: events
servers:
  - server: lake
    type: local
    path: events/*.jsonl
    format: jsonl
schema:
  - name: events
    properties:
      - name: id
        logicalType: integer
        unique: true
      - name: kind
        required: true
customProperties:
  - property: meshfs.allowedExtensions
    value: [jsonl]
  - property: meshfs.maxFileSize
    value: 1000
EOF
mesh_cli contract import "$MESH_TMP/events.yaml" air/main >/dev/null
mkdir "$A/events"
printf '{"id":1,"kind":"a"}\n{"id":2,"kind":"b"}\n' >"$A/events/1.jsonl"
git_like=$(mesh_commit air/main "events")
[[ -n $git_like ]] || fail "no commit"
assert_status 1 "$MESHFS_BIN" contract check air/main
assert_not_contains "$ERR" "events/"
printf '{"id":1,"kind":"a"}\n{"id":1}\n' >"$A/events/2.jsonl"
run "$MESHFS_BIN" commit air/main -m "bad events"
[[ $RC -ne 0 ]] || fail "bad JSON lines went through the gate"
assert_contains "$ERR" "events/2.jsonl column 'id' rule unique"
assert_contains "$ERR" "events/2.jsonl column 'kind' rule required"
mesh_cli reset air/main -- events/2.jsonl >/dev/null

# --- refusals: what the subset cannot express, nothing staged
sed 's/^    physicalType: table$/    tags: [nyc]/' "$EXAMPLE" >"$MESH_TMP/tags.yaml"
assert_fails "$MESHFS_BIN" contract import "$MESH_TMP/tags.yaml" air/main
assert_contains "$ERR" "line 25: schema field 'tags' is not in meshfs's ODCS subset"
sed 's/^apiVersion: v3.0.2$/apiVersion: v2.2.2/' "$EXAMPLE" >"$MESH_TMP/v2.yaml"
assert_fails "$MESHFS_BIN" contract import "$MESH_TMP/v2.yaml" air/main
assert_contains "$ERR" "apiVersion must be an ODCS v3 version"
assert_eq 0 "$(mesh_cli status air/main --json | mesh_json 'len(d["changes"])')" "staged after refusals"

# --- another user: only files it may read, directories it may write
install -m 600 "$EXAMPLE" "$MESH_TMP/private.yaml"
assert_fails setpriv --reuid "$U" --regid "$U" --init-groups "$MESHFS_BIN" --mount "$MNT" \
	contract import "$MESH_TMP/private.yaml" air/main
assert_contains "$ERR" "not readable by uid"
assert_fails setpriv --reuid "$U" --regid "$U" --init-groups "$MESHFS_BIN" --mount "$MNT" \
	contract export air/main my_table "$MESH_TMP/by-alice.yaml"
assert_contains "$ERR" "not writable by uid"
home=$(getent passwd "$U" | cut -d: -f6)
setpriv --reuid "$U" --regid "$U" --init-groups "$MESHFS_BIN" --mount "$MNT" \
	contract export air/main my_table "$home/mine.yaml" >/dev/null || fail "export as $U"
assert_eq "$U" "$(stat -c %U "$home/mine.yaml")" "owner of the exported file"
# A check shows values: a restricted dataset the caller may not read refuses it.
run setpriv --reuid "$U" --regid "$U" --init-groups "$MESHFS_BIN" --mount "$MNT" contract check air/main
assert_eq 1 "$RC" "alice's check of the bad data"
assert_contains "$ERR" "rule validValues"
mesh_cli domain restrict air 'air/**' --group "$G" >/dev/null
assert_fails setpriv --reuid "$U" --regid "$U" --init-groups "$MESHFS_BIN" --mount "$MNT" \
	contract check air/main
assert_contains "$ERR" "air/2024.csv"
assert_not_contains "$ERR" "awful"
# --- each rule through a real commit, and a merge into a protected main
mesh_cli domain create shop >/dev/null
S=$MNT/shop
mesh_cli branch create shop/feat >/dev/null      # before the contract: feat has none
cat >"$MESH_TMP/orders.yaml" <<'EOF'
apiVersion: v3.0.2
kind: DataContract
name: orders
servers:
  - server: lake
    type: local
    path: data/*.csv
    format: csv
schema:
  - name: orders
    properties:
      - name: id
        logicalType: integer
        primaryKey: true
      - name: status
        required: true
        quality:
          - metric: invalidValues
            mustBe: 0
            arguments:
              validValues: [open, shipped]
customProperties:
  - property: meshfs.maxFileSize
    value: 200
EOF
mesh_cli contract import "$MESH_TMP/orders.yaml" shop/main >/dev/null
mkdir "$S/main/data"
printf 'id,status\n1,open\n2,shipped\n' >"$S/main/data/good.csv"
mesh_commit shop/main "orders contract and good data" >/dev/null
head_before=$(mesh_cli log shop/main --json | mesh_json 'd["commits"][0]["id"]')
refused() {   # refused FILE CONTENT WORDS...: a commit adding FILE is refused naming WORDS
	local file=$1 content=$2 w
	shift 2
	printf '%s' "$content" >"$S/main/data/$file"
	run "$MESHFS_BIN" --mount "$MNT" commit shop/main -m "$file"
	[[ $RC -eq 1 ]] || fail "a commit of $file exited $RC: $OUT"
	for w in "$@"; do assert_contains "$ERR" "$w" "refusal of $file"; done
	assert_eq "$head_before" "$(mesh_cli log shop/main --json | mesh_json 'd["commits"][0]["id"]')" \
		"shop/main's head after the refusal of $file"
	rm "$S/main/data/$file"
}
refused missing.csv $'id\n3\n' "data/missing.csv column 'status' rule required" "the column is missing"
refused nulls.csv $'id,status\n3,open\n4,\n' "data/nulls.csv column 'status' rule required" "a null: value '(null)' (row 2)"
refused dup.csv $'id,status\n3,open\n4,open\n3,shipped\n' "data/dup.csv column 'id' rule primaryKey" \
	"a duplicate" "value '3' (row 3)"
refused valid.csv $'id,status\n3,open\n4,lost\n' "data/valid.csv column 'status' rule validValues" "value 'lost' (row 2)"
refused big.csv "$(printf 'id,status\n'; seq 10 80 | sed 's/$/,open/')" \
	"data/big.csv" "maxFileSize" "larger than maxFileSize 200 bytes"
assert_eq 0 "$(mesh_cli status shop/main --json | mesh_json 'len(d["changes"])')" \
	"staged in shop/main after the refusals"
# Bad data on feat (no contract there), then main protected: the merge is
# judged by main's contract and refused; main's head stays.
mkdir -p "$S/feat/data"
printf 'id,status\n1,open\n1,lost\n' >"$S/feat/data/bad.csv"
mesh_commit shop/feat "bad data, no contract here" >/dev/null
mesh_cli branch protect shop/main >/dev/null
run "$MESHFS_BIN" --mount "$MNT" merge shop/feat --into main
[[ $RC -eq 1 ]] || fail "a merge of bad data into the protected main exited $RC: $OUT"
assert_contains "$ERR" "data/bad.csv column 'id' rule primaryKey" "refused merge"
assert_contains "$ERR" "data/bad.csv column 'status' rule validValues" "refused merge"
assert_eq "$head_before" "$(mesh_cli log shop/main --json | mesh_json 'd["commits"][0]["id"]')" \
	"the protected main's head after the refused merge"
printf 'id,status\n5,open\n6,shipped\n' >"$S/feat/data/bad.csv"
mesh_commit shop/feat "fixed" >/dev/null
mesh_cli merge shop/feat --into main >/dev/null
[[ $head_before != "$(mesh_cli log shop/main --json | mesh_json 'd["commits"][0]["id"]')" ]] ||
	fail "the protected main did not move with a good merge"
note "contract: import/export round trip, check of CSV and JSON lines, refusals"
