#!/usr/bin/python3
# The reproducer of issue 9 (shared/repro/concurrent-branches.py), kept here so the suite runs it.
"""Reproducer: N threads each loop branch create -> write 3 files -> commit -> merge into main -> branch delete,
through MOUNT/.control, for SECONDS. Usage: concurrent-branches.py MOUNT DOMAIN [THREADS=10] [SECONDS=45]
Exit 0 when every step answered and the mount is still up; 1 with the first failure otherwise."""
import os, sys, threading, time, random

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import meshctl  # noqa: E402

M, D = sys.argv[1], sys.argv[2]
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 10
stop = time.time() + (float(sys.argv[4]) if len(sys.argv) > 4 else 45)
errors, rounds = [], [0]

def ctl(cmd):
    return meshctl.ctl(M, cmd)


def worker(k):
    rnd, n = random.Random(k), 0
    try:
        while time.time() < stop and not errors:
            b = f"w{k}-{n}"
            n += 1
            ok, a = ctl(f"branch create {D}/{b}")
            if not ok:
                return errors.append(f"branch create {b}: {a}")
            for i in range(3):
                with open(f"{M}/{D}/{b}/f{k}-{n}-{i}.txt", "w") as f:
                    f.write("x" * rnd.randint(1, 5000))
            ok, a = ctl(f"commit {D}/{b} -m c")
            if not ok:
                return errors.append(f"commit {b}: {a}")
            ok, a = ctl(f"merge {D}/{b} --into main -m m")
            if not ok and '"EAGAIN"' not in a and '"EBUSY"' not in a:
                return errors.append(f"merge {b}: {a}")
            ok, a = ctl(f"branch delete {D}/{b}")
            if not ok:
                return errors.append(f"branch delete {b}: {a}")
            rounds[0] += 1
    except OSError as e:
        errors.append(f"{type(e).__name__}: {e}")

ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
[t.start() for t in ts]
[t.join() for t in ts]
alive = os.path.exists(f"{M}/.control")
print(f"{rounds[0]} rounds; mount {'up' if alive else 'GONE'}; " + (errors[0][:300] if errors else "no errors"))
sys.exit(0 if alive and not errors else 1)
