#!/usr/bin/env bash
# Product cards and lineage through a mount: a card committed at
# DOMAIN/main/.mesh/product.yaml shows as DOMAIN/.product.json and in
# `product show`; a commit or a merge that leaves the card invalid is
# refused with the file, line and field, the head unchanged; cp across
# domains a -> b -> c is followed back two hops by `lineage`, and the
# consumers and readers show in `product show`; an outsider sees neither
# a restricted domain's card nor its place in a lineage.
source "$(dirname "$0")/lib.sh"

OUTSIDER=prod_outsider
mesh_setup
chmod 755 "$MESH_TMP"
userdel "$OUTSIDER" 2>/dev/null || true
useradd -M -N -g users "$OUTSIDER"
mesh_on_exit "userdel $OUTSIDER"
as_out() { (cd / && setpriv --reuid "$OUTSIDER" --regid users --init-groups "$@"); }
cli() { "$MESHFS_BIN" --mount "$MNT" "$@"; }
head_of() { mesh_json 'd["commits"][0]["id"]' <<<"$(mesh_ctl_ok "log $1 -n 1")"; }

mesh_mount -o allow_other
for d in a b c; do mesh_ctl_ok "domain create $d" >/dev/null; done

note "a card in a branch shows as DOMAIN/.product.json and in product show"
mkdir -p "$MNT/a/main/.mesh" "$MNT/a/main/data"
printf 'id,amount\n1,10\n2,20\n' >"$MNT/a/main/data/orders.csv"
cat >"$MNT/a/main/.mesh/product.yaml" <<'EOF'
# the orders product
id: urn:mesh:a:orders
name: Orders
version: "1.2"
status: active
description: every order, one row each
owner: alice
team: sales-eng
contacts:
  - name: Alice
    email: alice@example.com
tags: [orders, sales]
output_ports:
  - name: daily
    path: data
    contract: contracts/orders.yaml
input_ports:
  - product: b
    path: raw
custom:
  cost_center: "4711"
EOF
A1=$(mesh_commit a/main "the orders card")
[[ -f $MNT/a/.product.json ]] || fail "no a/.product.json after the card's commit"
CARD=$(cat "$MNT/a/.product.json")
assert_eq '["urn:mesh:a:orders", "Orders", "1.2", "active", "alice", "main"]' \
	"$(mesh_json '[d["id"], d["name"], d["version"], d["status"], d["owner"], d["branch"]]' <<<"$CARD")" \
	"fields of a/.product.json"
assert_eq "$A1" "$(mesh_json 'd["commit"]' <<<"$CARD")" "commit of a/.product.json"
assert_eq '[["orders", "sales"], "data", "contracts/orders.yaml", "b", {"cost_center": "4711"}]' \
	"$(mesh_json '[d["tags"], d["output_ports"][0]["path"], d["output_ports"][0]["contract"], d["input_ports"][0]["product"], d["custom"]]' <<<"$CARD")" \
	"lists and maps of a/.product.json"
assert_eq "$(stat -c %s "$MNT/a/.product.json")" "$(wc -c <"$MNT/a/.product.json")" \
	"size of .product.json as stat says it"
assert_contains "$(ls -a "$MNT/a")" ".product.json" "listing of a"
assert_not_contains "$(ls -a "$MNT/b")" ".product.json" "listing of b (no card)"
if cat "$MNT/b/.product.json" 2>/dev/null; then fail "b/.product.json exists without a card"; fi
if (echo x >"$MNT/a/.product.json") 2>/dev/null; then fail "wrote into a/.product.json"; fi
if rm -f "$MNT/a/.product.json" 2>/dev/null && [[ ! -e $MNT/a/.product.json ]]; then
	fail "removed a/.product.json"
fi
SHOW=$(cli product show a --json)
assert_eq '["Orders", "main", "sales-eng"]' \
	"$(mesh_json '[d["card"]["name"], d["ref"], d["card"]["team"]]' <<<"$SHOW")" "product show a --json"
TEXT=$(cli product show a)
assert_contains "$TEXT" "product Orders (urn:mesh:a:orders)" "product show a"
assert_contains "$TEXT" "status       active" "product show a"
run cli product show b
[[ $RC -eq 1 ]] || fail "product show b without a card exited $RC"
assert_contains "$ERR" "b has no product card at main" "product show b"

note "a card the gate refuses: file, line, field; the head stays"
H=$(head_of a/main)
try_card() {  # try_card EXPECTED-MESSAGE < CARD
	cat >"$MNT/a/main/.mesh/product.yaml"
	run cli commit a/main -m "bad card"
	[[ $RC -eq 1 ]] || fail "commit of a bad card exited $RC: $OUT"
	assert_contains "$ERR" "$1" "refusal of the bad card"
	assert_eq "$H" "$(head_of a/main)" "head of a/main after a refused commit"
}
printf 'id: x\nname: y\nowner: o\nstatus: shipped\n' |
	try_card "a/main/.mesh/product.yaml line 4: field status: 'shipped' is not a status"
printf 'id: x\nname: y\nowner: o\nstatus: active\ntags: orders\n' |
	try_card "a/main/.mesh/product.yaml line 5: field tags: expected a list of strings"
printf 'id: x\nname: y\nstatus: active\n' |
	try_card "a/main/.mesh/product.yaml line 1: field owner: required field missing"
printf 'id: x\nname: y\nowner: o\nstatus: active\ncolour: red\n' |
	try_card "a/main/.mesh/product.yaml line 5: field colour: unknown field"
printf 'id: x\nname: y\nowner: o\nstatus: active\noutput_ports:\n  - path: nowhere\n' |
	try_card "a/main/.mesh/product.yaml line 6: field output_ports[0].path: 'nowhere' does not exist"
printf 'id: [x\nname: y\n' |
	try_card "a/main/.mesh/product.yaml line "
printf 'id: x\nowner: o\nname: [1]\nstatus: active\n' >"$MNT/a/main/.mesh/product.yaml"
mesh_ctl_fails EINVAL "commit a/main -m bad"
assert_contains "$(mesh_json 'd["message"]' <<<"$OUT")" \
	"product.yaml line 3: field name: expected a string, found a list" "the control file's refusal"
cli reset a/main >/dev/null
assert_eq "$CARD" "$(cat "$MNT/a/.product.json")" ".product.json after refused commits"

note "a merge that leaves the card invalid is refused"
cli branch create a/feat >/dev/null
sed -i 's/^    path: data$/    path: data\/orders.csv/' "$MNT/a/feat/.mesh/product.yaml"
mesh_commit a/feat "port on data/orders.csv" >/dev/null
rm "$MNT/a/main/data/orders.csv"
printf 'id\n' >"$MNT/a/main/data/other.csv"
A2=$(mesh_commit a/main "orders.csv goes")
run cli merge a/feat --into main
[[ $RC -eq 1 ]] || fail "a merge leaving an output port without its path exited $RC: $OUT"
assert_contains "$ERR" "a/main/.mesh/product.yaml line 15: field output_ports[0].path: 'data/orders.csv' does not exist" \
	"refusal of the merge"
assert_eq "$A2" "$(head_of a/main)" "head of a/main after the refused merge"
printf 'id,amount\n1,10\n2,20\n' >"$MNT/a/main/data/orders.csv"
A3=$(mesh_commit a/main "orders.csv is back")
assert_eq "$A3" "$(mesh_json 'd["commit"]' <"$MNT/a/.product.json")" \
	"a/.product.json follows the default branch's head"

note "lineage: a -> b -> c, two hops, down to a's commit"
mkdir "$MNT/b/main/raw"
cli cp a/main/data/orders.csv b/main/raw/orders.csv >/dev/null
B1=$(mesh_commit b/main "orders from a")
cli cp b/main/raw c/main/in >/dev/null
C1=$(mesh_commit c/main "raw from b")
LIN=$(cli lineage c/main/in/orders.csv --json)
assert_eq 2 "$(mesh_json 'd["hops"]' <<<"$LIN")" "hops of c/main/in/orders.csv"
assert_eq "[[\"c\", \"in/orders.csv\", \"$C1\"], [\"b\", \"raw/orders.csv\", \"$B1\"], [\"a\", \"data/orders.csv\", \"$A3\"]]" \
	"$(mesh_json '[[n["domain"], n["path"], n.get("copied_in_by", n["commit"])] for n in d["chain"]]' <<<"$LIN")" \
	"chain of c/main/in/orders.csv"
assert_eq "[\"$B1\", \"$A3\", true]" \
	"$(mesh_json '[d["chain"][1]["commit"], d["chain"][2]["commit"], d["chain"][2]["origin"]]' <<<"$LIN")" \
	"source commits of the chain"
assert_eq "c b a Orders" "$(PYTHONPATH=$MESH_SOURCE_DIR/tools/python "$PY" -c '
import sys, meshfs
m = meshfs.Mesh(sys.argv[1])
print(" ".join(n["domain"] for n in m.lineage("c/main/in/orders.csv")), m.product("a")["card"]["name"])' "$MNT")" \
	"the Python client's lineage and product"
TEXT=$(cli lineage c/main/in/orders.csv)
assert_contains "$TEXT" "<- a/main/data/orders.csv @ ${A3:0:12} (origin)" "lineage as text"
# Later commits keep it; a local rewrite is flagged.
printf 'x\n' >"$MNT/c/main/note.txt"
mesh_commit c/main "a note" >/dev/null
assert_eq 2 "$(cli lineage c/main/in/orders.csv --json | mesh_json 'd["hops"]')" "hops after another commit"
assert_eq 0 "$(cli lineage c/main/note.txt --json | mesh_json 'd["hops"]')" "hops of a file made in c"
printf 'changed\n' >"$MNT/c/main/in/orders.csv"
mesh_commit c/main "rewrite" >/dev/null
assert_eq true "$(cli lineage c/main/in/orders.csv --json | mesh_json 'd["chain"][0]["modified_since"]')" \
	"modified_since after a rewrite"
# A copy reset before its commit leaves no lineage.
cli cp a/main/data/other.csv b/main/other.csv >/dev/null
cli reset b/main >/dev/null
printf 'mine\n' >"$MNT/b/main/other.csv"
mesh_commit b/main "own other.csv" >/dev/null
assert_eq 0 "$(cli lineage b/main/other.csv --json | mesh_json 'd["hops"]')" "hops of a reset copy"

note "consumers and readers in product show"
as_out cat "$MNT/a/main/data/orders.csv" >/dev/null
SHOW=$(cli product show a --json)
assert_eq '["b"]' "$(mesh_json '[c["domain"] for c in d["consumers"]]' <<<"$SHOW")" "consumers of a"
assert_contains "$(mesh_json '[r["user"] for r in d["readers"]]' <<<"$SHOW")" "$OUTSIDER" "readers of a"
mkdir -p "$MNT/b/main/.mesh"
printf 'id: urn:mesh:b\nname: B\nowner: bob\nstatus: development\n' >"$MNT/b/main/.mesh/product.yaml"
mesh_commit b/main "card of b" >/dev/null
assert_eq '["c"]' "$(cli product show b --json | mesh_json '[c["domain"] for c in d["consumers"]]')" \
	"consumers of b"
assert_contains "$(cli product show a)" "consumers    b" "product show a as text"

note "a restricted domain's card and lineage are hidden from outsiders"
mesh_ctl_ok "domain create r --visibility restricted" >/dev/null
mkdir -p "$MNT/r/main/.mesh"
printf 'id: urn:mesh:r\nname: Secret\nowner: root\nstatus: proposed\n' >"$MNT/r/main/.mesh/product.yaml"
printf 's\n' >"$MNT/r/main/s.csv"
mesh_commit r/main "secret card" >/dev/null
cli cp r/main/s.csv c/main/s.csv >/dev/null
mesh_commit c/main "from r" >/dev/null
[[ -f $MNT/r/.product.json ]] || fail "root does not see r/.product.json"
if as_out cat "$MNT/r/.product.json" 2>/dev/null; then fail "$OUTSIDER read r/.product.json"; fi
run as_out "$MESHFS_BIN" --mount "$MNT" product show r
[[ $RC -eq 1 ]] || fail "$OUTSIDER ran product show r"
assert_contains "$ERR" "domain r does not exist" "product show r by $OUTSIDER"
OUTLIN=$(as_out "$MESHFS_BIN" --mount "$MNT" lineage c/main/s.csv --json)
assert_eq '[1, true]' "$(mesh_json '[d["hops"], d["chain"][1]["hidden"]]' <<<"$OUTLIN")" \
	"lineage from r by $OUTSIDER"
assert_not_contains "$OUTLIN" '"r"' "lineage from r by $OUTSIDER"
assert_eq '[["c"], 0]' "$(cli product show r --json | mesh_json '[[c["domain"] for c in d["consumers"]], d["hidden_consumers"]]')" \
	"consumers of r"
echo "test_product: OK"
