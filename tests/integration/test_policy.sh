#!/usr/bin/env bash
# Standard fields through a mount and the CLI: the administrator requires
# card fields and classifications; another user may not; a commit to the
# default branch that breaks them is refused (exit 1, the message naming
# the policy, file and field, the head unchanged), one to another branch
# is not; a merge into main passes once the branch meets them.
source "$(dirname "$0")/lib.sh"

USER1=pol_user
mesh_setup
chmod 755 "$MESH_TMP"
userdel "$USER1" 2>/dev/null || true
useradd -M -N -g users "$USER1"
mesh_on_exit "userdel $USER1"
as_user() { (cd / && setpriv --reuid "$USER1" --regid users --init-groups "$@"); }
cli() { "$MESHFS_BIN" --mount "$MNT" "$@"; }
head_of() { mesh_json 'd["commits"][0]["id"]' <<<"$(mesh_ctl_ok "log $1 -n 1")"; }

mesh_mount -o allow_other
mesh_ctl_ok "domain create sales" >/dev/null
mkdir -p "$MNT/sales/main/.mesh/contracts"
printf 'id: urn:sales\nname: Sales\nowner: alice\nstatus: active\n' \
	>"$MNT/sales/main/.mesh/product.yaml"
cat >"$MNT/sales/main/.mesh/contracts/orders.yaml" <<'EOF'
apiVersion: v3.0.2
kind: DataContract
name: orders
servers:
  - server: lake
    path: data/orders*.csv
    format: csv
schema:
  - name: orders
    properties:
      - name: id
        logicalType: integer
        classification: public
      - name: email
        logicalType: string
EOF
mesh_commit sales/main "card and contract" >/dev/null
cli branch create sales/feat >/dev/null

note "policy require/unrequire/show: the administrator only, unknown fields refused"
assert_eq '[[], false]' \
	"$(cli policy show --json | mesh_json '[d["policies"]["require-card-fields"], d["policies"]["require-classification"]]')" \
	"policies at first"
cli policy require card-field owner,description,team >/dev/null
cli policy unrequire card-field team >/dev/null
cli policy require classification >/dev/null
assert_eq '[["description", "owner"], true]' \
	"$(cli policy show --json | mesh_json '[d["policies"]["require-card-fields"], d["policies"]["require-classification"]]')" \
	"policies after require"
run as_user "$MESHFS_BIN" --mount "$MNT" policy unrequire classification
[[ $RC -eq 1 ]] || fail "policy unrequire by $USER1 exited $RC"
assert_contains "$ERR" "only the store's administrator may set policies" "refusal of $USER1"
run cli policy require card-field owner,colour
[[ $RC -eq 1 ]] || fail "an unknown card field exited $RC"
assert_contains "$ERR" "'colour' is not a card field (fields: id, name, version" "unknown field"
assert_eq true "$(as_user "$MESHFS_BIN" --mount "$MNT" policy show --json | mesh_json 'd["policies"]["require-classification"]')" \
	"policy show by $USER1 (nothing changed)"
assert_contains "$(mesh_cli --mount "$MNT" audit --json | mesh_json '" ".join(r["result"] for r in d["records"] if "policy" in r["op"])')" \
	"EACCES" "audit records of the policy commands"

assert_eq "$(printf 'protect-main-by-default\tfalse\ngovernance-group\tnone\nrequire-card-fields\tdescription,owner\nrequire-classification\ttrue')" \
	"$(cli policy show)" "policy show for people"

note "main is held to the policies, feat is not"
H=$(head_of sales/main)
echo x >"$MNT/sales/main/x.txt"
run cli commit sales/main -m "x"
[[ $RC -eq 1 ]] || fail "a commit to main without a description exited $RC"
assert_eq "meshfs: policy require card-field description: sales/main/.mesh/product.yaml has no description" \
	"$ERR" "refusal of the commit to main"
assert_eq "$H" "$(head_of sales/main)" "main's head after the refusal"
rm "$MNT/sales/main/x.txt"
echo y >"$MNT/sales/feat/y.txt"
cli commit sales/feat -m "y" >/dev/null

note "a merge into main passes once the branch meets the policies"
printf 'id: urn:sales\nname: Sales\nowner: alice\nstatus: active\ndescription: orders\n' \
	>"$MNT/sales/feat/.mesh/product.yaml"
cli commit sales/feat -m "description" >/dev/null
run cli merge sales/feat --into main
[[ $RC -eq 1 ]] || fail "a merge with an unclassified property exited $RC"
assert_contains "$ERR" "policy require classification: sales/main/.mesh/contracts/orders.yaml: property 'email' has no classification" \
	"refusal of the merge"
assert_eq "$H" "$(head_of sales/main)" "main's head after the refused merge"
sed -i 's/logicalType: string/logicalType: string\n        classification: restricted/' \
	"$MNT/sales/feat/.mesh/contracts/orders.yaml"
cli commit sales/feat -m "classified" >/dev/null
cli merge sales/feat --into main >/dev/null
[[ $H != "$(head_of sales/main)" ]] || fail "main did not move with the merge"
cli policy unrequire card-field owner,description >/dev/null
cli policy unrequire classification >/dev/null
echo "test_policy: OK"
