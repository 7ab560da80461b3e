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
# One more fsync after that commit, so that the crash finds it staged (as
# a journal, to be folded into chunks by the next mount), then writes
# that are never synced again.
def put(off, data):
    global model
    if off > len(model): model.extend(bytes(off - len(model)))
    model[off:off + len(data)] = data
put(12345, b"in-between" * 1000)
put(len(model) + 10, b"past the end")
put(777777, os.urandom(5000))
os.pwrite(fd, bytes(model[777777:782777]), 777777)
os.fsync(fd)
record("db", model)
os.pwrite(fd, b"never synced" * 100, 2000)
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
# db.bin's last fsync was staged as a journal; the mount folds it into chunks.
grep -q "folded 1 file(s) fsync'd before a crash" "$MESH_LOG" ||
	{ grep -n "folded\|mount #\|ERROR\|WARN" "$MESH_LOG" | tail; fail "the mount after kill -9 did not fold db.bin's journal"; }
assert_eq "$(cat "$SYNCED.db")" "$(sha256sum <"$B/db.bin" | cut -d' ' -f1)" "db.bin after kill -9 (its last fsync)"
assert_eq "$(cat "$SYNCED.wal")" "$(sha256sum <"$B/wal.log" | cut -d' ' -f1)" "wal.log after kill -9 (its last fsync)"
# Nothing new when round 39's commit took the last fsync already.
mesh_ctl "commit d/main -m recovered" >/dev/null || true
head=$(mesh_ctl_ok "log d/main" | mesh_json 'd["commits"][0]["id"]')
assert_eq "$(cat "$SYNCED.db")" "$(sha256sum <"$MNT/d/$head/db.bin" | cut -d' ' -f1)" "db.bin committed after the restart"

note "50 fsyncs of 100-byte changes store no object; the close stores the chunks changed"
"$PY" -c 'import os, sys; open(sys.argv[1], "wb").write(os.urandom(16 << 20))' "$B/big.bin"
"$PY" -c 'import os, sys; open(sys.argv[1], "wb").write(os.urandom(200 << 10))' "$B/small.bin"
mesh_commit d/main "big and small" >/dev/null
objects() { find "$STORE/objects" -type f | wc -l; }
before_kib=$(du -sk "$STORE/objects" | cut -f1)
before_files=$(objects)
# Each file is open while the fsyncs run; the counts are taken before the
# close (the journal: no object) and after it (the touched chunks).  They
# are counted in the process itself: a forked child's exit would close
# its copy of the descriptor, and that close stages.
FSYNCS='
import os, random, sys
rng = random.Random(7)
def objects():
    return sum(len(files) for _, _, files in os.walk(sys.argv[3]))
for path, size in ((sys.argv[1], 16 << 20), (sys.argv[2], 200 << 10)):
    fd = os.open(path, os.O_RDWR)
    print(objects(), end=" ", flush=True)
    for _ in range(50):
        os.pwrite(fd, os.urandom(100), rng.randrange(0, size - 100))
        os.fsync(fd)
    print(objects(), end=" ", flush=True)
    os.close(fd)
# A log appended to, with an fsync after each record (a database WAL).
fd = os.open(sys.argv[4], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
print(objects(), end=" ", flush=True)
for _ in range(50):
    os.write(fd, os.urandom(64 << 10))
    os.fsync(fd)
print(objects(), end=" ", flush=True)
os.close(fd)
'
read -r big_before big_open small_before small_open log_before log_open < \
	<("$PY" -c "$FSYNCS" "$B/big.bin" "$B/small.bin" "$STORE/objects" "$B/log.bin"; echo)
[[ -n $log_open ]] || fail "the fsync writer failed"
note "object files: a log appended to with 50 fsyncs of 64 KiB records: $log_before -> $log_open"
# Its first fsync stores the first record's chunk; the others journal.
((log_open - log_before <= 1)) ||
	fail "50 fsyncs of an appended log stored $((log_open - log_before)) object files"
after_files=$log_before
note "object files: 16 MiB file $big_before -> $big_open after 50 fsyncs -> $small_before closed; 200 KiB file -> $small_open after 50 fsyncs -> $after_files closed"
assert_eq "$big_before" "$big_open" "object files after 50 fsyncs of the open 16 MiB file"
assert_eq "$small_before" "$small_open" "object files after 50 fsyncs of the open 200 KiB file"
# Its close stores the chunks the 50 writes touched, each once.
((small_before - big_open <= 50)) ||
	fail "closing the 16 MiB file stored $((small_before - big_open)) object files for 50 writes"
# The 200 KiB file is one chunk: its close stores one object and a map
# (the map small enough for the database), not one copy per fsync.
((after_files - small_open <= 2)) ||
	fail "closing the 200 KiB file after 50 fsyncs stored $((after_files - small_open)) object files"
grown=$(($(du -sk "$STORE/objects" | cut -f1) - before_kib))
note "store objects grew by $grown KiB in all"
# The close of the big file stores the chunks touched (256 KiB on
# average, at most 1 MiB each), never the 16 MiB file 50 times.
((grown < 50 * 1024 + 2048)) || fail "50 small fsyncs and a close grew the store by $grown KiB"
cmp <("$PY" -c 'import sys; sys.stdout.buffer.write(open(sys.argv[1], "rb").read())' "$B/big.bin") "$B/big.bin" ||
	fail "big.bin reads differently through two opens"

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
