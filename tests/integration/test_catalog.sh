#!/usr/bin/env bash
# The catalog through a mount, with real users: of two products worded
# alike, the one two users read (cat through the mount) ranks first; a
# contract's column name finds its product; a restricted product never
# shows to an outsider and does to a member of its readers group; a
# comment with a rating shows in product show and .product.json, and is
# removed by its author and the domain's owner but not by another user;
# a card changed on the default branch is found by the next search;
# meshfs serve's search box finds what the catalog finds for the user
# who started it, and no more; a head moved by the CLI on the store is
# seen by the next search there and through the next mount.
source "$(dirname "$0")/lib.sh"

USERS=(cat_reader1 cat_reader2 cat_outsider cat_member cat_owner)
GROUP=cat_hr
mesh_setup
chmod 755 "$MESH_TMP"
for u in "${USERS[@]}"; do userdel "$u" 2>/dev/null || true; done
groupdel "$GROUP" 2>/dev/null || true
groupadd "$GROUP"
mesh_on_exit "groupdel $GROUP"
for u in "${USERS[@]}"; do
	useradd -M -N -g users "$u"
	mesh_on_exit "userdel $u"
done
usermod -a -G "$GROUP" cat_member
as() { local who=$1; shift; (cd / && setpriv --reuid "$who" --regid users --init-groups "$@"); }
cli_as() { local who=$1; shift; as "$who" "$MESHFS_BIN" --mount "$MNT" "$@"; }
card() { # card DOMAIN NAME DESCRIPTION
	mkdir -p "$MNT/$1/main/.mesh"
	printf 'id: urn:mesh:%s\nname: %s\nstatus: active\nowner: cat_owner\ndescription: %s\ntags: [weather, daily]\n' \
		"$1" "$2" "$3" >"$MNT/$1/main/.mesh/product.yaml"
}
hits_of() { mesh_json '",".join(h["domain"] for h in d["hits"])'; }

mesh_mount -o allow_other
for d in wxa wxb ship; do mesh_ctl_ok "domain create $d" >/dev/null; done
mesh_ctl_ok "domain create hr --visibility restricted --readers $GROUP" >/dev/null
mesh_ctl_ok "domain set wxa owner cat_owner" >/dev/null

for d in wxa wxb; do
	card "$d" Forecast "rain and sun by the hour"
	mkdir -p "$MNT/$d/main/data"
	echo "hour,rain" >"$MNT/$d/main/data/f.csv"
	mesh_commit "$d/main" "card" >/dev/null
done
card ship Shipments "parcels that left"
mkdir -p "$MNT/ship/main/.mesh/contracts" "$MNT/ship/main/data"
cat >"$MNT/ship/main/.mesh/contracts/parcels.yaml" <<'EOF'
apiVersion: v3.0.2
kind: DataContract
name: parcels
servers:
  - server: lake
    type: local
    path: data/*.csv
    format: csv
schema:
  - name: parcels
    properties:
      - name: parcel_weight_grams
        logicalType: integer
slaProperties:
  - property: freshness
    value: 1
    unit: d
EOF
mesh_commit ship/main "contract" >/dev/null
printf 'parcel_weight_grams\n120\n' >"$MNT/ship/main/data/p.csv"
mesh_commit ship/main "parcels" >/dev/null
card hr Payroll "salaries by month"
mesh_commit hr/main "card" >/dev/null

note "worded alike: the product two users read ranks first"
ANS=$(cli_as cat_outsider catalog search forecast rain --json)
assert_eq "wxa,wxb" "$(hits_of <<<"$ANS")" "hits before anyone read"
for u in cat_reader1 cat_reader2; do
	as "$u" cat "$MNT/wxb/main/data/f.csv" >/dev/null || fail "$u cannot read wxb"
done
as cat_reader1 cat "$MNT/wxb/main/data/f.csv" >/dev/null
ANS=$(cli_as cat_outsider catalog search forecast rain --json)
assert_eq "wxb,wxa" "$(hits_of <<<"$ANS")" "hits once wxb has two readers"
assert_eq '[2, 3]' "$(mesh_json '[d["hits"][0]["readers"], d["hits"][0]["read_opens"]]' <<<"$ANS")" \
	"readers and opens of wxb"
TEXT=$(cli_as cat_outsider catalog search forecast)
assert_contains "$TEXT" "2 product(s) found" "catalog search for people"
assert_contains "$TEXT" "wxb: Forecast (urn:mesh:wxb)" "catalog search for people"
assert_contains "$TEXT" "readers      2 (3 opens in 30 days)" "catalog search for people"

note "a contract's column name finds its product, with its contract and freshness"
ANS=$(cli_as cat_outsider catalog search parcel_weight_grams --json)
assert_eq "ship" "$(hits_of <<<"$ANS")" "hits of a contract's column"
assert_eq '["held", 1, "fresh", 86400]' \
	"$(mesh_json '[d["hits"][0][k] for k in ("contract_status", "contracts", "freshness", "freshness_seconds")]' <<<"$ANS")" \
	"contract and freshness of ship"

note "a restricted product: never to an outsider, to a member of its readers group"
ANS=$(cli_as cat_outsider catalog search payroll --json)
assert_eq '[0, []]' "$(mesh_json '[d["total"], d["hits"]]' <<<"$ANS")" "outsider's search for payroll"
ANS=$(cli_as cat_outsider catalog search daily --json)
assert_eq 3 "$(mesh_json 'd["total"]' <<<"$ANS")" "outsider's count of daily products"
assert_not_contains "$ANS" '"hr"' "outsider's search for daily"
ANS=$(cli_as cat_member catalog search payroll --json)
assert_eq "hr" "$(hits_of <<<"$ANS")" "member's search for payroll"
ANS=$(cli_as cat_member catalog search daily --json)
assert_eq 4 "$(mesh_json 'd["total"]' <<<"$ANS")" "member's count of daily products"
run cli_as cat_outsider catalog comment hr "let me in"
assert_eq 1 "$RC" "outsider comments on hr"
assert_contains "$ERR" "domain hr does not exist" "outsider comments on hr"

note "a comment with a rating shows on the card; removed by its author and the owner only"
ANS=$(cli_as cat_reader1 catalog comment wxa "hourly, and on time" --rating 4 --json)
ID1=$(mesh_json 'd["id"]' <<<"$ANS")
ANS=$(cli_as cat_reader2 catalog comment wxa --rating 2 --json)
ID2=$(mesh_json 'd["id"]' <<<"$ANS")
SHOW=$(cli_as cat_outsider product show wxa --json)
assert_eq '[["cat_reader1", 4, "hourly, and on time"], ["cat_reader2", 2, ""]]' \
	"$(mesh_json '[[c["user"], c["rating"], c["text"]] for c in d["comments"]]' <<<"$SHOW")" \
	"comments of product show wxa"
assert_eq '{"count": 2, "average": 3}' "$(mesh_json 'd["rating"]' <<<"$SHOW")" "rating of wxa"
FILE=$(as cat_outsider cat "$MNT/wxa/.product.json")
assert_eq "hourly, and on time" "$(mesh_json 'd["comments"][0]["text"]' <<<"$FILE")" \
	"a comment in wxa/.product.json"
assert_contains "$(cli_as cat_outsider product show wxa)" "rating       3.0 of 5 (2 ratings)" \
	"product show wxa for people"
run cli_as cat_reader2 catalog uncomment wxa "$ID1"
assert_eq 1 "$RC" "another user removes a comment"
assert_contains "$ERR" "only the comment's author (cat_reader1), the owner of domain wxa (cat_owner)" \
	"another user removes a comment"
run cli_as cat_outsider catalog comment wxa "x" --rating 6
assert_eq 1 "$RC" "a rating of 6"
assert_contains "$ERR" "rating '6' is not a whole number from 1 to 5" "a rating of 6"
cli_as cat_reader1 catalog uncomment wxa "$ID1" >/dev/null || fail "the author cannot remove $ID1"
cli_as cat_owner catalog uncomment wxa "$ID2" >/dev/null || fail "the owner cannot remove $ID2"
SHOW=$(cli_as cat_outsider product show wxa --json)
assert_eq '[[], 0]' "$(mesh_json '[d["comments"], d["rating"]["count"]]' <<<"$SHOW")" \
	"comments of wxa once removed"
AUDIT=$("$MESHFS_BIN" --mount "$MNT" audit --domain wxa --op catalog)
assert_contains "$AUDIT" "catalog comment wxa hourly, and on time --rating 4" "audit of a comment"
assert_contains "$AUDIT" "EACCES" "audit of a refused uncomment"
assert_contains "$AUDIT" "catalog uncomment wxa $ID2" "audit of an uncomment"

note "the Python client: catalog_search and comment"
OUT=$(as cat_reader2 env PYTHONPATH="$MESH_SOURCE_DIR/tools/python" "$PY" -c '
import sys, meshfs
mesh = meshfs.Mesh(sys.argv[1])
hits = mesh.catalog_search("forecast", limit=1)
cid = mesh.comment("wxb", "from python", rating=5)
print(len(hits), hits[0]["domain"], cid, mesh.product("wxb")["rating"]["average"])
try:
    mesh.comment("wxb", rating=7)
except meshfs.MeshError as e:
    print(e.code)' "$MNT")
assert_eq "1 wxb 1 5
EINVAL" "$OUT" "the Python client"

note "a card changed on the default branch is found by the next search"
card wxa Forecast "hailstorms by the minute"
mesh_commit wxa/main "new description" >/dev/null
ANS=$(cli_as cat_outsider catalog search hailstorms --json)
assert_eq "wxa" "$(hits_of <<<"$ANS")" "search after the card changed"
ANS=$(cli_as cat_outsider catalog search rain sun --json)
assert_eq "wxb" "$(hits_of <<<"$ANS")" "the old words are gone from wxa"

note "meshfs serve's search box: the catalog, as the user who started the server sees it"
serve_as() { # serve_as USER: a server of the mount as USER; SERVE_PID, SERVE_URL
	local out=$MESH_TMP/serve.$1.out i
	# exec: the pid killed is the server's own.
	(cd / && exec setpriv --reuid "$1" --regid users --init-groups "$MESHFS_BIN" serve \
		--mount "$MNT" --listen 127.0.0.1:0 >"$out" 2>&1 </dev/null) &
	SERVE_PID=$!
	mesh_on_exit "kill $SERVE_PID 2>/dev/null || true"
	SERVE_URL=
	for ((i = 0; i < 100; i++)); do
		SERVE_URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*/?token=[0-9a-f]*' "$out" || true)
		[[ -z $SERVE_URL ]] || break
		sleep 0.1
	done
	[[ -n $SERVE_URL ]] || fail "meshfs serve as $1 printed no URL: $(cat "$out")"
}
serve_search() { # serve_search QUERY: the index page of that search
	"$PY" -c 'import sys, urllib.parse, urllib.request
print(urllib.request.urlopen(sys.argv[1] + "&q=" + urllib.parse.quote(sys.argv[2])).read().decode())' \
		"$SERVE_URL" "$1"
}
serve_as cat_outsider
PAGE=$(serve_search "payroll")
assert_not_contains "$PAGE" "domain?d=hr" "outsider's server, search for payroll"
assert_contains "$PAGE" "0 of 3 domains" "outsider's server, search for payroll"
PAGE=$(serve_search "parcel_weight")
assert_contains "$PAGE" "domain?d=ship" "outsider's server, search for a contract column"
assert_contains "$PAGE" "1 of 3 domains" "outsider's server, search for a contract column"
kill "$SERVE_PID"
wait "$SERVE_PID" || true
serve_as cat_member
PAGE=$(serve_search "payroll")
assert_contains "$PAGE" "domain?d=hr" "member's server, search for payroll"
assert_contains "$PAGE" "1 of 4 domains" "member's server, search for payroll"
kill "$SERVE_PID"
wait "$SERVE_PID" || true

note "a head moved without the mount is seen by the CLI on the store and by the next mount"
mesh_umount
mkdir -p "$MESH_TMP/newcard"
printf 'id: urn:mesh:wxb\nname: Forecast\nstatus: active\nowner: cat_owner\ndescription: fog at dawn\n' \
	>"$MESH_TMP/newcard/product.yaml"
"$MESHFS_BIN" --store "$STORE" import "$MESH_TMP/newcard" wxb/main/.mesh -m "fog" >/dev/null ||
	fail "import of a new card into wxb failed"
ANS=$("$MESHFS_BIN" --store "$STORE" catalog search fog dawn --json)
assert_eq "wxb" "$(hits_of <<<"$ANS")" "search on the store after the import"
mesh_mount -o allow_other
printf 'id: urn:mesh:wxb\nname: Forecast\nstatus: active\nowner: cat_owner\ndescription: snow at noon\n' \
	>"$MESH_TMP/newcard/product.yaml"
mesh_umount
"$MESHFS_BIN" --store "$STORE" import "$MESH_TMP/newcard" wxb/main/.mesh -m "snow" >/dev/null ||
	fail "import of a new card into wxb failed"
mesh_mount -o allow_other
ANS=$(cli_as cat_outsider catalog search snow noon --json)
assert_eq "wxb" "$(hits_of <<<"$ANS")" "search through the next mount"
ANS=$(cli_as cat_outsider catalog search fog --json)
assert_eq 0 "$(mesh_json 'd["total"]' <<<"$ANS")" "the imported card's old words"
