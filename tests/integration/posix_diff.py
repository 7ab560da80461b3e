"""Differential POSIX test, for test_posix_diff.sh: the same sequence of
system calls, made by root and by two other users, in a directory on ext4
and in a meshfs branch view; the return values (errno) and the resulting
stat fields must be equal.

Run as root with /usr/bin/python3:
  posix_diff.py EXT4_DIR VIEW_DIR USER_A USER_B GROUP_SHARED GROUP_A GROUP_B

USER_A is in GROUP_SHARED and GROUP_A, USER_B in GROUP_SHARED and GROUP_B.
Each actor is a worker process started with setpriv (its uid, gid and
groups); the driver sends it one call at a time.  After every call the
driver lstat()s every path of the scenario (as root: a stat changes no
atime) and records, per path: type, mode, uid, gid, nlink, size, rdev, and
whether atime, mtime and ctime moved since the previous call.  Between
calls it sleeps longer than ext4's timestamp granularity (a jiffy), so
that a change always shows.

A hard link to a new name is not in the sequence: ext4 makes it, meshfs
answers EPERM (README "Semantics and choices"); test_posix.sh checks that.
"""

import errno
import json
import os
import pwd
import grp
import stat
import subprocess
import sys
import time

STEP_PAUSE = 0.02


# ------------------------------------------------------------------ worker

def worker():
    """Reads calls (JSON lines) from stdin, answers "ok" or the errno name."""
    os.umask(0o022)
    for line in sys.stdin:
        call = json.loads(line)
        op, args = call["op"], call["args"]
        try:
            result = run_call(op, args)
        except OSError as e:
            result = errno.errorcode.get(e.errno, str(e.errno))
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


# Calls whose arguments are the system call's own.
SIMPLE = {
    "chmod": os.chmod, "chown": os.chown, "lchown": os.lchown, "unlink": os.unlink,
    "rename": os.rename, "mkdir": os.mkdir, "rmdir": os.rmdir, "truncate": os.truncate,
    "symlink": os.symlink, "link": os.link, "mkfifo": os.mkfifo,
}


def run_call(op, a):
    if op == "create":
        os.close(os.open(a[0], os.O_CREAT | os.O_EXCL | os.O_WRONLY, a[1]))
    elif op == "write":
        fd = os.open(a[0], os.O_WRONLY | (os.O_TRUNC if a[2] else 0))
        try:
            os.write(fd, a[1].encode())
        finally:
            os.close(fd)
    elif op == "read":
        with open(a[0], "rb") as f:
            return "ok %d" % len(f.read())
    elif op == "open":
        flags = {"r": os.O_RDONLY, "w": os.O_WRONLY, "rw": os.O_RDWR}[a[1]]
        os.close(os.open(a[0], flags))
    elif op == "listdir":
        return "ok %d" % len(os.listdir(a[0]))
    elif op in SIMPLE:
        SIMPLE[op](*a)
    elif op == "utime":
        if a[1]:
            os.utime(a[0], ns=tuple(a[1]))
        else:
            os.utime(a[0])
    elif op == "mknod":
        os.mknod(a[0], a[1], os.makedev(a[2], a[3]))
    else:
        raise SystemExit("unknown call " + op)
    return "ok"


class Actor:
    def __init__(self, name, user):
        if user == "root":
            cmd = [sys.executable, __file__, "--worker"]
        else:
            pw = pwd.getpwnam(user)
            cmd = ["setpriv", "--reuid", str(pw.pw_uid), "--regid", str(pw.pw_gid),
                   "--init-groups",
                   sys.executable, __file__, "--worker"]
        self.name = name
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)

    def call(self, op, args):
        self.proc.stdin.write(json.dumps({"op": op, "args": args}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("worker %s died" % self.name)
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


# ------------------------------------------------------------------ scenario

def scenario(ids):
    """(actor, op, args) with paths relative to the base directory; ids
    has the numeric uids and gids."""
    A, B = ids["A"], ids["B"]
    S, GA, GB = ids["S"], ids["GA"], ids["GB"]
    return [
        # creation, ownership of new entries, the base's times and nlink
        ("root", "mkdir", ["r", 0o755]),
        ("root", "create", ["r/f", 0o644]),
        ("A", "create", ["a.txt", 0o644]),
        ("A", "write", ["a.txt", "hello\n", True]),
        ("A", "chmod", ["a.txt", 0o604]),
        ("B", "chmod", ["a.txt", 0o666]),
        # chown and chgrp rules
        ("B", "chown", ["a.txt", B, -1]),
        ("A", "chown", ["a.txt", B, -1]),
        ("A", "chown", ["a.txt", -1, GA]),
        ("A", "chown", ["a.txt", -1, GB]),
        ("A", "chown", ["a.txt", A, -1]),
        ("A", "chown", ["a.txt", -1, S]),
        ("B", "chown", ["a.txt", -1, S]),
        ("A", "chown", ["a.txt", -1, -1]),
        ("root", "chown", ["a.txt", B, GB]),
        # access by mode, as the new owner has it
        ("A", "open", ["a.txt", "w"]),
        ("B", "open", ["a.txt", "rw"]),
        ("B", "write", ["a.txt", "more\n", False]),
        # reads and relatime: the first read after a change moves atime
        ("A", "read", ["a.txt"]),
        ("A", "read", ["a.txt"]),
        ("B", "write", ["a.txt", "again\n", True]),
        ("A", "read", ["a.txt"]),
        # set-id bits and chown
        ("A", "create", ["s.bin", 0o755]),
        ("A", "chmod", ["s.bin", 0o6755]),
        ("A", "chown", ["s.bin", -1, S]),
        ("A", "chmod", ["s.bin", 0o2745]),
        ("A", "chown", ["s.bin", -1, GA]),
        ("root", "chmod", ["s.bin", 0o6755]),
        ("root", "chown", ["s.bin", B, -1]),
        ("B", "chmod", ["s.bin", 0o4755]),
        ("B", "write", ["s.bin", "x", False]),
        ("root", "chmod", ["s.bin", 0o4777]),
        ("A", "write", ["s.bin", "y", False]),
        # setgid directories
        ("root", "mkdir", ["g", 0o775]),
        ("root", "chown", ["g", 0, S]),
        ("root", "chmod", ["g", 0o2777]),
        ("A", "mkdir", ["g/sub", 0o755]),
        ("A", "create", ["g/f", 0o644]),
        ("A", "write", ["g/f", "", True]),
        ("A", "write", ["g/f", "12", True]),
        ("A", "write", ["g/f", "", True]),
        ("B", "listdir", ["g"]),
        ("B", "listdir", ["g"]),
        ("B", "create", ["g/h", 0o2775]),
        ("A", "mkdir", ["g/sub/deeper", 0o700]),
        ("root", "mkdir", ["ga", 0o777]),
        ("root", "chown", ["ga", 0, GA]),
        ("root", "chmod", ["ga", 0o2777]),
        ("B", "create", ["ga/y", 0o2775]),
        ("A", "create", ["ga/z", 0o2775]),
        ("B", "chown", ["g", -1, GB]),
        ("A", "chmod", ["g", 0o777]),
        # truncate and utimensat
        ("A", "create", ["t", 0o644]),
        ("A", "write", ["t", "0123456789", True]),
        ("A", "truncate", ["t", 4]),
        ("A", "truncate", ["t", 4]),
        ("B", "truncate", ["t", 0]),
        ("B", "utime", ["t", [1000000000, 2000000000]]),
        ("B", "utime", ["t", None]),
        ("A", "utime", ["t", [1000000000, 2000000000]]),
        ("A", "utime", ["t", None]),
        # rename and unlink
        ("A", "rename", ["t", "t2"]),
        ("B", "rename", ["r/f", "f"]),
        ("B", "rename", ["t2", "t3"]),
        ("A", "rename", ["t2", "g/t2"]),
        ("B", "unlink", ["r/f"]),
        ("A", "unlink", ["s.bin"]),
        # mkdir, rmdir, link counts
        ("A", "mkdir", ["d", 0o755]),
        ("A", "mkdir", ["d/e", 0o755]),
        ("A", "mkdir", ["d/e2", 0o755]),
        ("B", "rmdir", ["d/e"]),
        ("A", "rmdir", ["d"]),
        ("A", "rmdir", ["d/e"]),
        ("A", "rename", ["d/e2", "e3"]),
        ("A", "listdir", ["d"]),
        ("A", "rmdir", ["d"]),
        ("B", "chmod", ["g/sub", 0o777]),
        # errors of the namespace calls, and link counts of moved directories
        ("A", "mkdir", ["m", 0o755]),
        ("A", "mkdir", ["m", 0o755]),
        ("A", "mkdir", ["m/in", 0o755]),
        ("A", "create", ["m/in/f", 0o644]),
        ("A", "create", ["m/in/f", 0o644]),
        ("A", "rmdir", ["m"]),
        ("A", "unlink", ["m/in"]),
        ("A", "rmdir", ["m/in/f"]),
        ("A", "mkdir", ["m2", 0o755]),
        ("A", "rename", ["m/in", "m2/in"]),
        ("A", "rename", ["m2", "m/in"]),
        ("A", "rename", ["m2/in/f", "m2/in/f"]),
        ("A", "create", ["m2/g", 0o600]),
        ("A", "rename", ["m2/g", "m2/in/f"]),
        ("A", "rename", ["m2/in", "m"]),
        ("A", "utime", ["m2", [5000000000, 6000000000]]),
        ("B", "utime", ["m2", None]),
        ("root", "truncate", ["m2/in/f", 100]),
        # symlinks
        ("A", "symlink", ["a.txt", "l"]),
        ("B", "symlink", ["x", "l"]),
        ("root", "lchown", ["l", B, GB]),
        ("A", "lchown", ["l", A, -1]),
        # link(2): an existing name is EEXIST before anything else
        ("A", "link", ["a.txt", "l"]),
        ("B", "link", ["g/t2", "g/f"]),
        # FIFOs and device nodes
        ("A", "mkfifo", ["p", 0o640]),
        ("A", "mkfifo", ["p", 0o640]),
        ("A", "chown", ["p", -1, S]),
        ("B", "mknod", ["dev", 0o600 | stat.S_IFCHR, 1, 3]),
        ("root", "mknod", ["dev", 0o640 | stat.S_IFCHR, 1, 3]),
        ("root", "mknod", ["bdev", 0o600 | stat.S_IFBLK, 7, 0]),
        ("root", "chown", ["dev", A, S]),
        ("A", "mkfifo", ["g/p", 0o666]),
        ("B", "unlink", ["p"]),
        ("root", "chmod", [".", 0o1777]),
        ("B", "unlink", ["p"]),
        ("A", "unlink", ["p"]),
    ]


def path_args(op):
    """Which arguments of a call are paths (a symlink's target is none)."""
    return (0, 1) if op in ("rename", "link") else (1,) if op == "symlink" else (0,)


def paths_of(steps):
    seen = ["."]
    for _, op, args in steps:
        seen += [args[i] for i in path_args(op) if args[i] not in seen]
    return seen


def snapshot(base, paths):
    out = {}
    for p in paths:
        try:
            st = os.lstat(os.path.join(base, p))
        except FileNotFoundError:
            out[p] = None
            continue
        out[p] = {
            "type": stat.S_IFMT(st.st_mode), "mode": "%o" % stat.S_IMODE(st.st_mode),
            "uid": st.st_uid, "gid": st.st_gid, "nlink": st.st_nlink,
            "size": st.st_size if not stat.S_ISDIR(st.st_mode) else 0,
            "rdev": st.st_rdev if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else 0,
            "atime": st.st_atime_ns, "mtime": st.st_mtime_ns, "ctime": st.st_ctime_ns,
        }
    return out


def compared(prev, cur):
    """The fields compared between the two filesystems: times as whether
    they moved since the previous call."""
    out = {}
    for p, st in cur.items():
        if st is None:
            out[p] = None
            continue
        before = prev.get(p)
        row = {k: v for k, v in st.items() if k not in ("atime", "mtime", "ctime")}
        for t in ("atime", "mtime", "ctime"):
            row[t + " moved"] = before is not None and before[t] != st[t]
        out[p] = row
    return out


def run_on(base, actors, steps, paths):
    results, states = [], []
    prev = snapshot(base, paths)
    for who, op, args in steps:
        rel = [os.path.join(base, a) if i in path_args(op) else a for i, a in enumerate(args)]
        results.append(actors[who].call(op, rel))
        time.sleep(STEP_PAUSE)
        cur = snapshot(base, paths)
        states.append(compared(prev, cur))
        prev = cur
    return results, states


def main():
    if sys.argv[1:2] == ["--worker"]:
        return worker()
    ext4, view, user_a, user_b, g_shared, g_a, g_b = sys.argv[1:8]
    ids = {"A": pwd.getpwnam(user_a).pw_uid, "B": pwd.getpwnam(user_b).pw_uid,
           "S": grp.getgrnam(g_shared).gr_gid, "GA": grp.getgrnam(g_a).gr_gid,
           "GB": grp.getgrnam(g_b).gr_gid}
    steps = scenario(ids)
    paths = paths_of(steps)
    actors = {"root": Actor("root", "root"), "A": Actor("A", user_a), "B": Actor("B", user_b)}
    outcome = {}
    try:
        for name, base in (("ext4", ext4), ("meshfs", view)):
            t0 = time.monotonic()
            outcome[name] = run_on(base, actors, steps, paths)
            print("%s: %d calls in %.1f s" % (name, len(steps), time.monotonic() - t0))
    finally:
        for a in actors.values():
            a.close()
    (r1, s1), (r2, s2) = outcome["ext4"], outcome["meshfs"]
    failures = 0
    for i, (who, op, args) in enumerate(steps):
        label = "%3d %-4s %s %s" % (i, who, op, " ".join(map(str, args)))
        if r1[i] != r2[i]:
            failures += 1
            print("DIFF %s: ext4 %s, meshfs %s" % (label, r1[i], r2[i]))
        for p in paths:
            a, b = s1[i].get(p), s2[i].get(p)
            if a == b:
                continue
            if a is None or b is None:
                failures += 1
                print("DIFF %s: %s exists on %s only" % (label, p, "ext4" if b is None else "meshfs"))
                continue
            for k in a:
                if a[k] != b[k]:
                    failures += 1
                    print("DIFF %s: %s %s: ext4 %s, meshfs %s" % (label, p, k, a[k], b[k]))
    errs = sum(1 for r in r1 if r != "ok" and not r.startswith("ok "))
    print("%d calls (%d failing with an errno on ext4), %d paths compared after each: %d differences"
          % (len(steps), errs, len(paths), failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
