#!/usr/bin/python3
"""bench/catalog.py - catalog search over 10,000 data products.

    bench/catalog.py --meshfs build/meshfs [--catbench BIN] [--quick] [--dir DIR]
                     [--products N] [--queries N] [--runs N]

Fills a store with --products products (default 10,000; each a domain
with a card, a contract of six columns and a CSV, committed through core
by mesh_catbench, built beside meshfs: minutes, not hours; every 20th has
readers in the audit log) once and keeps it in DIR for the next run.
Then, --runs times (default 5), mesh_catbench opens the store, brings the
index up to date and times --queries queries (default 50, 1 to 3 words
drawn like the products' words) with the core's search call: the first
time each query runs in the handle (cold access-rule cache and SQLite
pages), again (warm), and again after a write to the metadata database
(so the search compares every indexed head with the refs first, as it
does whenever anything was written since).  The median and p95 of each
run are taken, and the median of those over the runs is printed against
the target of 50 ms.  The CLI (`meshfs catalog search ... --json` on the
store: process start, store open, search) is timed on the first 20
queries, and the index is built from nothing once (its file removed).
--quick: 1,000 products, 20 queries, 1 run (a smoke test).
Not part of the test suite.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import log, median  # noqa: E402

TARGET_MS = 50


def p95(xs):
    xs = sorted(xs)
    return xs[max(0, int(round(0.95 * len(xs))) - 1)]


def catbench(binary, store, products, queries):
    p = subprocess.run([binary, store, str(products), str(queries)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        raise SystemExit(f"mesh_catbench failed: {p.stderr[-2000:]}")
    return json.loads(p.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--meshfs", required=True)
    ap.add_argument("--catbench", default=None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--products", type=int, default=None)
    ap.add_argument("--queries", type=int, default=None)
    ap.add_argument("--runs", type=int, default=None)
    a = ap.parse_args()
    meshfs = os.path.abspath(a.meshfs)
    cb = os.path.abspath(a.catbench or os.path.join(os.path.dirname(meshfs), "mesh_catbench"))
    if not os.access(cb, os.X_OK):
        raise SystemExit(f"no mesh_catbench at {cb} (cmake --build BUILD --target mesh_catbench)")
    products = a.products or (1000 if a.quick else 10000)
    nq = a.queries or (20 if a.quick else 50)
    runs = a.runs or (1 if a.quick else 5)
    d = a.dir or ("/var/tmp/meshfs-bench-catalog-quick" if a.quick
                  else "/var/tmp/meshfs-bench-catalog")
    store = f"{d}/store-{products}"
    os.makedirs(d, exist_ok=True)
    if not os.path.exists(f"{store}/.filled"):
        shutil.rmtree(store, ignore_errors=True)
        subprocess.run([meshfs, "init", "--store", store], check=True, stdout=subprocess.DEVNULL)
        log(f"making {products} products in {store}")
        t0 = time.monotonic()
        first = catbench(cb, store, products, 1)
        log(f"made {first['made']} products in {first['fill_seconds']:.1f} s, indexed in "
            f"{first['index_seconds']:.1f} s ({time.monotonic() - t0:.1f} s in all)")
        open(f"{store}/.filled", "w").close()

    # The index from nothing: its file is a cache.
    for f in ("catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm"):
        if os.path.exists(f"{store}/{f}"):
            os.unlink(f"{store}/{f}")
    build = catbench(cb, store, products, 1)
    index_s = build["index_seconds"]
    log(f"index of {products} products built in {index_s:.2f} s")

    figures = {"first_ms": [], "warm_ms": [], "compare_ms": []}
    p95s = {k: [] for k in figures}
    totals = queries = None
    for r in range(runs):
        res = catbench(cb, store, products, nq)
        queries, totals = res["queries"], res["totals"]
        for k in figures:
            figures[k].append(median(res[k]))
            p95s[k].append(p95(res[k]))
        log(f"run {r + 1}: first {figures['first_ms'][-1]:.1f} ms, warm "
            f"{figures['warm_ms'][-1]:.1f} ms, compared {figures['compare_ms'][-1]:.1f} ms "
            f"(medians; p95 {p95s['warm_ms'][-1]:.1f} / {p95s['compare_ms'][-1]:.1f} ms)")

    cli = []
    for q in queries[:20]:
        t0 = time.monotonic()
        p = subprocess.run([meshfs, "catalog", "search", *q.split(), "--json", "--store", store],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        cli.append((time.monotonic() - t0) * 1000)
        if p.returncode != 0:
            raise SystemExit(f"meshfs catalog search {q} failed: {p.stderr}")
    hits = sorted(totals)

    def row(name, what, key):
        med, tail = median(figures[key]), median(p95s[key])
        met = "yes" if tail < TARGET_MS else ("median only" if med < TARGET_MS else "no")
        print(f"| {name} | {what} | {med:.1f} ms median, {tail:.1f} ms p95 | < {TARGET_MS} ms "
              f"| {met} |")

    print("| # | workload | meshfs | target | met |")
    print("|---|---|---|---|---|")
    what = (f"catalog search of {products:,} products, {nq} queries of 1-3 words "
            f"(hits: median {statistics.median(hits):.0f}, max {hits[-1]}), core call, "
            f"medians of {runs} run(s)")
    row("k1", what + ", warm", "warm_ms")
    row("k2", "the same, after a write (every indexed head compared with the refs)",
        "compare_ms")
    row("k3", "the same, each query's first run in a fresh store handle", "first_ms")
    print(f"| k4 | `meshfs catalog search --json` on the store, 20 queries (process start "
          f"and store open included) | {median(cli):.0f} ms median, {p95(cli):.0f} ms p95 | "
          f"- | - |")
    print(f"| k5 | building the index of {products:,} products from nothing | {index_s:.1f} s "
          f"| - | - |")
    print(f"\nload average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
