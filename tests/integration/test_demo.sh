#!/usr/bin/env bash
# tools/demo.sh (what `bootstrap.sh demo` runs) against a temp store and
# mount: the domains, files and commits it reports are really there; a
# second run replaces the first cleanly.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
export MESHFS_DEMO_DIR=$MESH_TMP/demo
DSTORE=$MESHFS_DEMO_DIR/store
MNT=$MESHFS_DEMO_DIR/mnt   # the cleanup trap unmounts it whatever happens
DEMO=$MESH_SOURCE_DIR/tools/demo.sh

check_demo() {
	local out=$1
	mountpoint -q "$MNT" || fail "the demo did not leave $MNT mounted"
	assert_eq "$(printf 'marketing\nsales')" "$(ls "$MNT")" "domains in the demo mount"
	for f in sales/main/orders/2026/11/orders.csv sales/main/customers/customers.csv \
		marketing/main/campaigns/campaigns.csv marketing/main/leads/2026/leads.csv; do
		[[ -s $MNT/$f ]] || fail "demo file $f missing or empty"
		assert_contains "$out" "$MNT/$f" "the demo's find output"
	done
	assert_eq "order_id,customer_id,order_date,amount_eur" \
		"$(head -n 1 "$MNT/sales/main/orders/2026/11/orders.csv")" "header of the orders CSV"
	assert_contains "$out" "order_id,customer_id,order_date,amount_eur" "the demo's head output"
	assert_contains "$out" "umount $MNT" "the demo's unmount hint"
	# Everything is committed: nothing staged, history readable.
	local domain log
	for domain in sales marketing; do
		assert_eq "[]" "$(mesh_ctl_ok "status $domain/main" | mesh_json 'd["changes"]')" "staged changes of $domain/main"
		log=$(mesh_ctl_ok "log $domain/main")
		(($(mesh_json 'len(d["commits"])' <<<"$log") >= 2)) || fail "$domain/main has no commit beyond the initial one"
		assert_contains "$out" "$(mesh_json 'd["commits"][0]["message"]' <<<"$log")" "the demo's log output"
		diff -r "$MNT/$domain/main" "$MNT/$domain/$(mesh_json 'd["commits"][0]["id"]' <<<"$log")" >&2 ||
			fail "$domain/main differs from its head commit"
	done
	(($(wc -l <"$MNT/sales/main/orders/2026/11/orders.csv") > $(wc -l <"$MNT/sales/main~1/orders/2026/11/orders.csv"))) ||
		fail "sales/main~1 does not show the older orders"
}

note "first run"
run env MESHFS_BIN="$MESHFS_BIN" bash "$DEMO"
[[ $RC -eq 0 ]] || fail "demo.sh exited $RC: $OUT $ERR"
check_demo "$OUT"

note "second run over the mounted first one"
run env MESHFS_BIN="$MESHFS_BIN" bash "$DEMO"
[[ $RC -eq 0 ]] || fail "demo.sh (second run) exited $RC: $OUT $ERR"
check_demo "$OUT"
assert_eq 1 "$(awk -v m="$MNT" '$2 == m' /proc/self/mounts | wc -l)" "mounts at $MNT after two runs"

note "unmount as the demo says; the store closes and keeps its domains"
mesh_cli umount "$MNT" >/dev/null
_mesh_in_mounts "$MNT" && fail "$MNT still mounted after meshfs umount"
list=$(mesh_cli domain list --store "$DSTORE")
assert_contains "$list" "$(printf 'sales\tOrders and customers of the sales team')" "domain list of the demo store"
assert_contains "$list" "$(printf 'marketing\tCampaigns and leads of the marketing team')" "domain list of the demo store"
exit 0
