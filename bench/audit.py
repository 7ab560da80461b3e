#!/usr/bin/python3
"""bench/audit.py - what the audit log costs (issue 10).

The same workloads on one store, mounted with auditing on (the default) and
with -o noaudit, alternating which goes first:

  - cold sequential read of a large file (fresh mount, page cache dropped),
  - warm sequential read of it (right after, same mount),
  - write 10,000 files of 2 KiB in 100 directories, then commit.

A read costs one record per open, never per read call; a small file costs
two (create, and the write at its close).  Prints one markdown table with
the medians and the ratio on/off (and that of the fastest runs); target:
within 5 % (ratio <= 1.05).
Needs root (mounts, /proc/sys/vm/drop_caches).

usage: bench/audit.py [--meshfs BIN] [--dir DIR] [--size MIB] [--files N]
                      [--runs N] [--quick]
"""
import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MiB = 1 << 20
SMALL_SIZE = 2048


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def drop_caches(paths):
    for p in paths:
        subprocess.run(["sync", "-f", p], capture_output=True)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def ctl(mnt, line):
    fd = os.open(f"{mnt}/.control", os.O_RDWR)
    try:
        try:
            os.write(fd, line.encode())
        except OSError as e:
            raise SystemExit(f"bench/audit: '{line}' failed: {e}: {os.pread(fd, 65536, 0)!r}")
        return json.loads(os.pread(fd, 1 << 20, 0))
    finally:
        os.close(fd)


class Mount:
    def __init__(self, binary, store, mnt, audit):
        self.binary, self.store, self.mnt, self.audit = binary, store, mnt, audit
        self.proc = None

    def __enter__(self):
        cmd = [self.binary, "mount", self.mnt, "--store", self.store, "--foreground",
               "--log-level", "error"]
        if not self.audit:
            cmd += ["-o", "noaudit"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.time() + 30
        while time.time() < end:
            if os.path.ismount(self.mnt) and os.path.exists(f"{self.mnt}/.control"):
                return self
            if self.proc.poll() is not None:
                raise SystemExit(f"bench/audit: meshfs mount exited {self.proc.returncode}")
            time.sleep(0.05)
        raise SystemExit(f"bench/audit: {self.mnt} did not come up")

    def cpu(self):
        """CPU seconds the daemon has used (all its threads)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __exit__(self, *exc):
        subprocess.run([self.binary, "umount", self.mnt], capture_output=True)
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def read_all(path):
    h = hashlib.sha256()
    t0 = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while True:
            b = f.read(MiB)
            if not b:
                break
            h.update(b)
    return time.perf_counter() - t0, h.hexdigest()


def write_small(root, n, data):
    per_dir = 100
    for d in range((n + per_dir - 1) // per_dir):
        os.mkdir(f"{root}/d{d:03d}")
    for i in range(n):
        fd = os.open(f"{root}/d{i // per_dir:03d}/f{i % per_dir:04d}",
                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, data[i * SMALL_SIZE:(i + 1) * SMALL_SIZE])
        os.close(fd)


def make_big(binary, store, mnt, size):
    """The large file, written and committed once (with auditing on)."""
    with Mount(binary, store, mnt, True):
        ctl(mnt, "domain create big")
        block = os.urandom(4 * MiB)
        h = hashlib.sha256()
        with open(f"{mnt}/big/main/big.bin", "wb") as f:
            for k in range(size // len(block)):
                chunk = block[:8] + k.to_bytes(8, "little") + block[16:]
                f.write(chunk)
                h.update(chunk)
        ans = ctl(mnt, "commit big/main -m big")
    return ans["commit"], h.hexdigest()


def median(xs):
    return statistics.median(xs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--meshfs", default=f"{HERE}/../build/meshfs")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--size", type=int, default=512, help="MiB of the large file")
    ap.add_argument("--files", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.size, a.files, a.runs = 16, 500, 1
    if os.geteuid() != 0:
        sys.exit("bench/audit: must run as root (mounts, drop_caches)")
    binary = os.path.abspath(a.meshfs)
    work = tempfile.mkdtemp(prefix="meshfs-audit-", dir=a.dir)
    store, mnt = f"{work}/store", f"{work}/mnt"
    os.makedirs(mnt)
    res = {m: {"cold": [], "warm": [], "small": [], "small_cpu": []} for m in ("on", "off")}
    try:
        subprocess.run([binary, "init", "--store", store], check=True, capture_output=True)
        log(f"writing the {a.size} MiB file")
        commit, want = make_big(binary, store, mnt, a.size * MiB)
        big = f"{mnt}/big/{commit}/big.bin"
        for r in range(a.runs):
            for mode in (("on", "off") if r % 2 == 0 else ("off", "on")):
                with Mount(binary, store, mnt, mode == "on") as m:
                    drop_caches([work])
                    cold, got = read_all(big)
                    warm, got2 = read_all(big)
                    if got != want or got2 != want:
                        sys.exit("bench/audit: the large file reads back wrong")
                    dom = f"s{r}{mode}"
                    ctl(mnt, f"domain create {dom}")
                    data = os.urandom(a.files * SMALL_SIZE)
                    drop_caches([work])
                    c0, t0 = m.cpu(), time.perf_counter()
                    write_small(f"{mnt}/{dom}/main", a.files, data)
                    ctl(mnt, f"commit {dom}/main -m small")
                    small = time.perf_counter() - t0
                    small_cpu = m.cpu() - c0
                res[mode]["cold"].append(cold)
                res[mode]["warm"].append(warm)
                res[mode]["small"].append(small)
                res[mode]["small_cpu"].append(small_cpu)
                log(f"run {r + 1} audit {mode}: cold {cold:.2f} s, warm {warm:.2f} s, "
                    f"{a.files} files + commit {small:.2f} s (daemon CPU {small_cpu:.2f} s)")
        records = subprocess.run([binary, "audit", "--op", "create", "--json", "--store", store],
                                 capture_output=True, text=True)
        created = json.loads(records.stdout)["count"] if records.returncode == 0 else -1
    finally:
        if os.path.ismount(mnt):
            subprocess.run(["fusermount3", "-u", mnt], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)

    def rate(s):
        return f"{a.size / s:.0f} MiB/s"

    rows = [
        ("cold sequential read", f"{a.size} MiB", "cold", rate),
        ("warm sequential read", f"{a.size} MiB", "warm", rate),
        ("write + commit", f"{a.files:,} files of 2 KiB", "small", lambda s: f"{s:.2f} s"),
        ("  its daemon CPU time", f"{a.files:,} files of 2 KiB", "small_cpu",
         lambda s: f"{s:.2f} s"),
    ]
    # The best of the runs as well: other load on the machine only ever
    # adds time, so the fastest runs are the least disturbed.
    print("| workload | size | audit on | audit off (-o noaudit) | on / off (time) | "
          "best on / best off | target |")
    print("|---|---|---|---|---|---|---|")
    for name, size, key, fmt in rows:
        on, off = median(res["on"][key]), median(res["off"][key])
        ratio = on / off
        best = min(res["on"][key]) / min(res["off"][key])
        print(f"| {name} | {size} | {fmt(on)} | {fmt(off)} | {ratio:.3f} | {best:.3f} | "
              f"≤ 1.05: {'met' if ratio <= 1.05 else 'MISSED'} |")
    print(f"\n{a.runs} run(s) each, medians; create records written with auditing on: {created} "
          f"(expected {a.files * a.runs + 1})")


if __name__ == "__main__":
    main()
