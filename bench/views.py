#!/usr/bin/python3
"""bench/views.py - the daemon's memory with many branch views (issue 9).

Creates N branches in one domain, looks at each once (stat of
MOUNT/D/bK/ and of a file in it: the view is opened), and reports the
daemon's RSS before, after opening them and after deleting them, with the
time the deletes took.  For reference, fuse-overlayfs over an ext4
directory of N subdirectories gets the same stats in the same run, and the
ratio of the two RSS growths is printed.  Target: RSS after N = 20,000 views
<= 256 MiB.

usage: bench/views.py [--meshfs BIN] [--views N] [--dir DIR]
"""
import argparse, os, shutil, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def wait_mount(mnt, probe, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if os.path.ismount(mnt) and os.path.exists(probe):
            return
        time.sleep(0.05)
    sys.exit(f"bench/views: {mnt} did not come up")


def ctl(mnt, line):
    fd = os.open(f"{mnt}/.control", os.O_RDWR)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def daemon_pid(mnt):
    out = subprocess.run(["pgrep", "-f", f"mount {mnt}"], capture_output=True, text=True).stdout.split()
    if not out:
        sys.exit("bench/views: no daemon")
    return int(out[0])


def meshfs_case(binary, work, n):
    store, mnt = f"{work}/store", f"{work}/mnt"
    os.makedirs(mnt)
    env = dict(os.environ, MESHFS_STORE=store)
    subprocess.run([binary, "init"], env=env, check=True, capture_output=True)
    subprocess.run([binary, "domain", "create", "d"], env=env, check=True, capture_output=True)
    proc = subprocess.Popen([binary, "mount", mnt, "--foreground", "--log-level", "error"],
                            env=env, stderr=subprocess.DEVNULL)
    try:
        wait_mount(mnt, f"{mnt}/.control")
        with open(f"{mnt}/d/main/seed.txt", "w") as f:
            f.write("seed\n")
        ctl(mnt, "commit d/main -m seed")
        for k in range(n):
            ctl(mnt, f"branch create d/b{k}")
        base = rss_kib(proc.pid)
        for k in range(n):
            os.stat(f"{mnt}/d/b{k}/seed.txt")
        opened = rss_kib(proc.pid)
        t0 = time.time()
        for k in range(n):
            ctl(mnt, f"branch delete d/b{k}")
        delete_s = time.time() - t0
        time.sleep(1)
        after = rss_kib(proc.pid)
        return base, opened, after, delete_s
    finally:
        subprocess.run(["fusermount3", "-u", mnt], capture_output=True)
        proc.wait(timeout=60)


def overlay_case(work, n):
    lower, upper, wd, mnt = (f"{work}/{x}" for x in ("lower", "upper", "work", "omnt"))
    for d in (lower, upper, wd, mnt):
        os.makedirs(d)
    for k in range(n):
        os.makedirs(f"{lower}/b{k}")
        with open(f"{lower}/b{k}/seed.txt", "w") as f:
            f.write("seed\n")
    proc = subprocess.Popen(["fuse-overlayfs", "-f", "-o",
                             f"lowerdir={lower},upperdir={upper},workdir={wd}", mnt],
                            stderr=subprocess.DEVNULL)
    try:
        wait_mount(mnt, f"{mnt}/b0")
        base = rss_kib(proc.pid)
        for k in range(n):
            os.stat(f"{mnt}/b{k}/seed.txt")
        return base, rss_kib(proc.pid)
    finally:
        subprocess.run(["fusermount3", "-u", mnt], capture_output=True)
        proc.wait(timeout=60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--meshfs", default=f"{HERE}/../build/meshfs")
    ap.add_argument("--views", type=int, default=20000)
    ap.add_argument("--dir", default=None)
    a = ap.parse_args()
    if a.views < 1:
        sys.exit("bench/views: --views must be at least 1")
    work = tempfile.mkdtemp(prefix="meshfs-views-", dir=a.dir)
    try:
        base, opened, after, delete_s = meshfs_case(os.path.abspath(a.meshfs), work, a.views)
        obase, oopened = overlay_case(work, a.views)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    mib = lambda k: k / 1024
    grow, ogrow = opened - base, max(oopened - obase, 1)
    print(f"| views | meshfs RSS: start / after {a.views} views / after deleting them | "
          f"deletes | fuse-overlayfs RSS: start / after | growth ratio | target |")
    print(f"| {a.views} | {mib(base):.0f} / {mib(opened):.0f} / {mib(after):.0f} MiB | "
          f"{delete_s:.1f} s ({delete_s / a.views * 1000:.2f} ms each) | "
          f"{mib(obase):.0f} / {mib(oopened):.0f} MiB | {grow / ogrow:.2f}x | "
          f"RSS <= 256 MiB: {'met' if mib(opened) <= 256 else 'MISSED'} |")


if __name__ == "__main__":
    main()
