#!/usr/bin/python3
"""bench/import.py - bulk import against cp -a into a branch view and tar | zstd.

    bench/import.py --meshfs build/meshfs [--quick] [--dir DIR] [--big-mib N]
                    [--tree-dirs N] [--jobs N]

The data is the benchmark's own (bench/lib.py): a random big.bin and a CSV
big.csv of --big-mib MiB each (1024 each: 2 GiB) and the tree of --tree-dirs
directories of 1,000 files of 100 bytes (100: 100,000 files), generated once
into DIR/src and reused.  Three runs, each from a cold page cache (root:
drop_caches) and ending with its output on disk (sync -f):
  - meshfs import SRC d/main (CLI on the store, no mount), which commits;
  - cp -a SRC into MOUNT/d/main of a mount of a fresh store, then
    meshfs commit d/main through it;
  - tar -c SRC | zstd -3 > DIR/out.tar.zst.
Prints the three times and the ratios: target cp/import >= 2, import/tar
<= 1.2.  --quick: 16 MiB files and 2,000 tree files (a smoke test).
Not part of the test suite.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import (MiB, FuseMount, ctl, drop_caches, fmt_size, gen_csv, gen_random,  # noqa: E402
                 log, write_tree)


def ensure_data(src, big, tree_dirs):
    """Generates src/ unless a previous run left it of the same sizes."""
    stamp = f"{src}/.made"
    want = json.dumps({"big": big, "tree_dirs": tree_dirs, "version": 1})
    if os.path.exists(stamp) and open(stamp).read() == want:
        return
    shutil.rmtree(src, ignore_errors=True)
    os.makedirs(src)
    log(f"generating {fmt_size(2 * big)} and {tree_dirs * 1000:,} files in {src}")
    gen_random(f"{src}/big.bin", big)
    gen_csv(f"{src}/big.csv", big, 1)
    write_tree(f"{src}/tree", tree_dirs, 1000, threads=4)
    with open(stamp, "w") as f:
        f.write(want)


def fresh_store(meshfs, store):
    shutil.rmtree(store, ignore_errors=True)
    subprocess.run([meshfs, "init", "--store", store], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([meshfs, "domain", "create", "d", "--store", store], check=True,
                   stdout=subprocess.DEVNULL)


def cold(d):
    try:
        drop_caches([d])
    except OSError:
        log("cannot drop caches (not root): warm runs")


def time_import(meshfs, d, src, jobs):
    store = f"{d}/store-import"
    fresh_store(meshfs, store)
    cold(d)
    cmd = [meshfs, "import", src, "d/main", "-m", "import", "--json", "--store", store]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    subprocess.run(["sync", "-f", store])
    dt = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit(f"meshfs import failed: {p.stdout!r} {p.stderr!r}")
    ans = json.loads(p.stdout)
    return dt, ans, store


def time_cp(meshfs, d, src):
    store, mnt = f"{d}/store-cp", f"{d}/mnt"
    fresh_store(meshfs, store)
    os.makedirs(mnt, exist_ok=True)
    m = FuseMount("meshfs", mnt, [meshfs, "mount", mnt, "--store", store, "--foreground",
                                  "--log-level", "warn"], f"{d}/daemon.log")
    m.start()
    try:
        cold(d)
        t0 = time.monotonic()
        subprocess.run(["cp", "-a", src, f"{mnt}/d/main/"], check=True)
        ctl(mnt, "commit d/main -m cp")
        subprocess.run(["sync", "-f", store])
        dt = time.monotonic() - t0
    finally:
        m.stop()
    shutil.rmtree(store, ignore_errors=True)
    return dt


def time_tar(d, src):
    out = f"{d}/out.tar.zst"
    cold(d)
    t0 = time.monotonic()
    subprocess.run(f"tar -C '{os.path.dirname(src)}' -c '{os.path.basename(src)}' | "
                   f"zstd -3 -q -f -o '{out}'", shell=True, check=True)
    subprocess.run(["sync", "-f", out])
    dt = time.monotonic() - t0
    size = os.path.getsize(out)
    os.unlink(out)
    return dt, size


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--meshfs", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--big-mib", type=int, default=None)
    ap.add_argument("--tree-dirs", type=int, default=None)
    ap.add_argument("--jobs", type=int, default=0)
    a = ap.parse_args()
    meshfs = os.path.abspath(a.meshfs)
    d = a.dir or ("/var/tmp/meshfs-bench-import-quick" if a.quick else "/var/tmp/meshfs-bench-import")
    big = (a.big_mib or (16 if a.quick else 1024)) * MiB
    tree_dirs = a.tree_dirs or (2 if a.quick else 100)
    os.makedirs(d, exist_ok=True)
    src = f"{d}/src"
    ensure_data(src, big, tree_dirs)
    t_imp, ans, store = time_import(meshfs, d, src, a.jobs)
    log(f"meshfs import: {t_imp:.2f} s ({ans['files']:,} files)")
    t_tar, tar_size = time_tar(d, src)
    log(f"tar | zstd -3: {t_tar:.2f} s ({fmt_size(tar_size)})")
    t_cp = time_cp(meshfs, d, src)
    log(f"cp -a + commit: {t_cp:.2f} s")
    stored = int(subprocess.run(["du", "-sb", store], stdout=subprocess.PIPE,
                                text=True).stdout.split()[0])
    shutil.rmtree(store, ignore_errors=True)
    r_cp, r_tar = t_cp / t_imp, t_imp / t_tar
    print("| # | workload | meshfs | reference(s) | ratio | target | met |")
    print("|---|---|---|---|---|---|---|")
    print(f"| import | import of {fmt_size(2 * big)} + {tree_dirs * 1000:,} files "
          f"({ans['files']:,} files, store {fmt_size(stored)}), cold cache | "
          f"{t_imp:.2f} s | cp -a into a branch view + commit {t_cp:.2f} s; "
          f"tar -c \\| zstd -3 {t_tar:.2f} s ({fmt_size(tar_size)}) | "
          f"cp/import {r_cp:.2f}×; import/tar {r_tar:.2f}× | ≥ 2× cp; ≤ 1.2× tar | "
          f"{'yes' if r_cp >= 2 and r_tar <= 1.2 else 'no'} |")


if __name__ == "__main__":
    main()
