"""System-call level checks of a meshfs branch view, for test_posix.sh.

Run with /usr/bin/python3:
  posix_checks.py base   BRANCH               committed starting data
  posix_checks.py checks BRANCH COMMITVIEW MNT STATE
        every POSIX check against BRANCH (COMMITVIEW = the commit of 'base'),
        then the resulting tree's sizes, modes, mtimes and hashes into STATE
  posix_checks.py verify VIEW STATE        VIEW matches STATE exactly

Each check runs even when an earlier one failed; all failures are listed and
the exit status is 1 when there is any.
"""

import errno
import fcntl
import hashlib
import json
import mmap
import os
import random
import stat
import subprocess
import sys
import time
import traceback

MiB = 1 << 20


def blob(seed, size):
    return random.Random(seed).randbytes(size)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data, mode=0o644):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
    finally:
        os.close(fd)


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(MiB)
            if not b:
                return h.hexdigest()
            h.update(b)


def expect_errno(want, fn, *args):
    """fn(*args) must fail with one of the errnos in want (an int or tuple)."""
    wants = want if isinstance(want, tuple) else (want,)
    try:
        fn(*args)
    except OSError as e:
        if e.errno not in wants:
            raise AssertionError("%s%r: errno %s, expected %s" % (
                fn.__name__, args, errno.errorcode.get(e.errno, e.errno),
                "/".join(errno.errorcode[w] for w in wants)))
        return
    raise AssertionError("%s%r succeeded, expected %s" % (
        fn.__name__, args, "/".join(errno.errorcode[w] for w in wants)))


def eq(want, got, what):
    if want != got:
        if isinstance(want, bytes) and len(want) > 64:
            raise AssertionError("%s: bytes differ (len %d vs %d)" % (what, len(want), len(got)))
        raise AssertionError("%s: expected %r, got %r" % (what, want, got))


# ------------------------------------------------------------------ base

BIG_BLOCK = blob(99, MiB)


def base(b):
    write(f"{b}/committed.txt", b"committed line\n" * 100)
    write(f"{b}/trunc.txt", b"T" * 10000)
    write(f"{b}/append.txt", b"A" * 5000)
    write(f"{b}/rdwr.bin", blob(1, MiB))
    write(f"{b}/mmap.bin", blob(2, 300 * 1024))
    write(f"{b}/shrink.txt", b"S" * 8000)
    write(f"{b}/victim.txt", b"doomed\n")
    write(f"{b}/over_src.txt", b"new source\n")
    write(f"{b}/over_target.txt", b"old target\n")
    write(f"{b}/modes.txt", b"mode\n", 0o644)
    os.makedirs(f"{b}/olddir/sub")
    write(f"{b}/olddir/sub/f1.txt", b"one\n")
    write(f"{b}/olddir/sub/f2.txt", b"two\n")
    write(f"{b}/olddir/g.txt", b"gee\n")
    os.mkdir(f"{b}/nonempty")
    write(f"{b}/nonempty/child.txt", b"child\n")
    os.mkdir(f"{b}/big")
    fd = os.open(f"{b}/big/big.bin", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    for _ in range(64):
        os.write(fd, BIG_BLOCK)
    os.close(fd)


# ------------------------------------------------------------------ checks

def check_create(b, c, m):
    p = f"{b}/new.txt"
    fd = os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.write(fd, b"hello new\n")
    os.close(fd)
    eq(b"hello new\n", read(p), "content of a created file")
    eq(0o600, stat.S_IMODE(os.stat(p).st_mode), "mode of a created file")
    expect_errno(errno.EEXIST, os.open, p, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    assert "new.txt" in os.listdir(b), "new.txt not listed"
    expect_errno(errno.ENOENT, os.stat, f"{b}/no-such-file")


def check_o_trunc(b, c, m):
    fd = os.open(f"{b}/trunc.txt", os.O_WRONLY | os.O_TRUNC)
    eq(0, os.fstat(fd).st_size, "size right after O_TRUNC")
    os.write(fd, b"short")
    os.close(fd)
    eq(b"short", read(f"{b}/trunc.txt"), "branch content after O_TRUNC")
    eq(b"T" * 10000, read(f"{c}/trunc.txt"), "committed content after O_TRUNC in the branch")


def check_o_append(b, c, m):
    fd = os.open(f"{b}/append.txt", os.O_WRONLY | os.O_APPEND)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, b"xyz")
    eq(5003, os.fstat(fd).st_size, "fstat size after an O_APPEND write")
    os.close(fd)
    eq(b"A" * 5000 + b"xyz", read(f"{b}/append.txt"), "branch content after O_APPEND")
    eq(b"A" * 5000, read(f"{c}/append.txt"), "committed content after O_APPEND in the branch")
    with open(f"{b}/append.txt", "ab") as f:
        f.write(b"!")
    eq(5004, os.stat(f"{b}/append.txt").st_size, "size after python append mode")


def check_o_rdwr(b, c, m):
    orig = blob(1, MiB)
    fd = os.open(f"{b}/rdwr.bin", os.O_RDWR)
    eq(orig[500000:500100], os.pread(fd, 100, 500000), "pread of a committed file opened O_RDWR")
    eq(3, os.pwrite(fd, b"XYZ", 500000), "pwrite count")
    eq(b"XYZ", os.pread(fd, 3, 500000), "pread after pwrite on the same fd")
    os.lseek(fd, 10, os.SEEK_SET)
    eq(orig[10:20], os.read(fd, 10), "read at the fd position")
    os.close(fd)
    want = orig[:500000] + b"XYZ" + orig[500003:]
    eq(want, read(f"{b}/rdwr.bin"), "branch content after O_RDWR pwrite")
    eq(orig, read(f"{c}/rdwr.bin"), "committed content after O_RDWR in the branch")


def check_offsets(b, c, m):
    p = f"{b}/offsets.bin"
    fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    os.pwrite(fd, b"a", 0)
    os.pwrite(fd, b"b" * 10, 4096)
    os.pwrite(fd, b"c", MiB + 3)
    eq(MiB + 4, os.fstat(fd).st_size, "size after pwrite past the end")
    eq(b"a" + b"\0" * 4095 + b"b" * 10 + b"\0", os.pread(fd, 4107, 0), "pread across pwrites")
    os.close(fd)
    data = read(p)
    eq(MiB + 4, len(data), "length read back")
    eq(b"c", data[-1:], "last byte")
    eq(b"\0" * (MiB + 3 - 4106), data[4106:MiB + 3], "gap between pwrites")
    # Unaligned writes and reads across chunk boundaries.
    src = blob(3, 3 * MiB + 17)
    q = f"{b}/pieces.bin"
    fd = os.open(q, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    for off in range(0, len(src), 7777):
        os.pwrite(fd, src[off:off + 7777], off)
    os.close(fd)
    fd = os.open(q, os.O_RDONLY)
    got = b"".join(os.pread(fd, 12345, off) for off in range(0, len(src), 12345))
    os.close(fd)
    eq(src, got, "3 MiB written in 7777-byte and read in 12345-byte pieces")


def check_sparse(b, c, m):
    p = f"{b}/sparse.bin"
    fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    os.pwrite(fd, b"end", 10 * MiB)
    eq(10 * MiB + 3, os.fstat(fd).st_size, "size of a sparse file")
    eq(b"\0" * 4096, os.pread(fd, 4096, 5 * MiB), "a hole reads as zeros")
    os.ftruncate(fd, 20 * MiB)
    eq(b"\0" * 100, os.pread(fd, 100, 20 * MiB - 100), "zeros after ftruncate growth")
    os.close(fd)
    eq(20 * MiB, os.stat(p).st_size, "size after close")
    with open(p, "rb") as f:
        f.seek(10 * MiB)
        eq(b"end", f.read(3), "data after the hole")


def check_truncate(b, c, m):
    p = f"{b}/trunc2.bin"
    data = blob(4, 10000)
    write(p, data)
    os.truncate(p, 100)
    eq(data[:100], read(p), "content after truncate(100)")
    os.truncate(p, 5000)
    eq(data[:100] + b"\0" * 4900, read(p), "content after growing truncate(5000)")
    fd = os.open(p, os.O_RDWR)
    os.ftruncate(fd, 50)
    eq(50, os.fstat(fd).st_size, "fstat after ftruncate(50)")
    os.close(fd)
    eq(data[:50], read(p), "content after ftruncate(50)")
    os.truncate(f"{b}/shrink.txt", 10)
    eq(b"S" * 10, read(f"{b}/shrink.txt"), "committed file after truncate")
    eq(b"S" * 8000, read(f"{c}/shrink.txt"), "committed version after truncate in the branch")


def check_rename_files(b, c, m):
    write(f"{b}/ren_a.txt", b"rename me\n")
    os.rename(f"{b}/ren_a.txt", f"{b}/ren_b.txt")
    expect_errno(errno.ENOENT, os.stat, f"{b}/ren_a.txt")
    eq(b"rename me\n", read(f"{b}/ren_b.txt"), "renamed file")
    # Over an existing target, both committed.
    os.rename(f"{b}/over_src.txt", f"{b}/over_target.txt")
    eq(b"new source\n", read(f"{b}/over_target.txt"), "target replaced by rename")
    expect_errno(errno.ENOENT, os.stat, f"{b}/over_src.txt")
    eq(b"old target\n", read(f"{c}/over_target.txt"), "committed target after rename over it")
    eq(b"new source\n", read(f"{c}/over_src.txt"), "committed source after rename")
    # A new file over a committed one, then into another directory.
    write(f"{b}/fresh.txt", b"fresh\n")
    os.rename(f"{b}/fresh.txt", f"{b}/shrink.txt")
    eq(b"fresh\n", read(f"{b}/shrink.txt"), "new file renamed over a committed one")
    os.rename(f"{b}/shrink.txt", f"{b}/nonempty/moved_in.txt")
    eq(b"fresh\n", read(f"{b}/nonempty/moved_in.txt"), "file renamed into a directory")
    eq(b"S" * 8000, read(f"{c}/shrink.txt"), "committed file replaced and moved in the branch")
    names = os.listdir(b)
    for gone in ("ren_a.txt", "over_src.txt", "fresh.txt", "shrink.txt"):
        assert gone not in names, "%s still listed after rename" % gone


def check_rename_dirs(b, c, m):
    # A committed directory with a subtree.
    os.rename(f"{b}/olddir", f"{b}/newdir")
    expect_errno(errno.ENOENT, os.stat, f"{b}/olddir")
    eq(b"one\n", read(f"{b}/newdir/sub/f1.txt"), "file in a renamed directory")
    eq(["f1.txt", "f2.txt"], sorted(os.listdir(f"{b}/newdir/sub")), "listing of a renamed subtree")
    eq(b"gee\n", read(f"{c}/olddir/g.txt"), "committed directory after rename")
    # The output-committer pattern of Spark and Hadoop.
    t = f"{b}/job/_temporary/0/task_0001"
    os.makedirs(t)
    write(f"{t}/part-00000.csv", b"a,b\n1,2\n")
    write(f"{t}/part-00001.csv", b"a,b\n3,4\n")
    os.rename(t, f"{b}/job/_temporary/0/committed_task_0001")
    for part in ("part-00000.csv", "part-00001.csv"):
        os.rename(f"{b}/job/_temporary/0/committed_task_0001/{part}", f"{b}/job/{part}")
    os.rmdir(f"{b}/job/_temporary/0/committed_task_0001")
    os.rmdir(f"{b}/job/_temporary/0")
    os.rmdir(f"{b}/job/_temporary")
    write(f"{b}/job/_SUCCESS", b"")
    os.rename(f"{b}/job", f"{b}/job_final")
    eq(["_SUCCESS", "part-00000.csv", "part-00001.csv"], sorted(os.listdir(f"{b}/job_final")),
       "output of the committer pattern")
    eq(b"a,b\n3,4\n", read(f"{b}/job_final/part-00001.csv"), "part file after directory renames")
    # Over an existing empty directory; over a non-empty one fails.
    os.makedirs(f"{b}/srcdir/inner")
    write(f"{b}/srcdir/inner/x.txt", b"x\n")
    os.mkdir(f"{b}/emptytarget")
    os.rename(f"{b}/srcdir", f"{b}/emptytarget")
    eq(b"x\n", read(f"{b}/emptytarget/inner/x.txt"), "directory renamed over an empty directory")
    expect_errno(errno.ENOENT, os.stat, f"{b}/srcdir")
    os.mkdir(f"{b}/srcdir2")
    expect_errno((errno.ENOTEMPTY, errno.EEXIST), os.rename, f"{b}/srcdir2", f"{b}/nonempty")
    os.rmdir(f"{b}/srcdir2")
    expect_errno(errno.EINVAL, os.rename, f"{b}/emptytarget", f"{b}/emptytarget/inner/loop")
    # Renaming a directory moves metadata; it never copies the 64 MiB inside.
    t0 = time.monotonic()
    os.rename(f"{b}/big", f"{b}/big_renamed")
    dt = time.monotonic() - t0
    assert dt < 1.0, "renaming a directory holding 64 MiB took %.2f s" % dt
    fd = os.open(f"{b}/big_renamed/big.bin", os.O_RDONLY)
    eq(BIG_BLOCK[:4096], os.pread(fd, 4096, 63 * MiB), "content of a file in a renamed directory")
    eq(64 * MiB, os.fstat(fd).st_size, "size of a file in a renamed directory")
    os.close(fd)


def check_unlink(b, c, m):
    os.unlink(f"{b}/victim.txt")
    expect_errno(errno.ENOENT, os.stat, f"{b}/victim.txt")
    assert "victim.txt" not in os.listdir(b), "unlinked file still listed"
    eq(b"doomed\n", read(f"{c}/victim.txt"), "committed version of an unlinked file")
    write(f"{b}/tmp.txt", b"tmp")
    os.unlink(f"{b}/tmp.txt")
    expect_errno(errno.ENOENT, os.unlink, f"{b}/tmp.txt")
    expect_errno(errno.EISDIR, os.unlink, f"{b}/nonempty")


def check_unlink_open(b, c, m):
    write(f"{b}/open_unlinked.txt", b"still here\n")
    fd = os.open(f"{b}/open_unlinked.txt", os.O_RDWR)
    os.unlink(f"{b}/open_unlinked.txt")
    eq(b"still here\n", os.pread(fd, 100, 0), "read of an open, unlinked file")
    os.pwrite(fd, b"S", 0)
    os.close(fd)
    expect_errno(errno.ENOENT, os.stat, f"{b}/open_unlinked.txt")


def check_mkdir_rmdir(b, c, m):
    os.makedirs(f"{b}/deep/empty/dir")
    assert stat.S_ISDIR(os.stat(f"{b}/deep/empty/dir").st_mode), "mkdir did not make a directory"
    os.mkdir(f"{b}/empty1")
    expect_errno(errno.EEXIST, os.mkdir, f"{b}/empty1")
    os.mkdir(f"{b}/rmme")
    write(f"{b}/rmme/f", b"f")
    expect_errno(errno.ENOTEMPTY, os.rmdir, f"{b}/rmme")
    os.unlink(f"{b}/rmme/f")
    os.rmdir(f"{b}/rmme")
    expect_errno(errno.ENOENT, os.stat, f"{b}/rmme")
    expect_errno(errno.ENOTEMPTY, os.rmdir, f"{b}/nonempty")
    expect_errno(errno.ENOTDIR, os.rmdir, f"{b}/committed.txt")
    os.mkdir(f"{b}/gone_committed")
    os.rmdir(f"{b}/gone_committed")
    eq(["deep", "empty1"], sorted(x for x in os.listdir(b) if x in ("deep", "empty1", "rmme")),
       "directories listed after mkdir/rmdir")


def check_chmod(b, c, m):
    os.chmod(f"{b}/modes.txt", 0o640)
    eq(0o640, stat.S_IMODE(os.stat(f"{b}/modes.txt").st_mode), "mode after chmod 640")
    write(f"{b}/run.sh", b"#!/bin/sh\necho ran\n")
    os.chmod(f"{b}/run.sh", 0o755)
    eq(b"ran\n", subprocess.run([f"{b}/run.sh"], check=True, capture_output=True).stdout,
       "output of an executable made with chmod 755")
    os.mkdir(f"{b}/privdir")
    os.chmod(f"{b}/privdir", 0o750)
    eq(0o750, stat.S_IMODE(os.stat(f"{b}/privdir").st_mode), "directory mode after chmod 750")
    write(f"{b}/sticky.txt", b"s")
    os.chmod(f"{b}/sticky.txt", 0o2754)
    eq(0o2754, stat.S_IMODE(os.stat(f"{b}/sticky.txt").st_mode), "setgid mode bits")
    eq(0o644, stat.S_IMODE(os.stat(f"{c}/modes.txt").st_mode), "mode of the committed version after chmod")


def check_utimens(b, c, m):
    p = f"{b}/times.txt"
    write(p, b"t")
    os.utime(p, ns=(1_500_000_000_111_222_333, 1_600_000_000_123_456_789))
    eq(1_600_000_000_123_456_789, os.stat(p).st_mtime_ns, "mtime after utimensat")
    subprocess.run(["touch", "-m", "-d", "2020-01-02 03:04:05.5 UTC", f"{b}/committed.txt"], check=True)
    eq(1577934245_500_000_000, os.stat(f"{b}/committed.txt").st_mtime_ns, "mtime after touch -d")
    before = time.time_ns()
    os.utime(p)
    now_m = os.stat(p).st_mtime_ns
    assert before - 2_000_000_000 <= now_m <= time.time_ns() + 2_000_000_000, \
        "utime(NULL) did not set mtime to now: %d" % now_m
    os.utime(p, ns=(1_500_000_000_111_222_333, 1_600_000_000_123_456_789))
    os.mkdir(f"{b}/timesdir")
    os.utime(f"{b}/timesdir", ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    eq(1_000_000_000_000_000_000, os.stat(f"{b}/timesdir").st_mtime_ns, "directory mtime after utimensat")
    t0 = os.stat(f"{b}/append.txt").st_mtime_ns
    time.sleep(0.02)
    with open(f"{b}/append.txt", "ab") as f:
        f.write(b"+")
    assert os.stat(f"{b}/append.txt").st_mtime_ns > t0, "a write did not advance mtime"


def check_symlink(b, c, m):
    os.makedirs(f"{b}/data")
    write(f"{b}/data/target.txt", b"target\n")
    os.symlink("data/target.txt", f"{b}/link")
    eq("data/target.txt", os.readlink(f"{b}/link"), "readlink")
    assert stat.S_ISLNK(os.lstat(f"{b}/link").st_mode), "lstat of a symlink is not a link"
    eq(len("data/target.txt"), os.lstat(f"{b}/link").st_size, "size of a symlink")
    eq(b"target\n", read(f"{b}/link"), "read through a symlink")
    os.symlink("nowhere/at/all", f"{b}/dangling")
    eq("nowhere/at/all", os.readlink(f"{b}/dangling"), "readlink of a dangling link")
    expect_errno(errno.ENOENT, os.stat, f"{b}/dangling")
    os.symlink("/etc/hostname", f"{b}/abslink")
    eq("/etc/hostname", os.readlink(f"{b}/abslink"), "readlink of an absolute link")
    expect_errno(errno.EINVAL, os.readlink, f"{b}/committed.txt")
    expect_errno(errno.EEXIST, os.symlink, "x", f"{b}/link")
    os.symlink("data", f"{b}/dirlink")
    eq(["target.txt"], os.listdir(f"{b}/dirlink"), "listing through a directory symlink")


def check_statfs(b, c, m):
    st = os.statvfs(b)
    assert st.f_bsize > 0 and st.f_frsize > 0, "statvfs block size 0: %r" % (st,)
    assert st.f_namemax >= 255, "statvfs f_namemax %d < 255" % st.f_namemax
    assert st.f_blocks > 0, "statvfs reports no blocks: %r" % (st,)
    subprocess.run(["df", b], check=True, capture_output=True)
    subprocess.run(["stat", "-f", b], check=True, capture_output=True)


def status_paths(m, domain_branch):
    fd = os.open(f"{m}/.control", os.O_RDWR)
    try:
        os.write(fd, ("status %s\n" % domain_branch).encode())
        ans = json.loads(os.pread(fd, 1 << 22, 0))
    finally:
        os.close(fd)
    return {ch["path"]: ch["change"] for ch in ans["changes"]}


def check_fsync(b, c, m):
    fd = os.open(f"{b}/synced.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, b"synced data\n")
    os.fsync(fd)
    # Recorded in staging at fsync, while the file is still open.
    eq("added", status_paths(m, "posix/main").get("synced.txt"), "status of an fsync'd open file")
    os.write(fd, b"more\n")
    os.fdatasync(fd)
    os.close(fd)
    eq(b"synced data\nmore\n", read(f"{b}/synced.txt"), "content after fsync and fdatasync")
    dfd = os.open(b, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(dfd)
    os.close(dfd)


def check_mmap(b, c, m):
    want = blob(2, 300 * 1024)
    for p in (f"{b}/mmap.bin", f"{c}/mmap.bin"):
        with open(p, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            eq(want, mm[:], "mmap read of " + p)
            eq(want[123456:123556], mm[123456:123556], "mmap slice of " + p)
    write(f"{b}/mmap_new.bin", want[:5000])
    with open(f"{b}/mmap_new.bin", "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        eq(want[:5000], mm[:], "mmap read of a new file")


def check_hardlink(b, c, m):
    expect_errno(errno.EPERM, os.link, f"{b}/committed.txt", f"{b}/hardlink.txt")
    expect_errno(errno.ENOENT, os.stat, f"{b}/hardlink.txt")
    r = subprocess.run(["ln", f"{b}/committed.txt", f"{b}/hardlink2.txt"], capture_output=True)
    assert r.returncode != 0, "ln succeeded"
    assert b"not permitted" in r.stderr, "ln error: %r" % r.stderr


def check_locks(b, c, m):
    p = f"{b}/locked.txt"
    write(p, b"lock")
    fd = os.open(p, os.O_RDWR)
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    probe = ("import fcntl, os, sys\n"
             "fd = os.open(sys.argv[1], os.O_RDWR)\n"
             "try:\n"
             "    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
             "except OSError:\n"
             "    sys.exit(7)\n")
    r = subprocess.run([sys.executable, "-c", probe, p])
    eq(7, r.returncode, "second process locking a locked file")
    fcntl.lockf(fd, fcntl.LOCK_UN)
    r = subprocess.run([sys.executable, "-c", probe, p])
    eq(0, r.returncode, "second process locking after unlock")
    os.close(fd)


CHECKS = [check_create, check_o_trunc, check_o_append, check_o_rdwr, check_offsets,
          check_sparse, check_truncate, check_rename_files, check_rename_dirs,
          check_unlink, check_unlink_open, check_mkdir_rmdir, check_chmod, check_symlink,
          check_utimens, check_statfs, check_fsync, check_mmap, check_hardlink, check_locks]


# ------------------------------------------------------------------ state

def snapshot(view):
    """Everything a user sees of a tree: kind, size, mode, mtime, content."""
    out = {}
    for root, dirs, files in os.walk(view):
        for name in dirs + files:
            full = os.path.join(root, name)
            rel = os.path.relpath(full, view)
            st = os.lstat(full)
            e = {"mode": oct(stat.S_IMODE(st.st_mode))}
            if stat.S_ISDIR(st.st_mode):
                e["kind"] = "dir"
            elif stat.S_ISLNK(st.st_mode):
                e.update(kind="symlink", target=os.readlink(full), size=st.st_size)
            else:
                e.update(kind="file", size=st.st_size, mtime_ns=st.st_mtime_ns, sha256=sha(full))
            out[rel] = e
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]
    return out


def verify(view, state_path):
    with open(state_path) as f:
        want = json.load(f)
    got = snapshot(view)
    problems = []
    for rel in sorted(set(want) | set(got)):
        if rel not in got:
            problems.append("%s: missing" % rel)
        elif rel not in want:
            problems.append("%s: unexpected %r" % (rel, got[rel]))
        elif want[rel] != got[rel]:
            diff = {k: (want[rel].get(k), got[rel].get(k)) for k in set(want[rel]) | set(got[rel])
                    if want[rel].get(k) != got[rel].get(k)}
            problems.append("%s: (expected, got) %r" % (rel, diff))
    for p in problems:
        print("MISMATCH in %s: %s" % (view, p))
    if problems:
        sys.exit(1)
    print("ok: %s matches (%d entries)" % (view, len(want)))


def main():
    os.umask(0o022)
    cmd = sys.argv[1]
    if cmd == "base":
        base(sys.argv[2])
        return
    if cmd == "verify":
        verify(sys.argv[2], sys.argv[3])
        return
    b, c, m, state_path = sys.argv[2:6]
    failed = []
    for check in CHECKS:
        try:
            check(b, c, m)
            print("ok  ", check.__name__)
        except Exception as e:  # report every failing check, not just the first
            failed.append(check.__name__)
            print("FAIL", check.__name__, "-", e)
            traceback.print_exc(limit=3, file=sys.stdout)
    snap = snapshot(b)
    with open(state_path, "w") as f:
        json.dump(snap, f, indent=1, sort_keys=True)
    expected_empty = ["deep/empty/dir", "empty1"]
    for d in expected_empty:
        if snap.get(d, {}).get("kind") != "dir":
            failed.append("empty dir " + d)
    if failed:
        print("failed checks:", ", ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
