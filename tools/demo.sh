#!/usr/bin/env bash
# demo.sh - a small data mesh to look at: domains sales and marketing with
# committed CSV data, mounted and left mounted.
#
# Environment:
#   MESHFS_BIN        the meshfs program (default: build/meshfs)
#   MESHFS_DEMO_DIR   where store and mount go (default: /tmp/meshfs-demo)
#   MESHFS_DEMO_STORE the store (default: $MESHFS_DEMO_DIR/store); recreated on every run
#   MESHFS_DEMO_MNT   the mount point (default: $MESHFS_DEMO_DIR/mnt)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MESHFS=${MESHFS_BIN:-$ROOT/build/meshfs}
DEMO_DIR=${MESHFS_DEMO_DIR:-/tmp/meshfs-demo}
STORE=${MESHFS_DEMO_STORE:-$DEMO_DIR/store}
MNT=${MESHFS_DEMO_MNT:-$DEMO_DIR/mnt}

say() {
	printf '\n==> %s\n' "$*"
}

die() {
	echo "demo: $*" >&2
	exit 1
}

is_mounted() {
	awk -v m="$1" '$2 == m { found = 1 } END { exit !found }' /proc/self/mounts
}

# A previous run may have left its mount (live or dead) behind.
unmount_previous() {
	if is_mounted "$MNT"; then
		say "unmounting the previous demo at $MNT"
		"$MESHFS" umount "$MNT" 2>/dev/null ||
			fusermount3 -u "$MNT" 2>/dev/null ||
			fusermount3 -uz "$MNT" ||
			die "cannot unmount $MNT"
	fi
}

# The demo store is rebuilt on every run, but only a directory that looks
# like a meshfs store (or is empty) is ever removed.
reset_store() {
	if [[ -e $STORE ]]; then
		if [[ -d $STORE/db || -z $(ls -A "$STORE") ]]; then
			rm -rf --one-file-system "$STORE"
		else
			die "$STORE exists and is not a meshfs store; set MESHFS_DEMO_STORE"
		fi
	fi
}

wait_for_mount() {
	local i
	for ((i = 0; i < 100; i++)); do
		if mountpoint -q "$MNT" && [[ -e $MNT/.control ]]; then
			return 0
		fi
		sleep 0.1
	done
	die "$MNT did not come up"
}

write_sales() {
	local base=$MNT/sales/main
	mkdir -p "$base/orders/2026/11" "$base/orders/2026/12" "$base/customers"
	cat >"$base/customers/customers.csv" <<'CSV'
customer_id,name,country,segment
C001,Acme GmbH,DE,enterprise
C002,Bolt Ltd,GB,smb
C003,Cobalt SA,FR,enterprise
C004,Delta Oy,FI,smb
CSV
	cat >"$base/orders/2026/11/orders.csv" <<'CSV'
order_id,customer_id,order_date,amount_eur
1001,C001,2026-11-02,1250.00
1002,C002,2026-11-03,89.90
1003,C003,2026-11-10,4300.50
1004,C001,2026-11-21,310.00
1005,C004,2026-11-28,57.25
CSV
	cat >"$base/orders/2026/12/orders.csv" <<'CSV'
order_id,customer_id,order_date,amount_eur
1006,C002,2026-12-01,149.00
1007,C003,2026-12-04,2210.75
CSV
}

write_marketing() {
	local base=$MNT/marketing/main
	mkdir -p "$base/campaigns" "$base/leads/2026"
	cat >"$base/campaigns/campaigns.csv" <<'CSV'
campaign_id,name,channel,start_date,budget_eur
K01,Winter launch,email,2026-11-01,5000
K02,Black Friday,social,2026-11-20,12000
K03,Partner webinar,events,2026-12-05,3000
CSV
	cat >"$base/leads/2026/leads.csv" <<'CSV'
lead_id,campaign_id,company,country,score
L100,K01,Acme GmbH,DE,82
L101,K02,Bolt Ltd,GB,47
L102,K02,Echo BV,NL,65
L103,K03,Cobalt SA,FR,91
CSV
}

main() {
	[[ -x $MESHFS ]] || die "meshfs not found at $MESHFS (build it first)"
	unmount_previous
	reset_store
	mkdir -p "$MNT"

	say "creating the store $STORE"
	"$MESHFS" init --store "$STORE"
	"$MESHFS" domain create sales --store "$STORE" \
		--description "Orders and customers of the sales team"
	"$MESHFS" domain create marketing --store "$STORE" \
		--description "Campaigns and leads of the marketing team"
	"$MESHFS" domain list --store "$STORE"

	say "mounting it at $MNT"
	"$MESHFS" mount "$MNT" --store "$STORE"
	wait_for_mount

	say "writing sample data and committing it"
	write_sales
	"$MESHFS" commit sales/main --mount "$MNT" \
		-m "Add November orders and customers" --meta source=demo
	cat >>"$MNT/sales/main/orders/2026/11/orders.csv" <<'CSV'
1008,C004,2026-11-30,420.00
CSV
	"$MESHFS" commit sales/main --mount "$MNT" -m "Add a late November order"
	write_marketing
	"$MESHFS" commit marketing/main --mount "$MNT" \
		-m "Add campaigns and 2026 leads" --meta source=demo

	say "find $MNT"
	find "$MNT" | sort
	say "meshfs log sales/main"
	"$MESHFS" log sales/main --mount "$MNT"
	say "meshfs log marketing/main"
	"$MESHFS" log marketing/main --mount "$MNT"
	say "head $MNT/sales/main/orders/2026/11/orders.csv"
	head -n 5 "$MNT/sales/main/orders/2026/11/orders.csv"
	say "the same file one commit earlier: $MNT/sales/main~1/orders/2026/11/orders.csv"
	tail -n 2 "$MNT/sales/main~1/orders/2026/11/orders.csv"

	say "done"
	cat <<MSG
The demo mesh stays mounted at $MNT (store: $STORE).
Try:   ls $MNT/sales/main
       $MESHFS status sales/main --mount $MNT
Unmount it with:
       $MESHFS umount $MNT
MSG
}

main "$@"
