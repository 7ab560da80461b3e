#!/usr/bin/env bash
# fsync of a file open for random writes stores only the chunks written
# since its last staging, and the promises stay: what an fsync returned
# for survives kill -9 of the daemon, and a commit takes the state of the
# last close or fsync, never writes made after it.  Also two sqlite3
# writers in WAL mode on one database both get their commits in.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
mesh_domain d
mesh_mount
B=$MNT/d/main
SYNCED=$MESH_TMP/synced       # sha256 of each file as last fsync'd
READY=$MESH_TMP/ready

note "a committed 3 MiB file, then edited in place"
"$PY" -c 'import os, sys; open(sys.argv[1], "wb").write(os.urandom(3 << 20))' "$B/db.bin"
mesh_commit d/main "base" >/dev/null

# Random writes (some past the end), truncates, an fsync each round; every
# 8th round a commit through the control file while the file stays open,
# whose view must hold exactly what was fsync'd.  Then writes without an
# fsync, a commit (the fsync'd state, not those), and the file is left
# open with them while the daemon is killed.  A log file appended to and
# fsync'd after each record (a database's WAL) rides along.
EDITOR='
import hashlib, json, os, random, sys, time
mnt, synced, ready = sys.argv[1:]
rng = random.Random(1313)
def sha(b): return hashlib.sha256(b).hexdigest()
def control(line):
    fd = os.open(f"{mnt}/.control", os.O_RDWR)
    try:
        try:
            os.write(fd, (line + "\n").encode())
        except OSError:
            pass   # a failed command: its answer says why
        out = b""
        while True:
            b = os.pread(fd, 65536, len(out))
            if not b: break
            out += b
    finally:
        os.close(fd)
    return json.loads(out)
path = f"{mnt}/d/main/db.bin"
model = bytearray(open(path, "rb").read())
fd = os.open(path, os.O_RDWR)
log = os.open(f"{mnt}/d/main/wal.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
logged = bytearray()
def record(name, data):
    with open(synced + "." + name, "w") as f: f.write(sha(data))
for rnd in range(40):
    for _ in range(rng.randint(1, 3)):
        off = rng.randrange(0, len(model) + 100_000)
        data = os.urandom(rng.randint(1, 70_000))
        os.pwrite(fd, data, off)
        if off > len(model): model.extend(bytes(off - len(model)))
        model[off:off + len(data)] = data
    if rnd % 7 == 3:
        size = rng.randrange(len(model) // 2, len(model) + 50_000)
        os.ftruncate(fd, size)
        model = model[:size] + bytes(max(0, size - len(model)))
    os.fsync(fd)
    record("db", model)
    rec = os.urandom(rng.randint(100, 9000))
    os.write(log, rec); logged += rec
    os.fsync(log)
    record("wal", logged)
    if rnd % 8 == 7:
        ans = control(f"commit d/main -m round{rnd}")
        assert ans["ok"], ans
        cid = ans["commit"]
        got = open(f"{mnt}/d/{cid}/db.bin", "rb").read()
        assert sha(got) == sha(model), f"round {rnd}: the commit does not hold the fsynced state ({len(got)} bytes, fsynced {len(model)})"
        got = open(f"{mnt}/d/{cid}/wal.log", "rb").read()
        assert got == logged, f"round {rnd}: the committed log is not the fsynced one"
# Written after the last fsync, never synced nor closed.
os.pwrite(fd, b"in-between" * 1000, 12345)
os.pwrite(fd, b"past the end", len(model) + 10)
os.write(log, b"unsynced record")
ans = control("commit d/main -m after-unsynced-writes")
if ans["ok"]:
    cid = ans["commit"]
    got = open(f"{mnt}/d/{cid}/db.bin", "rb").read()
    assert sha(got) == sha(model), "a commit took writes made after the last fsync"
    assert open(f"{mnt}/d/{cid}/wal.log", "rb").read() == logged, "a commit took an unsynced log record"
else:
    assert ans["error"] == "EINVAL", ans   # nothing new: the last commit holds it
open(ready, "w").close()
time.sleep(120)   # killed with the daemon gone, or by the test
'
"$PY" -c "$EDITOR" "$MNT" "$SYNCED" "$READY" &
editor=$!
for ((i = 0; i < 1200; i++)); do
	[[ -e $READY ]] && break
	kill -0 "$editor" 2>/dev/null || break
	sleep 0.1
done
[[ -e $READY ]] || { wait "$editor" || fail "the editor failed (see above)"; fail "the editor ended early"; }

note "kill -9 with the file open and written after its last fsync"
mesh_kill9_daemon
kill "$editor" 2>/dev/null || true
wait "$editor" 2>/dev/null || true
mesh_drop_dead_mount
mesh_mount
assert_eq "$(cat "$SYNCED.db")" "$(sha256sum <"$B/db.bin" | cut -d' ' -f1)" "db.bin after kill -9 (its last fsync)"
assert_eq "$(cat "$SYNCED.wal")" "$(sha256sum <"$B/wal.log" | cut -d' ' -f1)" "wal.log after kill -9 (its last fsync)"
# Nothing new when round 39's commit took the last fsync already.
mesh_ctl "commit d/main -m recovered" >/dev/null || true
head=$(mesh_ctl_ok "log d/main" | mesh_json 'd["commits"][0]["id"]')
assert_eq "$(cat "$SYNCED.db")" "$(sha256sum <"$MNT/d/$head/db.bin" | cut -d' ' -f1)" "db.bin committed after the restart"

note "50 fsyncs of 100-byte changes to a 16 MiB file store the chunks changed, not the file"
"$PY" -c 'import os, sys; open(sys.argv[1], "wb").write(os.urandom(16 << 20))' "$B/big.bin"
mesh_commit d/main "big" >/dev/null
before=$(du -sk "$STORE/objects" | cut -f1)
"$PY" - "$B/big.bin" <<'PYEOF'
import os, random, sys
fd = os.open(sys.argv[1], os.O_RDWR)
rng = random.Random(7)
for _ in range(50):
    os.pwrite(fd, os.urandom(100), rng.randrange(0, 16 << 20))
    os.fsync(fd)
os.close(fd)
PYEOF
grown=$(($(du -sk "$STORE/objects" | cut -f1) - before))
note "store grew by $grown KiB"
# One or two chunks (256 KiB on average, at most 1 MiB) per fsync; the
# whole file each time would be 800 MiB.
((grown < 50 * 2048)) || fail "50 small fsyncs grew the store by $grown KiB"

note "two sqlite3 writers in WAL mode, 5 s"
SQLW='
import multiprocessing as mp, sqlite3, sys, time
db = sys.argv[1]
c = sqlite3.connect(db)
c.execute("PRAGMA journal_mode=WAL")
c.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, w INTEGER, pad BLOB)")
c.execute("WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 4096) INSERT INTO t(w, pad) SELECT -1, randomblob(4000) FROM k")
c.commit()
c.close()
def writer(w, start, q):
    c = sqlite3.connect(db, timeout=30)
    n = 0
    while time.time() < start: time.sleep(0.001)
    while time.time() < start + 5:
        c.execute("INSERT INTO t(w, pad) VALUES(?, randomblob(2000))", (w,))
        c.commit()
        n += 1
        time.sleep(0.005)   # the work between two transactions
    c.close()
    q.put(n)
if __name__ == "__main__":
    q = mp.Queue()
    start = time.time() + 0.5
    ps = [mp.Process(target=writer, args=(w, start, q)) for w in (0, 1)]
    for p in ps: p.start()
    counts = sorted(q.get() for _ in ps)
    for p in ps: p.join()
    c = sqlite3.connect(db)
    assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert c.execute("SELECT count(*) FROM t WHERE w >= 0").fetchone()[0] == sum(counts)
    print(counts[0], counts[1])
'
counts=$("$PY" -c "$SQLW" "$B/two.db") || fail "the sqlite3 writers failed"
read -r slow fast <<<"$counts"
note "commits: $slow and $fast"
((slow > 0 && slow * 10 >= fast)) || fail "one sqlite3 writer was shut out: $slow commits against $fast"
mesh_commit d/main "two writers" >/dev/null
exit 0
