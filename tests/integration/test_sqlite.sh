#!/usr/bin/env bash
# sqlite3 creating, filling and querying a database inside a branch view,
# its POSIX locks, and the committed database read through the commit view.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
mesh_domain shop
mesh_mount
B=$MNT/shop/main
DB=$B/db/shop.db
mkdir -p "$B/db"

# expected results of the queries below over rows 1..N
expected() {
	local n=$1
	"$PY" -c "
n = $n
print(n)
print(sum(i % 97 for i in range(1, n + 1)))
print(len({i % 50 for i in range(1, n + 1)}))"
}

QUERY="SELECT count(*) FROM orders; SELECT sum(cents) FROM orders; SELECT count(DISTINCT customer) FROM orders;"

note "create and fill 10000 rows in 10 transactions"
sqlite3 "$DB" "CREATE TABLE orders(id INTEGER PRIMARY KEY, customer TEXT NOT NULL, cents INTEGER NOT NULL, note TEXT);
CREATE INDEX orders_customer ON orders(customer);" || fail "sqlite3 could not create the database"
for t in $(seq 0 9); do
	sqlite3 "$DB" "BEGIN;
WITH RECURSIVE k(i) AS (SELECT $((t * 1000 + 1)) UNION ALL SELECT i + 1 FROM k WHERE i < $((t * 1000 + 1000)))
INSERT INTO orders(id, customer, cents, note) SELECT i, 'customer-' || (i % 50), i % 97, hex(randomblob(40)) FROM k;
COMMIT;" || fail "sqlite3 transaction $t failed"
done
assert_eq "$(expected 10000)" "$(sqlite3 "$DB" "$QUERY")" "query results in the branch view"
assert_eq ok "$(sqlite3 "$DB" 'PRAGMA integrity_check;')" "integrity_check in the branch view"
assert_eq 200 "$(sqlite3 "$DB" "SELECT count(*) FROM orders WHERE customer = 'customer-7';")" "indexed query"
[[ ! -e $DB-journal ]] || fail "the rollback journal was left behind"

note "an update and a rolled-back transaction"
sqlite3 "$DB" "UPDATE orders SET note = 'vip' WHERE customer = 'customer-1';"
sqlite3 "$DB" "BEGIN; DELETE FROM orders; ROLLBACK;"
assert_eq 200 "$(sqlite3 "$DB" "SELECT count(*) FROM orders WHERE note = 'vip';")" "rows after update and rollback"
assert_eq 10000 "$(sqlite3 "$DB" "SELECT count(*) FROM orders;")" "rows after a rolled-back delete"

note "POSIX locks as sqlite takes them: a writer waits for an exclusive transaction"
"$PY" - "$DB" "$MESH_TMP/locked" <<'PYEOF' &
import os, sqlite3, sys, time
db, flag = sys.argv[1:]
con = sqlite3.connect(db, isolation_level=None)
con.execute("BEGIN EXCLUSIVE")
con.execute("INSERT INTO orders(id, customer, cents) VALUES (20001, 'locker', 0)")
open(flag, "w").close()
time.sleep(3)
con.execute("ROLLBACK")
con.close()
PYEOF
locker=$!
for _ in $(seq 100); do [[ -e $MESH_TMP/locked ]] && break; sleep 0.1; done
[[ -e $MESH_TMP/locked ]] || fail "the locking process did not start its transaction"
run sqlite3 "$DB" ".timeout 0" "INSERT INTO orders(id, customer, cents) VALUES (20002, 'blocked', 0);"
[[ $RC -ne 0 ]] || fail "a second writer got in during an EXCLUSIVE transaction"
assert_contains "$ERR" "locked" "sqlite3's error during another process's exclusive transaction"
wait "$locker" || fail "the locking process failed"
sqlite3 "$DB" ".timeout 5000" "INSERT INTO orders(id, customer, cents) VALUES (20003, 'after', 0); DELETE FROM orders WHERE id = 20003;" ||
	fail "writing after the lock was released failed"
assert_eq 10000 "$(sqlite3 "$DB" "SELECT count(*) FROM orders;")" "rows after the locking round"

note "commit; query read-only through the commit view"
c=$(mesh_commit shop/main "shop database")
for view in "$MNT/shop/$c" "$MNT/shop/${c:0:8}"; do
	assert_eq "$(expected 10000)" "$(sqlite3 "file:$view/db/shop.db?immutable=1" "$QUERY")" "query through $view"
	assert_eq ok "$(sqlite3 "file:$view/db/shop.db?immutable=1" 'PRAGMA integrity_check;')" "integrity_check through $view"
	assert_fails sqlite3 "file:$view/db/shop.db?immutable=1" "DELETE FROM orders;"
done

note "more rows in the branch; the commit view keeps the old state"
sqlite3 "$DB" "WITH RECURSIVE k(i) AS (SELECT 10001 UNION ALL SELECT i + 1 FROM k WHERE i < 12000)
INSERT INTO orders(id, customer, cents) SELECT i, 'customer-' || (i % 50), i % 97 FROM k;"
assert_eq "$(expected 12000)" "$(sqlite3 "$DB" "$QUERY")" "query in the branch after more rows"
assert_eq "$(expected 10000)" "$(sqlite3 "file:$MNT/shop/$c/db/shop.db?immutable=1" "$QUERY")" "commit view after more rows in the branch"
c2=$(mesh_commit shop/main "2000 more rows")
assert_eq "$(expected 10000)" "$(sqlite3 "file:$MNT/shop/main~1/db/shop.db?immutable=1" "$QUERY")" "query through main~1"
assert_eq "$(expected 12000)" "$(sqlite3 "file:$MNT/shop/$c2/db/shop.db?immutable=1" "$QUERY")" "query through the new commit"

note "remount and query again, and write again"
mesh_remount
assert_eq "$(expected 12000)" "$(sqlite3 "$DB" "$QUERY")" "query in the branch after remount"
assert_eq "$(expected 10000)" "$(sqlite3 "file:$MNT/shop/$c/db/shop.db?immutable=1" "$QUERY")" "query through the commit view after remount"
sqlite3 "$DB" "DELETE FROM orders WHERE id > 10000; VACUUM;"
assert_eq "$(expected 10000)" "$(sqlite3 "$DB" "$QUERY")" "query after delete and VACUUM"
assert_eq ok "$(sqlite3 "$DB" 'PRAGMA integrity_check;')" "integrity_check after VACUUM"
exit 0
