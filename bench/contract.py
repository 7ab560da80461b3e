#!/usr/bin/python3
"""bench/contract.py - throughput of a data contract's CSV check.

    bench/contract.py --meshfs build/meshfs [--quick] [--dir DIR] [--mib N] [--runs N]

Generates a CSV of --mib MiB (default 500; bench/lib.py's rows: id, date,
customer, qty, amount, region, with a header line) into DIR/src once,
imports it into a fresh store (meshfs import, which commits), stages a
contract through `meshfs contract import` and commits it, then times
`meshfs contract check d/main` (CLI on the store, no mount) --runs times
(default 3) and prints the median throughput against the target of
200 MB/s (decimal megabytes: bytes / 1e6 / seconds of wall time), and the
bytes per second of CPU time the check used (user + system, all its
threads), which the other jobs of a shared machine disturb less.  The contract has a
rule of each kind a row is checked by: a primary key (integer, unique:
a hash set of every id), a required date, quantity minimum and maximum,
a number, validValues of the region and a rowCount.  The first run reads
the objects from disk (root: the page cache is dropped before it), the
others warm.  --quick: 16 MiB, one run (a smoke test).
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
from lib import MiB, drop_caches, fmt_size, gen_csv, log, median  # noqa: E402

HEADER = b"id,date,customer,qty,amount,region\n"

CONTRACT = """apiVersion: v3.0.2
kind: DataContract
name: sales
servers:
  - server: lake
    type: local
    path: data/*.csv
    format: csv
schema:
  - name: sales
    properties:
      - name: id
        logicalType: integer
        primaryKey: true
      - name: date
        logicalType: date
        required: true
      - name: qty
        logicalType: integer
        logicalTypeOptions:
          minimum: 1
          maximum: 999
      - name: amount
        logicalType: number
      - name: region
        quality:
          - metric: invalidValues
            mustBe: 0
            arguments:
              validValues: [eu-wst, eu-est, us-wst, us-est, ap-sth, ap-nth, sa-est, af-sth]
    quality:
      - metric: rowCount
        mustBeGreaterThan: 0
"""


def ensure_data(src, size):
    stamp = f"{src}/.made"
    want = json.dumps({"size": size, "version": 1})
    if os.path.exists(stamp) and open(stamp).read() == want:
        return
    shutil.rmtree(src, ignore_errors=True)
    os.makedirs(f"{src}/data")
    log(f"generating a {fmt_size(size)} CSV in {src}")
    body = f"{src}/body.tmp"
    gen_csv(body, size - len(HEADER), 1)
    with open(f"{src}/data/sales.csv", "wb") as out, open(body, "rb") as f:
        out.write(HEADER)
        shutil.copyfileobj(f, out, 8 * MiB)
    os.unlink(body)
    with open(stamp, "w") as f:
        f.write(want)


def meshfs_run(meshfs, store, *args):
    p = subprocess.run([meshfs, *args, "--store", store], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise SystemExit(f"meshfs {' '.join(args)} failed: {p.stdout} {p.stderr}")
    return p.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--meshfs", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--mib", type=int, default=None)
    ap.add_argument("--runs", type=int, default=None)
    a = ap.parse_args()
    meshfs = os.path.abspath(a.meshfs)
    d = a.dir or ("/var/tmp/meshfs-bench-contract-quick" if a.quick
                  else "/var/tmp/meshfs-bench-contract")
    size = (a.mib or (16 if a.quick else 500)) * MiB
    runs = a.runs or (1 if a.quick else 3)
    os.makedirs(d, exist_ok=True)
    src = f"{d}/src"
    ensure_data(src, size)
    os.makedirs(f"{d}/in", exist_ok=True)
    store = f"{d}/store"
    shutil.rmtree(store, ignore_errors=True)
    meshfs_run(meshfs, store, "init")
    meshfs_run(meshfs, store, "domain", "create", "d")
    meshfs_run(meshfs, store, "import", src, "d/main", "-m", "data")
    with open(f"{d}/in/sales.yaml", "w") as f:
        f.write(CONTRACT)
    meshfs_run(meshfs, store, "contract", "import", f"{d}/in/sales.yaml", "d/main")
    meshfs_run(meshfs, store, "commit", "d/main", "-m", "contract")
    rows = [("c1", "primary key, required, min/max, number, validValues, rowCount",
             measure(meshfs, store, d, runs))]
    # The same contract without the key column's hash set.
    with open(f"{d}/in/sales.yaml", "w") as f:
        f.write(CONTRACT.replace("        primaryKey: true\n", ""))
    meshfs_run(meshfs, store, "contract", "import", f"{d}/in/sales.yaml", "d/main")
    meshfs_run(meshfs, store, "commit", "d/main", "-m", "no key")
    rows.append(("c2", "the same without the primary key",
                 measure(meshfs, store, d, runs)))
    shutil.rmtree(store, ignore_errors=True)
    print("| # | workload | meshfs | target | met |")
    print("|---|---|---|---|---|")
    for name, what, (checked, times, cpu) in rows:
        rate = checked / 1e6 / median(times)
        print(f"| {name} | contract check of a {checked / 1e6:,.0f} MB CSV ({what}), median of "
              f"{runs} | {rate:,.0f} MB/s (first run {checked / 1e6 / times[0]:,.0f} MB/s; per "
              f"CPU second {checked / 1e6 / median(cpu):,.0f} MB/s; load "
              f"{os.getloadavg()[0]:.1f}) | >= 200 MB/s | {'yes' if rate >= 200 else 'no'} |")


def measure(meshfs, store, d, runs):
    """Bytes checked, wall and CPU seconds of each run."""
    times, cpu = [], []
    checked = 0
    for r in range(runs):
        if r == 0:
            try:
                drop_caches([d])
            except OSError:
                log("cannot drop caches (not root): the first run is warm too")
        t0 = time.monotonic()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        ans = json.loads(meshfs_run(meshfs, store, "contract", "check", "d/main", "--json"))
        dt = time.monotonic() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(ru1.ru_utime - ru0.ru_utime + ru1.ru_stime - ru0.ru_stime)
        if ans["failures"] or ans["files"] != 1:
            raise SystemExit(f"the check did not hold: {ans}")
        checked = ans["bytes"]
        times.append(dt)
        log(f"run {r + 1}: {checked / 1e6 / dt:,.0f} MB/s ({dt:.2f} s; CPU {cpu[-1]:.2f} s)")
    return checked, times, cpu


if __name__ == "__main__":
    main()
