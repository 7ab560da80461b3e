"""A reader holding a branch-view file open while the branch changes.

usage: vc_readers.py PATH OLD_FILE NEW_FILE READY_FLAG GO_FLAG RESULT_FILE

Opens PATH, checks it shows the content of OLD_FILE, creates READY_FLAG,
then reads PATH in a loop (pread on the open fd and fresh opens, so the
kernel keeps its caches warm) until GO_FLAG exists.  GO_FLAG is created
right after the change returned; from then on both the already-open fd
(pread from 0) and a fresh open must show NEW_FILE's content at once:
the daemon must have dropped the kernel's cached pages and attributes.
Writes "ok" or what went wrong to RESULT_FILE; exit status 0 or 1.
"""
import os
import sys
import time

TIMEOUT = 120.0


def read_all_fd(fd):
    # One pread: the files are far smaller than it asks for.  A loop of
    # preads across the change would see the old first bytes and the new
    # rest with no filesystem at fault (POSIX makes no read sequence
    # atomic), which is not what is tested here.
    return os.pread(fd, 1 << 20, 0)


def read_fresh(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    path, old_file, new_file, ready, go, result = sys.argv[1:7]
    with open(old_file, "rb") as f:
        old = f.read()
    with open(new_file, "rb") as f:
        new = f.read()
    problems = []
    fd = os.open(path, os.O_RDONLY)
    try:
        first = read_all_fd(fd)
        if first != old:
            problems.append("before the change the open fd read %r, expected %r"
                            % (first[:60], old[:60]))
        open(ready, "w").close()
        deadline = time.monotonic() + TIMEOUT
        reads = 0
        while not os.path.exists(go):
            if time.monotonic() > deadline:
                problems.append("no go signal within %d s" % TIMEOUT)
                break
            got = read_all_fd(fd)
            fresh = read_fresh(path)
            reads += 1
            # Until the change lands, only the old content may be seen.
            for what, data in (("pread", got), ("fresh open", fresh)):
                if data not in (old, new):
                    problems.append("%s during the change read a mix: %r"
                                    % (what, data[:60]))
        if not problems:
            got = read_all_fd(fd)
            if got != new:
                problems.append("already-open fd (pread from 0) after the change read "
                                "%d bytes %r, expected %d bytes %r"
                                % (len(got), got[:60], len(new), new[:60]))
            fresh = read_fresh(path)
            if fresh != new:
                problems.append("fresh open after the change read %d bytes %r, "
                                "expected %d bytes %r"
                                % (len(fresh), fresh[:60], len(new), new[:60]))
            st = os.fstat(fd)
            if st.st_size != len(new):
                problems.append("fstat of the open fd after the change: size %d, "
                                "expected %d" % (st.st_size, len(new)))
            if reads == 0:
                problems.append("the go signal came before any read in the loop")
    finally:
        os.close(fd)
    with open(result, "w") as f:
        f.write("ok\n" if not problems else "\n".join(problems) + "\n")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
