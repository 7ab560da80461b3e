#!/usr/bin/env bash
# The governance group beside the administrator, with real users through a
# mount: only the administrator names the group (an unknown one refused);
# a member requires a card field, and the policy then holds main; a
# non-member is refused (EACCES naming the rule, through the CLI and the
# control file), and so is the member once gpasswd -d takes them out; the
# administrator moves the group elsewhere.
source "$(dirname "$0")/lib.sh"

MEMBER=gov_member
OTHER=gov_other
TEAM=gov_team
TEAM2=gov_team2
mesh_setup
chmod 755 "$MESH_TMP"
for u in "$MEMBER" "$OTHER"; do userdel "$u" 2>/dev/null || true; done
for g in "$TEAM" "$TEAM2"; do groupdel "$g" 2>/dev/null || true; done
groupadd "$TEAM"
groupadd "$TEAM2"
useradd -M -N -g users -G "$TEAM" "$MEMBER"
useradd -M -N -g users "$OTHER"
mesh_on_exit "userdel $MEMBER; userdel $OTHER; groupdel $TEAM; groupdel $TEAM2"
as() { local u=$1; shift; (cd / && setpriv --reuid "$u" --regid users --init-groups "$@"); }
cli() { "$MESHFS_BIN" --mount "$MNT" "$@"; }
fields() { cli policy show --json | mesh_json 'd["policies"]["require-card-fields"]'; }
group() { cli policy show --json | mesh_json 'd["policies"]["governance-group"]'; }

mesh_mount -o allow_other
mesh_ctl_ok "domain create sales" >/dev/null
mkdir -p "$MNT/sales/main/.mesh"
printf 'id: urn:sales\nname: Sales\nowner: alice\nstatus: active\n' \
	>"$MNT/sales/main/.mesh/product.yaml"
mesh_commit sales/main "card" >/dev/null

note "only the administrator names the governance group; an unknown group is refused"
assert_eq none "$(group)" "the governance group at first"
run as "$MEMBER" "$MESHFS_BIN" --mount "$MNT" policy set governance-group "$TEAM"
[[ $RC -eq 1 ]] || fail "policy set governance-group by $MEMBER exited $RC"
assert_contains "$ERR" "only the store's administrator may set the governance group" "refusal of $MEMBER"
run cli policy set governance-group no_such_group_x
[[ $RC -eq 1 ]] || fail "an unknown group exited $RC"
assert_contains "$ERR" "policy set governance-group: unknown group 'no_such_group_x'" "unknown group"
assert_eq none "$(group)" "the governance group after the refusals"
run as "$MEMBER" "$MESHFS_BIN" --mount "$MNT" policy require card-field description
[[ $RC -eq 1 ]] || fail "policy require by $MEMBER before the group was set exited $RC"
assert_contains "$ERR" "only the store's administrator may set policies" "refusal before the group"
cli policy set governance-group "$TEAM" >/dev/null
assert_eq "$TEAM" "$(group)" "the governance group"
assert_contains "$(cli policy show)" "$(printf 'governance-group\t%s' "$TEAM")" "policy show for people"

note "a member requires a card field, and main is held to it"
as "$MEMBER" "$MESHFS_BIN" --mount "$MNT" policy require card-field description,team >/dev/null
as "$MEMBER" "$MESHFS_BIN" --mount "$MNT" policy unrequire card-field team >/dev/null
assert_eq '["description"]' "$(fields)" "card fields the member required"
echo x >"$MNT/sales/main/x.txt"
run cli commit sales/main -m x
[[ $RC -eq 1 ]] || fail "a commit without a description exited $RC"
assert_contains "$ERR" "policy require card-field description: sales/main/.mesh/product.yaml has no description" \
	"the member's policy holds main"
rm "$MNT/sales/main/x.txt"

note "a non-member is refused, naming the rule, through the CLI and the control file"
run as "$OTHER" "$MESHFS_BIN" --mount "$MNT" policy unrequire card-field description
[[ $RC -eq 1 ]] || fail "policy unrequire by $OTHER exited $RC"
assert_contains "$ERR" "only the store's administrator and the governance group ($TEAM) may set policies" \
	"refusal of $OTHER"
run as "$OTHER" "$PY" -c "$_MESH_CTL_PY" "$MNT/.control" "policy require classification" nl
[[ $RC -eq 1 ]] || fail "policy require through the control file by $OTHER exited $RC"
assert_eq EACCES "$ERR" "errno of the control file's write for $OTHER"
assert_contains "$OUT" "governance group ($TEAM)" "the control file's answer to $OTHER"
assert_eq false "$(cli policy show --json | mesh_json 'd["policies"]["require-classification"]')" \
	"nothing changed by $OTHER"
run as "$MEMBER" "$MESHFS_BIN" --mount "$MNT" policy set governance-group none
[[ $RC -eq 1 ]] || fail "a member setting the governance group exited $RC"

note "gpasswd -d takes the member out: their next command is refused"
gpasswd -d "$MEMBER" "$TEAM" >/dev/null
run as "$MEMBER" "$MESHFS_BIN" --mount "$MNT" policy unrequire card-field description
[[ $RC -eq 1 ]] || fail "policy unrequire by a removed member exited $RC"
assert_contains "$ERR" "only the store's administrator and the governance group ($TEAM) may set policies" \
	"refusal of the removed member"
assert_eq '["description"]' "$(fields)" "card fields after the removed member's try"

note "the administrator moves the group; its new members set policies"
usermod -a -G "$TEAM2" "$OTHER"
cli policy set governance-group "$TEAM2" >/dev/null
assert_eq "$TEAM2" "$(group)" "the new governance group"
as "$OTHER" "$MESHFS_BIN" --mount "$MNT" policy unrequire card-field description >/dev/null
assert_eq '[]' "$(fields)" "card fields after the new member's unrequire"
assert_contains "$(mesh_cli --mount "$MNT" audit --json | mesh_json '" ".join(r["result"] for r in d["records"] if "policy" in r["op"])')" \
	"EACCES" "audit records of the refused policy commands"
echo "test_governance: OK"
