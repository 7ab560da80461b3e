#!/usr/bin/python3
"""stress.py - many programs branching, writing, committing, merging,
tagging, copying and reading in several domains of one mount at once,
and a database file fsync'd in a branch of its own while it is committed.

usage: stress.py MOUNT SECONDS THREADS DOMAIN...

Each worker loops: branch create from main -> write 1-3 files of
deterministic content (and rewrite one with O_TRUNC) -> commit -> check
the commit view -> maybe tag the commit -> maybe cp a file from another
domain's commit -> merge into main (EAGAIN/EBUSY: skipped) -> branch
delete; and every few rounds deletes a tag it made.  Readers re-read
committed files through commit ids and tags, checking their checksums.
At the end every file of every recorded commit and live tag, and every
file merged into each domain's main, must read back exactly; the mount
must still be up.  Exit 0 when all holds, 1 with the first problems.
"""
import hashlib, os, random, sys, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from meshctl import ctl_json  # noqa: E402

mnt, seconds, nthreads, domains = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
stop = time.time() + seconds
lock = threading.Lock()
problems = []
commits = {}        # (domain, commit id) -> {path: sha256}
tags = {}           # (domain, tag) -> commit id
merged = {}         # domain -> {path: sha256} merged into main
counts = {"rounds": 0, "merges": 0, "skipped merges": 0, "tags": 0, "cps": 0, "reads": 0}


def problem(text):
    with lock:
        problems.append(text)


def content(name, rnd):
    size = 1 + (int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") % 300_000)
    seed = hashlib.sha256(f"{name}:{rnd}".encode()).digest()
    return (seed * (size // 32 + 1))[:size]


def sha(data):
    return hashlib.sha256(data).hexdigest()


def ctl(line):
    try:
        return ctl_json(mnt, line)
    except ValueError as e:
        problem(f"'{line}': answer is not JSON: {e}")
        return False, {}


def must(line):
    ok, answer = ctl(line)
    if not ok:
        problem(f"'{line}' failed: {answer}")
    return ok, answer


def write_file(path, data):
    with open(path, "wb") as f:
        f.write(data)


def check_files(where, files):
    for rel, digest in files.items():
        try:
            with open(f"{where}/{rel}", "rb") as f:
                got = sha(f.read())
        except OSError as e:
            return f"{where}/{rel}: {e}"
        if got != digest:
            return f"{where}/{rel}: content differs from what was committed"
    return None


def worker(k):
    rng = random.Random(k)
    n = 0
    while time.time() < stop and not problems:
        domain = domains[(k + n) % len(domains)]
        branch = f"w{k}-{n}"
        n += 1
        ok, _ = must(f"branch create {domain}/{branch}")
        if not ok:
            return
        files = {}
        for i in range(rng.randint(1, 3)):
            rel = f"t{k}/r{n}/f{i}.bin"
            os.makedirs(f"{mnt}/{domain}/{branch}/t{k}/r{n}", exist_ok=True)
            data = content(rel, 0)
            write_file(f"{mnt}/{domain}/{branch}/{rel}", data)
            files[rel] = sha(data)
        rel = next(iter(files))
        data = content(rel, 1)                  # a rewrite with O_TRUNC
        write_file(f"{mnt}/{domain}/{branch}/{rel}", data)
        files[rel] = sha(data)
        if rng.random() < 0.3 and len(commits) > 0:
            with lock:
                (src_domain, src_commit), src_files = rng.choice(list(commits.items()))
            if src_files:
                src_rel = rng.choice(sorted(src_files))
                dst_rel = f"t{k}/r{n}/copied.bin"
                ok, _ = must(f"cp {src_domain}/{src_commit}/{src_rel} {domain}/{branch}/{dst_rel}")
                if not ok:
                    return
                files[dst_rel] = src_files[src_rel]
                with lock:
                    counts["cps"] += 1
        ok, answer = must(f"commit {domain}/{branch} -m 'round {n} of worker {k}'")
        if not ok:
            return
        commit = answer["commit"]
        bad = check_files(f"{mnt}/{domain}/{commit}", files)
        if bad:
            return problem(f"right after commit: {bad}")
        with lock:
            commits[(domain, commit)] = files
        if rng.random() < 0.3:
            tag = f"t{k}-{n}"
            if must(f"tag create {domain}/{tag} {commit}")[0]:
                with lock:
                    tags[(domain, tag)] = commit
                    counts["tags"] += 1
        ok, answer = ctl(f"merge {domain}/{branch} --into main -m 'merge {branch}'")
        with lock:
            if ok:
                counts["merges"] += 1
                merged.setdefault(domain, {}).update(files)
            elif answer.get("error") in ("EAGAIN", "EBUSY"):
                counts["skipped merges"] += 1
            else:
                problems.append(f"merge {domain}/{branch}: {answer}")
        if not must(f"branch delete {domain}/{branch}")[0]:
            return
        if n % 4 == 0:
            with lock:
                mine = [t for t in tags if t[1].startswith(f"t{k}-")]
                victim = mine[0] if mine else None
                if victim:
                    del tags[victim]
            if victim and not must(f"tag delete {victim[0]}/{victim[1]}")[0]:
                return
        with lock:
            counts["rounds"] += 1


def reader(k):
    rng = random.Random(1000 + k)
    while time.time() < stop and not problems:
        with lock:
            items = list(commits.items())
            tag_items = list(tags.items())
        if not items:
            time.sleep(0.05)
            continue
        (domain, commit), files = rng.choice(items)
        bad = check_files(f"{mnt}/{domain}/{commit}", files)
        if bad:
            return problem(f"reader: {bad}")
        if tag_items:
            (domain, tag), commit = rng.choice(tag_items)
            with lock:
                files = commits[(domain, commit)]
                still = (domain, tag) in tags
            bad = check_files(f"{mnt}/{domain}/{tag}", files)
            with lock:
                still = still and (domain, tag) in tags
            if bad and still:
                return problem(f"reader via tag: {bad}")
        with lock:
            counts["reads"] += 1


fsynced = set()     # sha256 of every state db.bin had when an fsync returned
db_state = {"commits": 0}


def db_writer(domain):
    """A database's file: random writes and truncates, an fsync after
    each few, in a branch of its own, while db_committer commits it."""
    rng = random.Random(77)
    path = f"{mnt}/{domain}/db/db.bin"
    model = bytearray(content("db.bin", 0)[:200_000])
    write_file(path, model)
    with lock:
        fsynced.add(sha(model))
    fd = os.open(path, os.O_RDWR)
    try:
        while time.time() < stop and not problems:
            for _ in range(rng.randint(1, 8)):
                off = rng.randrange(0, len(model) + 20_000)
                data = rng.randbytes(rng.randint(1, 9000))
                os.pwrite(fd, data, off)
                if off > len(model):
                    model.extend(bytes(off - len(model)))
                model[off:off + len(data)] = data
            if rng.random() < 0.1:
                size = rng.randrange(len(model) // 2, len(model) + 10_000)
                os.ftruncate(fd, size)
                model = model[:size] + bytes(max(0, size - len(model)))
            digest = sha(model)
            with lock:                  # before the fsync: a commit may see it at once
                fsynced.add(digest)
            os.fsync(fd)
    finally:
        os.close(fd)


def db_committer(domain):
    """Commits the database's branch now and then: each commit must hold
    a state some fsync (or the first close) produced, never a mix."""
    while time.time() < stop and not problems:
        time.sleep(0.3)
        ok, answer = ctl(f"commit {domain}/db -m 'db checkpoint'")
        if not ok:
            if answer.get("error") == "EINVAL":
                continue        # nothing fsync'd since the last one
            return problem(f"commit {domain}/db: {answer}")
        try:
            with open(f"{mnt}/{domain}/{answer['commit']}/db.bin", "rb") as f:
                got = sha(f.read())
        except OSError as e:
            return problem(f"commit {domain}/db: {e}")
        with lock:
            known = got in fsynced
            db_state["commits"] += 1
        if not known:
            return problem(f"commit {domain}/db holds a db.bin no fsync produced")


def collector():
    """gc now and then, racing everything else: it must keep all of it."""
    while time.time() < stop and not problems:
        time.sleep(2)
        ok, answer = ctl("gc")
        if not ok and answer.get("error") != "EBUSY":
            return problem(f"gc during the run: {answer}")
        with lock:
            counts["gcs"] = counts.get("gcs", 0) + 1


def final_checks():
    if not os.path.exists(f"{mnt}/.control"):
        return problem("the mount is gone")
    for (domain, commit), files in commits.items():
        bad = check_files(f"{mnt}/{domain}/{commit}", files)
        if bad:
            return problem(f"after the run: {bad}")
    for (domain, tag), commit in tags.items():
        ok, answer = must(f"tag list {domain}")
        if not ok:
            return
        bad = check_files(f"{mnt}/{domain}/{tag}", commits[(domain, commit)])
        if bad:
            return problem(f"after the run, tag {tag}: {bad}")
    for domain, files in merged.items():
        bad = check_files(f"{mnt}/{domain}/main", files)
        if bad:
            return problem(f"after the run, main of {domain}: {bad}")
        ok, answer = must(f"status {domain}/main")
        if ok and answer.get("changes"):
            problem(f"main of {domain} has staged changes nobody made: {answer['changes'][:3]}")


must(f"branch create {domains[0]}/db")
threads = [threading.Thread(target=worker, args=(k,)) for k in range(nthreads)]
threads += [threading.Thread(target=db_writer, args=(domains[0],)),
            threading.Thread(target=db_committer, args=(domains[0],))]
threads += [threading.Thread(target=reader, args=(k,)) for k in range(2)]
threads.append(threading.Thread(target=collector))
[t.start() for t in threads]
[t.join() for t in threads]
if not problems:
    final_checks()
counts["db commits"] = db_state["commits"]
print("stress: " + ", ".join(f"{v} {k}" for k, v in counts.items()) +
      f", {len(commits)} commits checked, {len(tags)} live tags")
if problems:
    print("stress: PROBLEMS:\n  " + "\n  ".join(p[:400] for p in problems[:5]), file=sys.stderr)
    sys.exit(1)
if counts["merges"] == 0 or len(commits) < nthreads or db_state["commits"] == 0:
    sys.exit("stress: too little work got done to call this a test")
