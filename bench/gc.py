#!/usr/bin/python3
"""bench/gc.py - garbage collection on a 100,000-file domain with 100 commits.

    bench/gc.py --meshfs build/meshfs [--quick] [--dir DIR]

Builds a store through a mount (100 directories of 1,000 files of 100 bytes,
committed; then 99 more commits, each rewriting 100 files; plus a branch of
the same size deleted with retention 0, whose data is garbage), unmounts,
and times `meshfs gc` on the store (CLI without a mount), once with
--dry-run and once for real.  Prints a table row: gc wall time, peak RSS of
the gc process (ru_maxrss of the child), objects live and removed.  --quick
uses 2,000 files and 10 commits (a smoke test; its figures mean nothing).
Not part of the test suite.
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import FuseMount, ctl, fmt_size, write_tree, log  # noqa: E402


def gc_once(meshfs, store, dry_run):
    """Runs meshfs gc in a child; returns (answer, seconds, peak RSS bytes)."""
    cmd = [meshfs, "gc", "--json", "--store", store] + (["--dry-run"] if dry_run else [])
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dt = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {p.stdout!r} {p.stderr!r}")
    return json.loads(p.stdout), dt


def measured(meshfs, store, dry_run):
    """gc in a grandchild: ru_maxrss of children is the largest of any
    child so far, and the mount (a child too) is bigger."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        ans, dt = gc_once(meshfs, store, dry_run)
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        os.write(w, json.dumps([ans, dt, rss]).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        data += b
    os.waitpid(pid, 0)
    return json.loads(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--meshfs", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--dir", default=None)
    a = ap.parse_args()
    meshfs = os.path.abspath(a.meshfs)
    d = a.dir or ("/var/tmp/meshfs-bench-gc-quick" if a.quick else "/var/tmp/meshfs-bench-gc")
    ndirs, per_dir, commits = (20, 100, 10) if a.quick else (100, 1000, 100)
    shutil.rmtree(d, ignore_errors=True)
    store, mnt = f"{d}/store", f"{d}/mnt"
    os.makedirs(mnt)
    subprocess.run([meshfs, "init", "--store", store], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([meshfs, "domain", "create", "sales", "--store", store], check=True,
                   stdout=subprocess.DEVNULL)
    m = FuseMount("meshfs", mnt, [meshfs, "mount", mnt, "--store", store, "--foreground",
                                  "--log-level", "warn"], f"{d}/daemon.log")
    t0 = time.monotonic()
    m.start()
    try:
        write_tree(f"{mnt}/sales/main/t", ndirs, per_dir, threads=4)
        ctl(mnt, "commit sales/main -m base")
        for c in range(1, commits):
            sub = f"{mnt}/sales/main/t/d{c % ndirs:03d}"
            for i in range(100):
                with open(f"{sub}/f{i:04d}", "wb") as f:
                    f.write(b"commit %d file %d\n" % (c, i) * 5)
            ctl(mnt, f"commit sales/main -m c{c}")
        ctl(mnt, "branch create sales/gone --from main")
        write_tree(f"{mnt}/sales/gone/extra", ndirs, per_dir // 10, threads=4)
        for i in range(ndirs * per_dir // 1000 or 1):
            with open(f"{mnt}/sales/gone/big{i}.bin", "wb") as f:
                f.write(os.urandom(1 << 20))
        ctl(mnt, "commit sales/gone -m doomed")
        ctl(mnt, "branch delete sales/gone")
        ctl(mnt, "domain set sales retention 0")
    finally:
        m.stop()
    log(f"store built in {time.monotonic() - t0:.1f} s")
    dry, dry_s, dry_rss = measured(meshfs, store, True)
    real, real_s, real_rss = measured(meshfs, store, False)
    again, again_s, again_rss = measured(meshfs, store, False)
    if real["removed_objects"] != dry["removed_objects"] or again["removed_objects"] != 0:
        raise SystemExit(f"gc counts disagree: dry {dry}, real {real}, again {again}")
    files = ndirs * per_dir
    print("| # | workload | meshfs | reference(s) | ratio (median) | target | met |")
    print("|---|---|---|---|---|---|---|")
    print(f"| gc | gc of a {files:,}-file domain with {commits} commits and a deleted "
          f"branch (retention 0), CLI on the store | {real_s:.2f} s, peak RSS "
          f"{fmt_size(real_rss)}; {real['live_objects']:,} live objects kept, "
          f"{real['removed_objects']:,} removed ({fmt_size(real['removed_bytes'])}) | "
          f"dry run {dry_s:.2f} s ({fmt_size(dry_rss)}); second run {again_s:.2f} s "
          f"({fmt_size(again_rss)}), nothing left | — | memory ∝ live objects | — |")
    shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
