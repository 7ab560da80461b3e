#!/usr/bin/python3
"""The workloads of bench/run (issue 4): meshfs against ext4, libfuse's
passthrough_ll, fuse-overlayfs and git, on the same disk, in the same run.

bench/run installs, builds and then calls this with the binaries; this file
generates the data, mounts, runs every workload alternating the systems,
verifies the bytes, and prints one markdown table.  Everything it mounts is
unmounted in a finally block (and bench/run's trap sweeps up after a crash).

Progress goes to stderr, the table to stdout (and to --out).
"""

import argparse
import hashlib
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

MiB = 1 << 20
GiB = 1 << 30

# Sizes per the issue; --quick shrinks them so that every path runs in
# seconds (it is a smoke test, its figures mean nothing).
FULL = dict(big=GiB, csv=GiB, write=GiB, tree_dirs=100, tree_per_dir=1000,
            small_dirs=100, small_per_dir=100, small_size=2048,
            w9_base=200_000_000, w9_versions=10, runs=3, fio_runtime=4,
            sqlite_seconds=10, fsync_runtime=20, duckdb_txns=200)
QUICK = dict(big=16 * MiB, csv=16 * MiB, write=16 * MiB, tree_dirs=20,
             tree_per_dir=100, small_dirs=20, small_per_dir=100, small_size=2048,
             w9_base=4_000_000, w9_versions=10, runs=1, fio_runtime=1,
             sqlite_seconds=2, fsync_runtime=3, duckdb_txns=200)

CSV_ROW = 51          # bytes per generated CSV row, newline included
TREE_FILE_SIZE = 100  # bytes per file of the 100k-file tree
DATA_VERSION = 1      # bump when a generator changes: cached data is redone

# Workloads 11-13 (issue 13) have names too: --only sqlite-wal,fio-fsync.
NAMED = {"sqlite-wal": 11, "fio-fsync": 12, "duckdb-txn": 13}
LAST = 13

MESH = "meshfs"
PT = "passthrough_ll"
OVL = "fuse-overlayfs"
EXT4 = "ext4"


# Workload 11's processes: python3 -c SQLITE_... PATH [...]
SQLITE_SETUP = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
assert con.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal"
con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, writer INTEGER, k INTEGER, note TEXT)")
con.close()
"""
# One writer: from START to END (wall clock, shared by both) one small row
# per transaction.  BEGIN IMMEDIATE takes the write lock up front, so the
# other writer waits in SQLite's busy handler instead of failing.
SQLITE_WRITER = """
import sqlite3, sys, time
path, who, start, end = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
con = sqlite3.connect(path, timeout=60, isolation_level=None)
con.execute("PRAGMA busy_timeout = 60000")
con.execute("PRAGMA synchronous = FULL")
time.sleep(max(0.0, start - time.time()))
n = 0
while time.time() < end:
    con.execute("BEGIN IMMEDIATE")
    con.execute("INSERT INTO t (writer, k, note) VALUES (?, ?, ?)", (who, n, "row %d" % n))
    con.execute("COMMIT")
    n += 1
con.close()
print(n)
"""
# Prints: journal mode, integrity_check, rows of writer 1, rows of writer 2.
SQLITE_CHECK = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
mode = con.execute("PRAGMA journal_mode").fetchone()[0]
ok = con.execute("PRAGMA integrity_check").fetchone()[0]
n = [con.execute("SELECT count(*) FROM t WHERE writer = ?", (w,)).fetchone()[0] for w in (1, 2)]
print(mode, ok, *n)
"""


class BenchError(Exception):
    pass


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def now():
    return time.perf_counter()


def run(cmd, **kw):
    """Runs a command; a failure raises BenchError with its output."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    p = subprocess.run(cmd, **kw)
    if p.returncode != 0:
        out = (p.stdout or b"")[-300:].decode(errors="replace")
        err = (p.stderr or b"")[-600:].decode(errors="replace")
        raise BenchError(f"{' '.join(map(str, cmd))} exited {p.returncode}: "
                         f"stdout ...{out!r} stderr ...{err!r}")
    return p


def timed(cmd, **kw):
    t0 = now()
    p = run(cmd, **kw)
    return now() - t0, p


def git(repo, *args, **kw):
    return run(["git", "-C", repo, "-c", "gc.auto=0", *args], **kw)


def du_bytes(path):
    out = run(["du", "-sb", path]).stdout.split()[0]
    return int(out)


def median(xs):
    return statistics.median(xs)


def rotated(items, r):
    """The systems in a different order each run, so that none always runs
    first (right after a cache drop) or last."""
    k = r % len(items)
    return items[k:] + items[:k]


# ------------------------------------------------------------------ mounts

def mounted(path):
    with open("/proc/self/mounts") as f:
        for line in f:
            if line.split()[1].replace("\\040", " ") == path:
                return True
    return False


def mounts_under(prefix):
    found = []
    with open("/proc/self/mounts") as f:
        for line in f:
            p = line.split()[1].replace("\\040", " ")
            if p == prefix or p.startswith(prefix + "/"):
                found.append(p)
    return found


def force_unmount(path):
    for cmd in (["fusermount3", "-u", path], ["fusermount3", "-uz", path],
                ["umount", "-l", path]):
        if not mounted(path):
            return
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.2)


class FuseMount:
    """One FUSE daemon run in the foreground as our child, so that we know
    its pid (for VmHWM) and can always stop it."""

    def __init__(self, name, mnt, cmd, logfile, ready=None, umount_cmd=None):
        self.name = name
        self.mnt = mnt
        self.cmd = cmd
        self.logfile = logfile
        self.ready = ready or (lambda: True)
        self.umount_cmd = umount_cmd or ["fusermount3", "-u", mnt]
        self.proc = None
        self.hwm_samples = None   # a list while workload 10 is watching

    def start(self):
        os.makedirs(self.mnt, exist_ok=True)
        if mounted(self.mnt):
            raise BenchError(f"{self.mnt} is already mounted")
        logf = open(self.logfile, "ab")
        logf.write(f"==== {time.strftime('%T')} {' '.join(self.cmd)}\n".encode())
        logf.flush()
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=logf,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        logf.close()
        deadline = time.time() + 30
        while time.time() < deadline:
            if mounted(self.mnt) and self.ready():
                return
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                raise BenchError(f"{self.name} exited {rc} before {self.mnt} came up; "
                                 f"log: {self.log_tail()}")
            time.sleep(0.05)
        raise BenchError(f"{self.name} at {self.mnt} did not come up within 30 s")

    def log_tail(self, n=20):
        try:
            with open(self.logfile, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""

    def vm_hwm(self):
        """Peak resident set of the daemon so far, in bytes."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        raise BenchError(f"no VmHWM for pid {self.proc.pid}")

    def sample_hwm(self):
        if self.hwm_samples is not None and self.proc and self.proc.poll() is None:
            self.hwm_samples.append(self.vm_hwm())

    def stop(self):
        if self.proc is None and not mounted(self.mnt):
            return
        self.sample_hwm()
        t0 = now()
        if mounted(self.mnt):
            p = subprocess.run(self.umount_cmd, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=120)
            if p.returncode != 0:
                log(f"{' '.join(self.umount_cmd)} failed: {p.stdout!r}; forcing")
                force_unmount(self.mnt)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                log(f"{self.name} (pid {self.proc.pid}) still running after unmount; killing")
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        if now() - t0 > 2:
            log(f"note: unmounting {self.name} took {now() - t0:.1f} s")

    def restart(self):
        self.stop()
        self.start()


def drop_caches(paths):
    """sync then drop the page cache.  syncfs of our own file systems only:
    a plain sync would also wait on every other FUSE mount of the machine."""
    for p in paths:
        subprocess.run(["sync", "-f", p], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def ctl(mnt, line):
    """One control-file command; returns (answer, seconds for open..close)."""
    err = None
    t0 = now()
    fd = os.open(os.path.join(mnt, ".control"), os.O_RDWR)
    try:
        try:
            os.write(fd, line.encode())
        except OSError as e:
            err = e
        chunks, off = [], 0
        while True:
            b = os.pread(fd, 1 << 20, off)
            if not b:
                break
            chunks.append(b)
            off += len(b)
    finally:
        os.close(fd)
    dt = now() - t0
    try:
        ans = json.loads(b"".join(chunks))
    except ValueError:
        raise BenchError(f"control '{line}': answer is not JSON: {b''.join(chunks)[:300]!r}")
    if err is not None or not ans.get("ok"):
        raise BenchError(f"control '{line}' failed ({err}): {ans}")
    return ans, dt


# ------------------------------------------------------------------ data

def sha256_file(path):
    h = hashlib.sha256()
    buf = bytearray(4 * MiB)
    n = 0
    with open(path, "rb", buffering=0) as f:
        while True:
            k = f.readinto(buf)
            if not k:
                break
            h.update(memoryview(buf)[:k])
            n += k
    return h.hexdigest(), n


def timed_read(path):
    """Sequential read with 1 MiB requests, open to close; returns
    (seconds, bytes)."""
    buf = bytearray(MiB)
    n = 0
    t0 = now()
    with open(path, "rb", buffering=0) as f:
        while True:
            k = f.readinto(buf)
            if not k:
                break
            n += k
    return now() - t0, n


def write_all(path, data, chunk=MiB):
    mv = memoryview(data)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        off = 0
        while off < len(mv):
            off += os.write(fd, mv[off:off + chunk])
    finally:
        os.close(fd)


def gen_random(path, size):
    h = hashlib.sha256()
    with open(path + ".tmp", "wb") as f:
        left = size
        while left:
            b = os.urandom(min(left, 64 * MiB))
            h.update(b)
            f.write(b)
            left -= len(b)
    os.rename(path + ".tmp", path)
    return h.hexdigest()


def digits(values, width):
    """Fixed-width decimal digits of an integer array, as ASCII bytes."""
    out = np.empty((len(values), width), dtype=np.uint8)
    v = values.astype(np.int64)
    for k in range(width - 1, -1, -1):
        out[:, k] = (v % 10) + 48
        v //= 10
    return out


REGIONS = np.frombuffer(b"eu-wsteu-estus-wstus-estap-sthap-nthsa-estaf-sth",
                        dtype=np.uint8).reshape(8, 6)


def csv_rows(first, n, rng):
    """n CSV rows of CSV_ROW bytes: id,date,customer,qty,amount,region.
    Random columns, so that zstd compresses it like real data (about 2-3x),
    not like a repeated pattern."""
    rows = np.empty((n, CSV_ROW), dtype=np.uint8)
    col = 0

    def put(a):
        nonlocal col
        rows[:, col:col + a.shape[1]] = a
        col += a.shape[1]

    def lit(s):
        put(np.frombuffer(s, dtype=np.uint8)[None, :].repeat(n, 0))

    put(digits(np.arange(first, first + n), 10))
    lit(b",2024-")
    put(digits(rng.integers(1, 13, n), 2))
    lit(b"-")
    put(digits(rng.integers(1, 29, n), 2))
    lit(b",C")
    put(digits(rng.integers(0, 10 ** 6, n), 6))
    lit(b",")
    put(digits(rng.integers(1, 1000, n), 3))
    lit(b",")
    put(digits(rng.integers(0, 10 ** 6, n), 6))
    lit(b".")
    put(digits(rng.integers(0, 100, n), 2))
    lit(b",")
    put(REGIONS[rng.integers(0, 8, n)])
    lit(b"\n")
    assert col == CSV_ROW
    return rows


def gen_csv(path, size, seed):
    rng = np.random.default_rng(seed)
    total = size // CSV_ROW
    h = hashlib.sha256()
    with open(path + ".tmp", "wb") as f:
        first = 0
        while first < total:
            n = min(1 << 20, total - first)
            b = csv_rows(first, n, rng).tobytes()
            h.update(b)
            f.write(b)
            first += n
    os.rename(path + ".tmp", path)
    return h.hexdigest()


def tree_content(d, i):
    s = f"tree file d{d:03d}/f{i:04d} ".encode()
    return (s * (TREE_FILE_SIZE // len(s) + 1))[:TREE_FILE_SIZE - 1] + b"\n"


def write_tree(root, ndirs, per_dir, threads=1):
    """ndirs directories of per_dir files of TREE_FILE_SIZE bytes."""
    def one_dir(d):
        dp = os.path.join(root, f"d{d:03d}")
        os.makedirs(dp, exist_ok=True)
        for i in range(per_dir):
            fd = os.open(os.path.join(dp, f"f{i:04d}"),
                         os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, tree_content(d, i))
            os.close(fd)
    os.makedirs(root, exist_ok=True)
    if threads == 1:
        for d in range(ndirs):
            one_dir(d)
    else:
        with ThreadPoolExecutor(threads) as ex:
            list(ex.map(one_dir, range(ndirs)))


# ------------------------------------------------------------------ results

def one_line(text, limit=400):
    """A table cell or note: one line, no pipes, bounded."""
    text = " ".join(str(text).replace("|", "/").split())
    return text if len(text) <= limit else text[:limit] + " ..."


class Row:
    def __init__(self, num, title, mesh="", refs="", ratio="", target="", met=None):
        self.num, self.title, self.mesh, self.refs = num, title, mesh, refs
        self.ratio, self.target, self.met = ratio, target, met

    def cells(self):
        met = "FAILED" if self.met == "failed" else \
            ("—" if self.met is None else ("yes" if self.met else "no"))
        return [self.num, self.title, self.mesh, self.refs, self.ratio, self.target, met]


def fmt_rate(bps):
    return f"{bps / MiB:,.0f} MiB/s"


def fmt_s(s):
    if s < 0.1:
        return f"{s * 1000:.1f} ms"
    return f"{s:.2f} s"


def fmt_size(n):
    if n >= GiB and n % GiB == 0:
        return f"{n // GiB} GiB"
    return f"{n / MiB:,.1f} MiB"


def x(r):
    return f"{r:.2f}×" if r >= 0.1 else f"{r:.2g}×"


# ------------------------------------------------------------------ the bench

class Bench:
    def __init__(self, a):
        self.a = a
        self.z = dict(QUICK if a.quick else FULL)
        if a.runs:
            self.z["runs"] = a.runs
        self.runs = self.z["runs"]
        self.only = a.only or set(range(1, LAST + 1))
        d = self.dir = os.path.abspath(a.dir)
        self.data = f"{d}/data"          # generated files, kept between runs
        self.src = f"{d}/src"            # ext4 directory: passthrough source, overlay lower
        self.scratch = f"{d}/scratch"    # ext4 writes, git repositories
        self.store = f"{d}/store"
        self.logs = f"{d}/logs"
        self.mnt = {MESH: f"{d}/mnt/mesh", PT: f"{d}/mnt/pt", OVL: f"{d}/mnt/ovl"}
        self.fs = {}                     # name -> FuseMount
        self.rows = []
        self.raw = {}
        self.notes = []
        self.failed = []
        self.durations = []
        self.base = None                 # commit id holding the big files and the tree
        self.manifest = {}
        self.git_repo = None

    # -------------------------------------------------------------- helpers

    def mesh(self):
        return self.mnt[MESH]

    def mesh_mount(self, name, mnt, store):
        return FuseMount(name, mnt,
                         [self.a.meshfs, "mount", mnt, "--store", store, "--foreground",
                          "--log-level", "warn"],
                         f"{self.logs}/{name}.log",
                         ready=lambda: os.path.exists(os.path.join(mnt, ".control")),
                         umount_cmd=[self.a.meshfs, "umount", mnt])

    def cold(self, system):
        """Cold means right after mount with an empty page cache."""
        if system in self.fs:
            self.fs[system].restart()
        drop_caches([self.dir] + [self.mnt[s] for s in self.fs])

    def stop_all(self):
        for m in list(self.fs.values()):
            try:
                m.stop()
            except Exception as e:  # keep unmounting the others
                log(f"stopping {m.name}: {e}")
        for p in mounts_under(self.dir):
            log(f"left mounted, forcing: {p}")
            force_unmount(p)

    def remove_scratch(self):
        """The stores and repositories hold some 500k files: removing them
        now, after the table, spares the next run the wait.  The generated
        data stays for reuse."""
        if mounts_under(self.dir):
            log("something is still mounted; leaving the stores in place")
            return
        t0 = now()
        for p in (self.store, f"{self.dir}/store9", self.scratch, f"{self.dir}/ovl",
                  f"{self.src}/w4"):
            shutil.rmtree(p, ignore_errors=True)
        log(f"removed the stores and scratch repositories in {now() - t0:.1f} s")

    def wants(self, *ws):
        return any(w in self.only for w in ws)

    # -------------------------------------------------------------- setup

    def load_manifest(self):
        try:
            with open(f"{self.data}/manifest.json") as f:
                self.manifest = json.load(f)
        except (OSError, ValueError):
            self.manifest = {}

    def save_manifest(self):
        with open(f"{self.data}/manifest.json", "w") as f:
            json.dump(self.manifest, f, indent=1)

    def cached(self, key, params, path, make):
        """Regenerates a data file only when its parameters changed."""
        m = self.manifest.get(key)
        if m and m.get("params") == params and os.path.exists(path) and \
                m.get("version") == DATA_VERSION:
            return m
        log(f"generating {key} ({params})")
        t0 = now()
        info = make()
        info.update(params=params, version=DATA_VERSION)
        self.manifest[key] = info
        self.save_manifest()
        log(f"  {key} in {now() - t0:.1f} s")
        return info

    def gen_data(self):
        z = self.z
        os.makedirs(self.data, exist_ok=True)
        os.makedirs(self.src, exist_ok=True)
        self.load_manifest()
        if self.wants(1, 2, 3, 4, 12):
            p = f"{self.src}/big.bin"
            self.cached("big.bin", {"size": z["big"]}, p,
                        lambda: {"sha256": gen_random(p, z["big"]), "size": z["big"]})
        if self.wants(1, 2, 3, 4):
            p2 = f"{self.src}/big.csv"
            self.cached("big.csv", {"size": z["csv"]}, p2,
                        lambda: {"sha256": gen_csv(p2, z["csv"], 1),
                                 "size": z["csv"] // CSV_ROW * CSV_ROW})
        if self.wants(6, 7, 8, 10):
            t = f"{self.src}/tree"

            def make_tree():
                shutil.rmtree(t, ignore_errors=True)
                write_tree(t, z["tree_dirs"], z["tree_per_dir"])
                return {}
            self.cached("tree", {"dirs": z["tree_dirs"], "per_dir": z["tree_per_dir"],
                                 "file_size": TREE_FILE_SIZE}, t, make_tree)
        if self.wants(9):
            rows_base = z["w9_base"] // CSV_ROW
            rows_add = max(1, rows_base // 100)
            rows_all = rows_base + rows_add * (z["w9_versions"] - 1)
            p = f"{self.data}/w9.csv"
            self.cached("w9.csv", {"rows": rows_all}, p,
                        lambda: {"sha256": gen_csv(p, rows_all * CSV_ROW, 9)})
            self.w9_rows = (rows_base, rows_add)

    def start_mounts(self):
        os.makedirs(self.logs, exist_ok=True)
        for p in mounts_under(self.dir):
            log(f"a previous run left {p} mounted; unmounting")
            force_unmount(p)
        shutil.rmtree(self.store, ignore_errors=True)
        shutil.rmtree(self.scratch, ignore_errors=True)
        shutil.rmtree(f"{self.dir}/ovl", ignore_errors=True)
        shutil.rmtree(f"{self.src}/w4", ignore_errors=True)
        os.makedirs(self.scratch)
        log("work dir cleaned")
        for sub in ("upper", "work"):
            os.makedirs(f"{self.dir}/ovl/{sub}")
        run([self.a.meshfs, "init", "--store", self.store])
        run([self.a.meshfs, "domain", "create", "bench", "--store", self.store])
        self.fs[MESH] = self.mesh_mount(MESH, self.mnt[MESH], self.store)
        self.fs[PT] = FuseMount(PT, self.mnt[PT],
                                [self.a.passthrough, "-f", "-o", f"source={self.src}",
                                 self.mnt[PT]], f"{self.logs}/passthrough_ll.log")
        self.fs[OVL] = FuseMount(
            OVL, self.mnt[OVL],
            ["fuse-overlayfs", "-f", "-o",
             f"lowerdir={self.src},upperdir={self.dir}/ovl/upper,workdir={self.dir}/ovl/work",
             self.mnt[OVL]], f"{self.logs}/fuse-overlayfs.log")
        log("store ready; mounting")
        for m in self.fs.values():
            m.start()
        log("mounted meshfs, passthrough_ll and fuse-overlayfs")

    def load_mesh(self):
        """Puts the committed data into meshfs through its branch view (the
        only way in), timing it: that is a figure worth knowing too."""
        z = self.z
        main = f"{self.mesh()}/bench/main"
        if self.wants(1, 2, 3, 4):
            t0 = now()
            for name in ("big.bin", "big.csv"):
                shutil.copyfile(f"{self.src}/{name}", f"{main}/{name}")
            dt = now() - t0
            n = self.manifest["big.bin"]["size"] + self.manifest["big.csv"]["size"]
            self.notes.append(f"setup: copying the two big files ({fmt_size(n)}) into "
                              f"the branch view took {dt:.1f} s ({fmt_rate(n / dt)})")
            log(self.notes[-1])
        if self.wants(6, 7, 8, 10):
            nfiles = z["tree_dirs"] * z["tree_per_dir"]
            t0 = now()
            write_tree(f"{main}/tree", z["tree_dirs"], z["tree_per_dir"], threads=4)
            dt = now() - t0
            self.notes.append(f"setup: creating the {nfiles:,}-file tree in the branch view "
                              f"(4 writer threads) took {dt:.1f} s ({nfiles / dt:,.0f} files/s)")
            log(self.notes[-1])
        if not self.wants(1, 2, 3, 4, 6, 7, 8, 10):
            return    # nothing loaded: nothing to commit
        ans, dt = ctl(self.mesh(), "commit bench/main -m 'bench data'")
        self.base = ans["commit"]
        self.notes.append(f"setup: committing that ({ans['changes']:,} changes) took "
                          f"{dt:.2f} s")
        log(self.notes[-1])

    def setup_git_tree(self):
        """A git repository holding the same tree, for workloads 7 and 8."""
        z = self.z
        repo = self.git_repo = f"{self.scratch}/git-tree"
        t0 = now()
        run(["git", "init", "-q", "-b", "main", repo])
        write_tree(f"{repo}/tree", z["tree_dirs"], z["tree_per_dir"])
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "tree")
        log(f"git repository with the tree ready in {now() - t0:.1f} s")

    # -------------------------------------------------------------- 1 and 2

    def read_path(self, system, name):
        if system == MESH:
            return f"{self.mesh()}/bench/{self.base}/{name}"
        if system == EXT4:
            return f"{self.src}/{name}"
        return f"{self.mnt[system]}/{name}"

    def w1_w2(self):
        systems = [MESH, PT, OVL, EXT4]
        files = [("incompressible", "big.bin"), ("CSV text", "big.csv")]
        cold = {(s, f): [] for s in systems for _, f in files}
        warm = {(s, f): [] for s in systems for _, f in files}
        for r in range(self.runs):
            for s in rotated(systems, r):
                for _, name in files:
                    want = self.manifest[name]
                    path = self.read_path(s, name)
                    self.cold(s)
                    dt, n = timed_read(path)
                    if n != want["size"]:
                        raise BenchError(f"{s}: read {n} bytes of {path}, expected {want['size']}")
                    cold[(s, name)].append(n / dt)
                    sha, _ = sha256_file(path)   # also warms the cache for the next read
                    if sha != want["sha256"]:
                        raise BenchError(f"{s}: {path} read back with a wrong SHA-256")
                    dt, n = timed_read(path)
                    if n != want["size"]:
                        raise BenchError(f"{s}: warm read got {n} bytes of {path}")
                    warm[(s, name)].append(n / dt)
                    log(f"w1/w2 run {r + 1} {s} {name}: cold {fmt_rate(cold[(s, name)][-1])}, "
                        f"warm {fmt_rate(warm[(s, name)][-1])}")
        self.raw["1"] = {f"{s} {f}": v for (s, f), v in cold.items()}
        self.raw["2"] = {f"{s} {f}": v for (s, f), v in warm.items()}
        size = fmt_size(self.z["big"])
        for (label, name), sub in zip(files, "ab"):
            m = median(cold[(MESH, name)])
            o, p, e = (median(cold[(k, name)]) for k in (OVL, PT, EXT4))
            self.rows.append(Row(
                f"1{sub}", f"sequential read {size}, {label}, cold after mount",
                fmt_rate(m), f"overlayfs {fmt_rate(o)}; passthrough {fmt_rate(p)}; ext4 {fmt_rate(e)}",
                f"{x(m / o)} ovl; {x(m / p)} pt", "≥ 1.0× ovl and ≥ 0.8× pt",
                m >= o and m >= 0.8 * p))
        for (label, name), sub in zip(files, "ab"):
            m = median(warm[(MESH, name)])
            o, p, e = (median(warm[(k, name)]) for k in (OVL, PT, EXT4))
            self.rows.append(Row(
                f"2{sub}", f"the same read again, warm, {label}",
                fmt_rate(m), f"ext4 {fmt_rate(e)}; overlayfs {fmt_rate(o)}; passthrough {fmt_rate(p)}",
                f"{x(m / e)} ext4", "≥ 0.9× ext4", m >= 0.9 * e))

    # -------------------------------------------------------------- 3

    def fio(self, path, size):
        p = run(["fio", "--name=randread", f"--filename={path}", "--readonly",
                 "--rw=randread", "--bs=4k", "--numjobs=4", "--ioengine=psync",
                 "--invalidate=0", f"--size={size}", "--group_reporting",
                 "--output-format=json", *self.fio_length()])
        out = p.stdout.decode()
        j = json.loads(out[out.index("{"):])
        job = j["jobs"][0]
        if job.get("error"):
            raise BenchError(f"fio on {path}: error {job['error']}")
        rd = job["read"]
        if rd["io_bytes"] <= 0 or rd["io_bytes"] != rd["total_ios"] * 4096:
            raise BenchError(f"fio on {path}: read {rd['io_bytes']} bytes in "
                             f"{rd['total_ios']} I/Os")
        return rd["iops"]

    def fio_length(self):
        if self.a.quick:   # a few hundred reads per job: the path, not a figure
            return ["--io_size=1M"]
        return ["--time_based", f"--runtime={self.z['fio_runtime']}"]

    def w3(self):
        systems = [MESH, OVL, PT, EXT4]
        size = self.manifest["big.bin"]["size"]
        cold = {s: [] for s in systems}
        warm = {s: [] for s in systems}
        for r in range(self.runs):
            for s in rotated(systems, r):
                path = self.read_path(s, "big.bin")
                self.cold(s)
                cold[s].append(self.fio(path, size))
                timed_read(path)   # the whole file into the cache
                warm[s].append(self.fio(path, size))
                log(f"w3 run {r + 1} {s}: cold {cold[s][-1]:,.0f} IOPS, warm {warm[s][-1]:,.0f} IOPS")
        self.raw["3"] = {"cold": cold, "warm": warm}
        for sub, label, d in (("a", "cold", cold), ("b", "warm", warm)):
            m, o, p, e = (median(d[k]) for k in (MESH, OVL, PT, EXT4))
            self.rows.append(Row(
                f"3{sub}", f"fio random 4 KiB reads, 4 jobs, {fmt_size(size)} file, {label}",
                f"{m:,.0f} IOPS", f"overlayfs {o:,.0f}; passthrough {p:,.0f}; ext4 {e:,.0f}",
                f"{x(m / o)} ovl", "≥ 1.0× ovl", m >= o))

    # -------------------------------------------------------------- 4

    def w4(self):
        systems = [MESH, OVL, PT, EXT4]
        size = self.z["write"]
        os.mkdir(f"{self.mesh()}/bench/w4")   # a branch: main stays as committed
        dirs = {MESH: f"{self.mesh()}/bench/w4/out", OVL: f"{self.mnt[OVL]}/w4",
                PT: f"{self.mnt[PT]}/w4", EXT4: f"{self.scratch}/w4"}
        for p in dirs.values():
            os.makedirs(p, exist_ok=True)
        # Fresh bytes for every write, so that meshfs cannot deduplicate
        # against anything it has seen: an 8-byte stamp in every 4 KiB.
        with open(f"{self.src}/big.bin", "rb") as f:
            buf = np.frombuffer(bytearray(f.read(size)), dtype=np.uint8)
        if len(buf) < size:
            buf = np.resize(buf, size)
        stamps = buf.view(np.uint64)
        rates = {s: [] for s in systems}
        stamp = int(time.time()) << 16
        for r in range(self.runs):
            for s in rotated(systems, r):
                stamp += 1
                stamps[::512] = np.uint64(stamp)
                want = hashlib.sha256(buf).hexdigest()
                path = f"{dirs[s]}/run{r}.bin"
                drop_caches([self.dir])  # no dirty pages of an earlier write in the way
                t0 = now()
                write_all(path, buf)
                dt = now() - t0
                sha, n = sha256_file(path)
                if sha != want or n != size:
                    raise BenchError(f"{s}: {path} read back {n} bytes with a wrong SHA-256")
                os.unlink(path)
                rates[s].append(size / dt)
                log(f"w4 run {r + 1} {s}: {fmt_rate(rates[s][-1])}")
        self.raw["4"] = rates
        m, o, p, e = (median(rates[k]) for k in (MESH, OVL, PT, EXT4))
        self.rows.append(Row(
            "4", f"sequential write {fmt_size(size)} in a branch view, through close",
            fmt_rate(m), f"overlayfs {fmt_rate(o)}; passthrough {fmt_rate(p)}; ext4 {fmt_rate(e)}",
            f"{x(m / o)} ovl", "≥ 1.0× ovl", m >= o))

    # -------------------------------------------------------------- 5

    def write_small(self, root, data):
        z = self.z
        size, k = z["small_size"], 0
        mv = memoryview(data)
        for d in range(z["small_dirs"]):
            dp = f"{root}/d{d:03d}"
            os.mkdir(dp)
            for i in range(z["small_per_dir"]):
                fd = os.open(f"{dp}/f{i:04d}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.write(fd, mv[k * size:(k + 1) * size])
                os.close(fd)
                k += 1

    def read_small(self, root):
        z = self.z
        h = hashlib.sha256()
        for d in range(z["small_dirs"]):
            for i in range(z["small_per_dir"]):
                with open(f"{root}/d{d:03d}/f{i:04d}", "rb") as f:
                    h.update(f.read())
        return h.hexdigest()

    def w5(self):
        z = self.z
        nfiles = z["small_dirs"] * z["small_per_dir"]
        res = {MESH: {"write": [], "commit": []}, "git": {"write": [], "commit": []}}
        for r in range(self.runs):
            for s in rotated([MESH, "git"], r):
                data = os.urandom(nfiles * z["small_size"])
                want = hashlib.sha256(data).hexdigest()
                if s == MESH:
                    dom = f"w5r{r}"
                    ctl(self.mesh(), f"domain create {dom}")
                    root = f"{self.mesh()}/{dom}/main"
                    t0 = now()
                    self.write_small(root, data)
                    tw = now() - t0
                    ans, tc = ctl(self.mesh(), f"commit {dom}/main -m 'small files'")
                    if self.read_small(f"{self.mesh()}/{dom}/{ans['commit']}") != want:
                        raise BenchError(f"meshfs: the committed small files of {dom} differ")
                else:
                    root = f"{self.scratch}/w5-git{r}"
                    run(["git", "init", "-q", "-b", "main", root])
                    t0 = now()
                    self.write_small(root, data)
                    tw = now() - t0
                    tc, _ = timed(["bash", "-c", "git -c gc.auto=0 add -A && "
                                   "git -c gc.auto=0 commit -q -m 'small files'"], cwd=root)
                    n = len(git(root, "ls-tree", "-r", "--name-only", "HEAD").stdout.splitlines())
                    if n != nfiles or self.read_small(root) != want:
                        raise BenchError(f"git: {root} holds {n} files, or their bytes differ")
                res[s]["write"].append(tw)
                res[s]["commit"].append(tc)
                log(f"w5 run {r + 1} {s}: write {tw:.2f} s, commit {tc:.2f} s")
        self.raw["5"] = res
        mw, mc = median(res[MESH]["write"]), median(res[MESH]["commit"])
        gw, gc = median(res["git"]["write"]), median(res["git"]["commit"])
        mt = median([a + b for a, b in zip(res[MESH]["write"], res[MESH]["commit"])])
        gt = median([a + b for a, b in zip(res["git"]["write"], res["git"]["commit"])])
        self.rows.append(Row(
            "5a", f"write {nfiles:,} files of {z['small_size']} B, then commit: total",
            f"{fmt_s(mt)} (write {fmt_s(mw)} + commit {fmt_s(mc)})",
            f"ext4+git {fmt_s(gt)} (write {fmt_s(gw)} + add/commit {fmt_s(gc)})",
            x(mt / gt), "≤ 1.0×", mt <= gt))
        self.rows.append(Row(
            "5b", "the commit step alone", fmt_s(mc), f"git add -A && git commit {fmt_s(gc)}",
            x(mc / gc), "≤ 0.2×", mc <= 0.2 * gc))

    # -------------------------------------------------------------- 6

    def find(self, root):
        nd, nf = self.z["tree_dirs"], self.z["tree_per_dir"]
        t0 = now()
        p = run(["find", root, "-printf", "%y %s\n"])
        dt = now() - t0
        files = dirs = total = 0
        for line in p.stdout.splitlines():
            kind, size = line.split()
            if kind == b"f":
                files += 1
                total += int(size)
            elif kind == b"d":
                dirs += 1
        if files != nd * nf or dirs != nd + 1 or total != nd * nf * TREE_FILE_SIZE:
            raise BenchError(f"find {root}: {files} files, {dirs} dirs, {total} bytes; "
                             f"expected {nd * nf}, {nd + 1}, {nd * nf * TREE_FILE_SIZE}")
        return dt

    def w6(self):
        systems = [MESH, OVL, PT, EXT4]
        entries = self.z["tree_dirs"] * (self.z["tree_per_dir"] + 1)
        fd_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        pt_note = ""
        if fd_limit < entries + 1000:
            # passthrough_ll keeps an O_PATH descriptor per inode the kernel
            # holds: find fails with EMFILE past the limit.
            systems.remove(PT)
            pt_note = "passthrough n/a (open-file limit, see notes); "
            self.notes.append(f"workload 6: no passthrough_ll figure: it keeps one descriptor "
                              f"per inode the kernel holds, and the hard open-file limit "
                              f"{fd_limit} is below the {entries:,} entries and cannot be "
                              f"raised here")
        paths = {MESH: f"{self.mesh()}/bench/{self.base}/tree", OVL: f"{self.mnt[OVL]}/tree",
                 PT: f"{self.mnt[PT]}/tree", EXT4: f"{self.src}/tree"}
        cold = {s: [] for s in systems}
        warm = {s: [] for s in systems}
        for r in range(self.runs):
            for s in rotated(systems, r):
                self.cold(s)
                cold[s].append(self.find(paths[s]))
                warm[s].append(self.find(paths[s]))
                log(f"w6 run {r + 1} {s}: cold {fmt_s(cold[s][-1])}, warm {fmt_s(warm[s][-1])}")
        self.raw["6"] = {"cold": cold, "warm": warm}
        n = self.z["tree_dirs"] * self.z["tree_per_dir"]
        for sub, label, d in (("a", "cold", cold), ("b", "warm", warm)):
            m, o, e = (median(d[k]) for k in (MESH, OVL, EXT4))
            pt = pt_note or f"passthrough {fmt_s(median(d[PT]))}; "
            self.rows.append(Row(
                f"6{sub}", f"find + stat of {n:,} files in a commit view, {label}",
                fmt_s(m), f"overlayfs {fmt_s(o)}; {pt}ext4 {fmt_s(e)}",
                f"{x(m / o)} ovl (time)", "≤ 1.0× ovl time", m <= o))

    # -------------------------------------------------------------- 7

    def w7(self):
        repo = self.git_repo
        want = sorted(os.listdir(f"{self.mesh()}/bench/main"))
        res = {MESH: [], "git": []}
        for r in range(self.runs):
            for s in rotated([MESH, "git"], r):
                if s == MESH:
                    path = f"{self.mesh()}/bench/wb{r}"
                    t0 = now()
                    os.mkdir(path)
                    got = os.listdir(path)
                    dt = now() - t0
                    if sorted(got) != want:
                        raise BenchError(f"new branch {path} lists {sorted(got)[:5]}..., "
                                         f"main lists {want[:5]}...")
                else:
                    wt = f"{self.scratch}/wt{r}"
                    dt, _ = timed(["git", "-C", repo, "worktree", "add", "-q", wt, "-b", f"wt{r}"])
                    n = sum(len(fs) for _, _, fs in os.walk(f"{wt}/tree"))
                    if n != self.z["tree_dirs"] * self.z["tree_per_dir"]:
                        raise BenchError(f"git worktree {wt} has {n} files")
                    # rm + prune: "worktree remove" would first stat all files again
                    shutil.rmtree(wt)
                    git(repo, "worktree", "prune")
                res[s].append(dt)
                log(f"w7 run {r + 1} {s}: {fmt_s(dt)}")
        self.raw["7"] = res
        m, g = median(res[MESH]), median(res["git"])
        n = self.z["tree_dirs"] * self.z["tree_per_dir"]
        self.rows.append(Row(
            "7", f"branch creation on a {n:,}-file domain until listable (mkdir + ls)",
            fmt_s(m), f"git worktree add {fmt_s(g)}", x(m / g), "≤ 10 ms", m <= 0.010))

    # -------------------------------------------------------------- 8

    def changed_files(self, r, count):
        """count paths of the tree spread over its directories, distinct per run."""
        nd, nf = self.z["tree_dirs"], self.z["tree_per_dir"]
        return [f"tree/d{(k * nd) // count:03d}/f{(r * 7 + k) % nf:04d}" for k in range(count)]

    def w8_git_setup(self):
        repo = self.git_repo
        src = self.changed_files(0, 10)
        dst = [f"tree/d{self.z['tree_dirs'] - 1:03d}/f{self.z['tree_per_dir'] - 1:04d}"]
        git(repo, "checkout", "-q", "-b", "src")
        for p in src:
            with open(f"{repo}/{p}", "wb") as f:
                f.write(b"changed on src\n")
        git(repo, "commit", "-q", "-am", "src")
        git(repo, "checkout", "-q", "-b", "dst", "main")
        for p in dst:
            with open(f"{repo}/{p}", "wb") as f:
                f.write(b"changed on dst\n")
        git(repo, "commit", "-q", "-am", "dst")
        git(repo, "checkout", "-q", "main")
        return set(src)

    def w8(self):
        mnt = self.mesh()
        git_changed = self.w8_git_setup()
        res = {MESH: {"diff": [], "merge": []}, "git": {"diff": [], "merge": []}}
        for r in range(self.runs):
            for s in rotated([MESH, "git"], r):
                if s == "git":
                    td, p = timed(["git", "-C", self.git_repo, "diff", "--name-only", "main", "src"])
                    if set(p.stdout.decode().split()) != git_changed:
                        raise BenchError(f"git diff listed {p.stdout[:300]!r}")
                    tm, p = timed(["git", "-C", self.git_repo, "merge-tree", "--write-tree",
                                   "dst", "src"])
                    res[s]["diff"].append(td)
                    res[s]["merge"].append(tm)
                    log(f"w8 run {r + 1} git: diff {fmt_s(td)}, merge-tree {fmt_s(tm)}")
                    continue
                changed = self.changed_files(r, 10)
                other = f"tree/d{self.z['tree_dirs'] - 1:03d}/f{self.z['tree_per_dir'] - 1 - r:04d}"
                if other in changed:
                    raise BenchError("w8: the file changed on dst is among those changed on src")
                ctl(mnt, f"branch create bench/src{r} --from {self.base}")
                for p in changed:
                    with open(f"{mnt}/bench/src{r}/{p}", "wb") as f:
                        f.write(f"changed on src{r}\n".encode())
                src_commit = ctl(mnt, f"commit bench/src{r} -m src")[0]["commit"]
                ctl(mnt, f"branch create bench/dst{r} --from {self.base}")
                with open(f"{mnt}/bench/dst{r}/{other}", "wb") as f:
                    f.write(b"changed on dst\n")
                ctl(mnt, f"commit bench/dst{r} -m dst")
                ans, td = ctl(mnt, f"diff bench/{self.base} {src_commit}")
                got = sorted(c.get("path", "") for c in ans["changes"])
                if got != sorted(changed):
                    raise BenchError(f"meshfs diff listed {got}, expected {sorted(changed)}")
                ans, tm = ctl(mnt, f"merge bench/src{r} --into dst{r} -m merge")
                with open(f"{mnt}/bench/dst{r}/{changed[0]}", "rb") as f:
                    merged = f.read()
                with open(f"{mnt}/bench/dst{r}/{other}", "rb") as f:
                    kept = f.read()
                if merged != f"changed on src{r}\n".encode() or kept != b"changed on dst\n":
                    raise BenchError(f"after the merge dst{r} shows {merged!r} and {kept!r}")
                res[s]["diff"].append(td)
                res[s]["merge"].append(tm)
                log(f"w8 run {r + 1} meshfs: diff {fmt_s(td)}, merge {fmt_s(tm)}")
        self.raw["8"] = res
        n = self.z["tree_dirs"] * self.z["tree_per_dir"]
        for sub, op, gname, limit in (("a", "diff", "git diff --name-only", 0.020),
                                      ("b", "merge", "git merge-tree --write-tree", 0.050)):
            m, g = median(res[MESH][op]), median(res["git"][op])
            self.rows.append(Row(
                f"8{sub}", f"{op} of two commits differing in 10 of {n:,} files (control file)",
                fmt_s(m), f"{gname} {fmt_s(g)}", x(m / g), f"≤ {limit * 1000:.0f} ms",
                m <= limit))

    # -------------------------------------------------------------- 9

    def w9(self):
        rows_base, rows_add = self.w9_rows
        nv = self.z["w9_versions"]
        with open(f"{self.data}/w9.csv", "rb") as f:
            data = f.read()
        sizes = [(rows_base + k * rows_add) * CSV_ROW for k in range(nv)]
        store = f"{self.dir}/store9"
        mnt = f"{self.dir}/mnt/mesh9"
        shutil.rmtree(store, ignore_errors=True)
        run([self.a.meshfs, "init", "--store", store])
        run([self.a.meshfs, "domain", "create", "csv", "--store", store])
        m = self.fs["mesh9"] = self.mesh_mount("mesh9", mnt, store)
        m.start()
        before = du_bytes(f"{store}/objects")
        t0 = now()
        commits = []
        for k, size in enumerate(sizes):
            write_all(f"{mnt}/csv/main/data.csv", memoryview(data)[:size])
            commits.append(ctl(mnt, f"commit csv/main -m v{k + 1}")[0]["commit"])
        tm = now() - t0
        for k in (0, nv - 1):
            sha, n = sha256_file(f"{mnt}/csv/{commits[k]}/data.csv")
            if n != sizes[k] or sha != hashlib.sha256(memoryview(data)[:sizes[k]]).hexdigest():
                raise BenchError(f"meshfs: version {k + 1} of data.csv reads back wrong")
        m.stop()
        del self.fs["mesh9"]
        growth = du_bytes(f"{store}/objects") - before
        db = du_bytes(f"{store}/db")
        # the references
        last = memoryview(data)[:sizes[-1]]
        zsize = len(run(["zstd", "-q", "-3", "-T1", "-c"], input=bytes(last)).stdout)
        repo = f"{self.scratch}/w9-git"
        run(["git", "init", "-q", "-b", "main", repo])
        t0 = now()
        for k, size in enumerate(sizes):
            write_all(f"{repo}/data.csv", memoryview(data)[:size])
            git(repo, "add", "data.csv")
            git(repo, "commit", "-q", "-m", f"v{k + 1}")
        tg = now() - t0
        gsize = du_bytes(f"{repo}/.git")
        plain = sum(sizes)
        self.raw["9"] = dict(growth=growth, db=db, zstd=zsize, git=gsize, plain=plain,
                             mesh_seconds=tm, git_seconds=tg)
        log(f"w9: meshfs objects grew {fmt_size(growth)} (db {fmt_size(db)}) in {tm:.1f} s; "
            f"zstd {fmt_size(zsize)}; .git {fmt_size(gsize)} in {tg:.1f} s; plain {fmt_size(plain)}")
        self.rows.append(Row(
            "9", f"{nv} versions of a {self.z['w9_base'] / 1e6:.0f} MB CSV, each appending 1%: "
            "store growth (objects/)",
            f"{fmt_size(growth)} (+ db/ {fmt_size(db)})",
            f"zstd -3 of the last version {fmt_size(zsize)}; plain copies {fmt_size(plain)}; "
            f".git (loose) {fmt_size(gsize)}",
            x(growth / zsize), "≤ 1.3× zstd copy", growth <= 1.3 * zsize))

    # -------------------------------------------------------------- 11-13
    # Databases in a branch view (issue 13): many small fsync'd commits, the
    # path a streamed copy never takes.  Each against the same work on ext4
    # (DIR/scratch) and fuse-overlayfs, in the same run.

    def db_dirs(self, name):
        """A fresh directory per system; meshfs's in a branch of its own."""
        branch = f"{self.mesh()}/bench/{name}"
        if not os.path.isdir(branch):
            os.mkdir(branch)    # mkdir in a domain creates a branch
        dirs = {MESH: f"{branch}/db", OVL: f"{self.mnt[OVL]}/{name}",
                EXT4: f"{self.scratch}/{name}"}
        for p in dirs.values():
            os.makedirs(p, exist_ok=True)
        return dirs

    def sqlite_run(self, path):
        """Two writer processes for sqlite_seconds; returns their commits."""
        for p in (path, path + "-wal", path + "-shm"):
            if os.path.exists(p):
                os.unlink(p)
        run([sys.executable, "-c", SQLITE_SETUP, path])
        start = time.time() + 1.0    # both writers open the database before it
        end = start + self.z["sqlite_seconds"]
        procs = [subprocess.Popen([sys.executable, "-c", SQLITE_WRITER, path, str(w),
                                   repr(start), repr(end)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for w in (1, 2)]
        counts = []
        for w, p in enumerate(procs, 1):
            out, err = p.communicate(timeout=self.z["sqlite_seconds"] + 120)
            if p.returncode != 0:
                raise BenchError(f"sqlite writer {w} on {path} exited {p.returncode}: "
                                 f"{err.decode(errors='replace')[-400:]}")
            counts.append(int(out.split()[-1]))
        got = run([sys.executable, "-c", SQLITE_CHECK, path]).stdout.decode().split()
        if got[0] != "wal" or got[1] != "ok" or [int(c) for c in got[2:]] != counts:
            raise BenchError(f"{path}: writers reported {counts} commits, the database "
                             f"holds {got[2:]} (journal {got[0]}, integrity {got[1]})")
        return counts

    def w11(self):
        systems = [MESH, OVL, EXT4]
        dirs = self.db_dirs("w11")
        res = {s: [] for s in systems}
        for r in range(self.runs):
            for s in rotated(systems, r):
                res[s].append(self.sqlite_run(f"{dirs[s]}/run{r}.db"))
                log(f"w11 run {r + 1} {s}: {sum(res[s][-1]):,} commits {res[s][-1]}")
        self.raw["11"] = res

        def fig(s):   # the run of median total (the lower one of an even count)
            c = sorted(res[s], key=sum)[(len(res[s]) - 1) // 2]
            return sum(c), f"{sum(c):,} ({c[0]:,} + {c[1]:,})"
        (m, mtxt), (o, otxt), (_, etxt) = fig(MESH), fig(OVL), fig(EXT4)
        starved = [f"{s} run {k + 1}" for s in systems for k, c in enumerate(res[s]) if min(c) == 0]
        if starved:
            self.notes.append(f"workload 11: a writer got no commit in {', '.join(starved)}")
        mesh_starved = any(min(c) == 0 for c in res[MESH])
        self.rows.append(Row(
            "11", f"sqlite-wal: SQLite WAL (synchronous=FULL), 2 writer processes taking turns "
            f"(busy_timeout), one small row per transaction, {self.z['sqlite_seconds']} s: "
            "commits (writer 1 + writer 2)",
            mtxt + ("; a writer got 0" if mesh_starved else ""),
            f"overlayfs {otxt}; ext4 {etxt}", f"{x(m / o)} ovl",
            "≥ 0.5× ovl (moonshot 1.0×), both writers > 0",
            m >= 0.5 * o and not mesh_starved))

    def fio_fsync(self, path, size):
        p = run(["fio", "--name=randwrite-fsync", f"--filename={path}", "--rw=randwrite",
                 "--bs=4k", f"--size={size}", "--fsync=32", "--ioengine=psync",
                 "--time_based", f"--runtime={self.z['fsync_runtime']}",
                 "--output-format=json"])
        out = p.stdout.decode()
        job = json.loads(out[out.index("{"):])["jobs"][0]
        if job.get("error"):
            raise BenchError(f"fio on {path}: error {job['error']}")
        wr, sy = job["write"], job.get("sync", {})
        if wr["total_ios"] <= 0 or wr["io_bytes"] != wr["total_ios"] * 4096:
            raise BenchError(f"fio on {path}: wrote {wr['io_bytes']} bytes in "
                             f"{wr['total_ios']} I/Os")
        if sy.get("total_ios", 0) < wr["total_ios"] // 32:
            raise BenchError(f"fio on {path}: {sy.get('total_ios', 0)} fsyncs for "
                             f"{wr['total_ios']} writes, not one per 32")
        if os.stat(path).st_size != size:
            raise BenchError(f"fio left {path} at {os.stat(path).st_size} bytes, not {size}")
        return wr["iops"], sy["lat_ns"]["mean"] / 1e9

    def w12(self):
        systems = [MESH, OVL, EXT4]
        size = self.manifest["big.bin"]["size"]
        dirs = self.db_dirs("w12")
        iops = {s: [] for s in systems}
        fsync = {s: [] for s in systems}
        for r in range(self.runs):
            for s in rotated(systems, r):
                # Laid out and closed first, as fio's own layout would (but
                # with random bytes: fio's repeat one block, which meshfs
                # would store as one chunk).  meshfs streams it in; the
                # first random write then moves it to a scratch copy, and
                # that is counted.
                path = f"{dirs[s]}/run{r}.bin"
                shutil.copyfile(f"{self.src}/big.bin", path)
                drop_caches([self.dir])
                i, sync = self.fio_fsync(path, size)
                os.unlink(path)
                iops[s].append(i)
                fsync[s].append(sync)
                log(f"w12 run {r + 1} {s}: {i:,.0f} IOPS, fsync {fmt_s(sync)} on average")
        self.raw["12"] = {"iops": iops, "fsync_mean_s": fsync}
        m, o, e = (median(iops[k]) for k in (MESH, OVL, EXT4))
        self.notes.append("workload 12: mean fsync latency (median of runs): " + "; ".join(
            f"{s} {fmt_s(median(fsync[s]))}" for s in systems))
        self.rows.append(Row(
            "12", f"fio-fsync: fio random 4 KiB writes (psync) to a {fmt_size(size)} file just "
            f"written, fsync every 32 writes, {self.z['fsync_runtime']} s",
            f"{m:,.0f} IOPS", f"overlayfs {o:,.0f}; ext4 {e:,.0f}", f"{x(m / o)} ovl",
            "≥ 0.5× ovl", m >= 0.5 * o))

    def duckdb_api(self):
        cache = os.environ.get("MESH_NPM_CACHE") or \
            os.path.join(os.path.dirname(self.a.meshfs), "npm-duckdb")
        script = os.path.join(self.a.source, "tests/integration/npm_duckdb.sh")
        return run(["bash", script, cache]).stdout.decode().strip()

    def w13(self):
        systems = [MESH, OVL, EXT4]
        api = self.duckdb_api()
        n = self.z["duckdb_txns"]
        dirs = self.db_dirs("w13")
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "duckdb_txn.cjs")
        res = {s: [] for s in systems}
        for r in range(self.runs):
            for s in rotated(systems, r):
                path = f"{dirs[s]}/run{r}.duckdb"
                for p in (path, path + ".wal"):
                    if os.path.exists(p):
                        os.unlink(p)
                out = json.loads(run(["node", script, api, path, str(n)]).stdout.decode()
                                 .splitlines()[-1])
                if out["rows"] != n or out["sum"] != n * (n - 1) // 2:
                    raise BenchError(f"{s}: {path} holds {out['rows']} rows (sum {out['sum']}) "
                                     f"after {n} committed inserts")
                res[s].append(out["seconds"])
                log(f"w13 run {r + 1} {s}: {fmt_s(out['seconds'])}")
        self.raw["13"] = res
        m, o, e = (median(res[k]) for k in (MESH, OVL, EXT4))
        self.rows.append(Row(
            "13", f"duckdb-txn: a DuckDB database file taking {n} committed transactions "
            "(one INSERT each), through close",
            fmt_s(m), f"ext4 {fmt_s(e)}; overlayfs {fmt_s(o)}", f"{x(m / e)} ext4 (time)",
            "≤ 1.5× ext4 time", m <= 1.5 * e))

    # -------------------------------------------------------------- the run

    def workload(self, num, fn):
        t0 = now()
        log(f"== workload {num}")
        try:
            fn()
        except (BenchError, OSError, subprocess.SubprocessError, ValueError, KeyError) as e:
            log(f"workload {num} FAILED: {e}")
            self.failed.append(f"{num}: {e}")
            self.rows.append(Row(str(num), f"workload {num}", f"failed: {str(e)[:200]}",
                                 met="failed"))
            # a mount may have died with the failure: bring the mounts back
            for m in self.fs.values():
                if m.proc is None or m.proc.poll() is not None or not mounted(m.mnt):
                    try:
                        m.restart()
                    except BenchError as e2:
                        log(f"restarting {m.name}: {e2}")
        self.durations.append(f"{num}: {now() - t0:.0f} s")
        log(f"   workload {num} took {now() - t0:.1f} s")

    def main(self):
        t_start = now()
        self.gen_data()
        self.start_mounts()
        self.load_mesh()
        if self.wants(7, 8):
            self.setup_git_tree()
        if self.wants(1, 2):
            self.workload("1-2", self.w1_w2)
        if self.wants(3):
            self.workload(3, self.w3)
        if self.wants(4):
            self.workload(4, self.w4)
        if self.wants(5):
            self.workload(5, self.w5)
        if self.wants(6, 7, 8, 10):
            # Workload 10: the daemon's peak RSS while 6-8 run.  Workload 6
            # remounts for every cold run, so the peak is the largest VmHWM
            # of the daemons that served 6-8, each read just before unmount.
            mesh = self.fs[MESH]
            mesh.restart()
            mesh.hwm_samples = []
            if self.wants(6):
                self.workload(6, self.w6)
            if self.wants(7):
                self.workload(7, self.w7)
            if self.wants(8):
                self.workload(8, self.w8)
            mesh.sample_hwm()
            peak = max(mesh.hwm_samples) if mesh.hwm_samples else 0
            mesh.hwm_samples = None
            self.raw["10"] = peak
            self.rows.append(Row(
                "10", "daemon peak RSS (VmHWM) across workloads 6-8",
                fmt_size(peak), "—", "—", "≤ 256 MiB", 0 < peak <= 256 * MiB))
        if self.wants(9):
            self.workload(9, self.w9)
        if self.wants(11):
            self.workload(11, self.w11)
        if self.wants(12):
            self.workload(12, self.w12)
        if self.wants(13):
            self.workload(13, self.w13)
        self.elapsed = now() - t_start

    # -------------------------------------------------------------- report

    def machine(self):
        model = "?"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) * 1024
        fstype = dev = "?"
        best = ""
        with open("/proc/self/mounts") as f:
            for line in f:
                d, p, t = line.split()[:3]
                if (self.dir == p or self.dir.startswith(p.rstrip("/") + "/")) and len(p) > len(best):
                    best, fstype, dev = p, t, d
        try:
            rev = run(["git", "-C", self.a.source, "describe", "--always", "--dirty"]).stdout.decode().strip()
        except BenchError:
            rev = "?"
        return (f"{os.cpu_count()} cores ({model}), {mem / GiB:.1f} GiB memory, "
                f"kernel {platform.release()}; work dir {self.dir} on {fstype} ({dev}); "
                f"meshfs {rev}")

    def table(self):
        head = ["#", "workload", "meshfs", "reference(s)", "ratio (median)", "target", "met"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        def order(row):
            digits = "".join(c for c in row.num if c.isdigit())
            return (int(digits) if digits else 0, row.num)
        for row in sorted(self.rows, key=order):
            lines.append("| " + " | ".join(one_line(c) for c in row.cells()) + " |")
        return "\n".join(lines)

    def report(self):
        mode = "quick (smoke test: tiny sizes, figures meaningless)" if self.a.quick else "full"
        out = [f"# meshfs benchmark ({mode})", "",
               f"Machine: {self.machine()}", "",
               f"Run: {time.strftime('%Y-%m-%d %H:%M %Z')}, {self.runs} run(s) per system "
               f"alternating, medians; took {getattr(self, 'elapsed', 0) / 60:.1f} min. "
               "Cold = remounted and page cache dropped. meshfs reads go through a commit "
               "view; every read and write is checked by SHA-256 or by count and size.",
               "", self.table(), ""]
        notes = list(self.notes)
        if self.durations:
            notes.append("time per workload: " + ", ".join(self.durations))
        if notes:
            out += ["Notes:", ""] + [f"- {n}" for n in notes] + [""]
        if self.failed:
            out += ["Failures:", ""] + [f"- {one_line(f, 1000)}" for f in self.failed] + [""]
        text = "\n".join(out)
        print(text, flush=True)
        if self.a.out:
            with open(self.a.out, "w") as f:
                f.write(text)
        with open(f"{self.dir}/results.json", "w") as f:
            json.dump({"raw": self.raw, "notes": self.notes, "failed": self.failed,
                       "rows": [r.cells() for r in self.rows]}, f, indent=1, default=str)


def raise_fd_limit():
    """passthrough_ll holds an O_PATH descriptor for every inode the kernel
    knows: a find over 100k files needs more than a usual limit.  Root may
    raise it up to fs.nr_open; the daemons inherit it."""
    try:
        with open("/proc/sys/fs/nr_open") as f:
            want = min(int(f.read()), 1 << 20)
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
    except (OSError, ValueError) as e:
        log(f"the open-file limit stays at {resource.getrlimit(resource.RLIMIT_NOFILE)} ({e})")


def positive_int(text):
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not '{text}'")
    return int(text)


def workload_list(text):
    """'1,3,sqlite-wal' -> {1, 3, 11}; only workloads 1 to 13 exist."""
    parts = [str(NAMED.get(p, p)) for p in text.split(",")]
    if not all(p.isdigit() and 1 <= int(p) <= LAST for p in parts):
        raise argparse.ArgumentTypeError(
            f"takes workload numbers 1 to {LAST} or names ({', '.join(NAMED)}) separated by "
            f"commas (e.g. 1,3), not '{text}'")
    return set(int(p) for p in parts)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--meshfs", required=True)
    ap.add_argument("--passthrough", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--source", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--out")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--runs", type=positive_int)
    ap.add_argument("--only", type=workload_list, help="comma-separated workload numbers")
    ap.add_argument("--keep", action="store_true",
                    help="keep the stores and git repositories for inspection")
    a = ap.parse_args()

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, on_signal)

    raise_fd_limit()
    b = Bench(a)
    try:
        b.main()
    except Exception as e:  # the report and the unmounting must still happen
        import traceback
        traceback.print_exc()
        log(f"FAILED: {e}")
        b.failed.append(f"{type(e).__name__}: {e}")
    finally:
        b.stop_all()
    b.report()
    if not a.keep:
        b.remove_scratch()
    return 1 if b.failed else 0


if __name__ == "__main__":
    sys.exit(main())
