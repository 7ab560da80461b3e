#!/usr/bin/env bash
# While a 1 GiB file is being fsync'd and closed (chunked, hashed and
# compressed) in one branch, reads elsewhere in the mount answer promptly.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
mesh_domain big
mesh_domain small
mesh_mount

note "20 small committed files in another domain, remounted so no cache holds them"
mkdir -p "$MNT/small/main/lookup"
for k in $(seq 0 59); do
	printf 'file %d\n%s\n' "$k" "$(head -c 3000 /dev/urandom | base64 -w0)" >"$MNT/small/main/lookup/s$k.csv"
done
mesh_commit small/main "small files" >/dev/null
mesh_remount

note "write 1 GiB, then fsync + close it while reading the small files"
mesh_py "$MNT/big/main/huge.bin" "$MNT/small/main/lookup" <<'PYEOF' || fail "reads stalled while a large file was being staged"
import os, sys, threading, time

big, small = sys.argv[1:]
MiB = 1 << 20
# Incompressible, repeating every MiB: all of it is chunked and hashed,
# but deduplication keeps the store small.  The last byte is written
# first: a file not written front to back is kept in a scratch file and
# chunked, hashed and compressed whole at fsync, which is what must not
# stall the reads.  (A sequential writer streams, and its close is quick.)
block = os.urandom(MiB)
fd = os.open(big, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
t0 = time.monotonic()
os.pwrite(fd, block[-1:], 1024 * MiB - 1)
for i in range(1024):
    view = memoryview(block)
    while view:
        view = view[os.write(fd, view):]
t_written = time.monotonic()
print("wrote 1 GiB in %.2f s" % (t_written - t0))

times = {}
def finish():
    times["fsync_start"] = time.monotonic()
    os.fsync(fd)
    times["fsync_end"] = time.monotonic()
    os.close(fd)
    times["close_end"] = time.monotonic()

def read_small(k):
    s = time.monotonic()
    with open(f"{small}/s{k}.csv", "rb") as f:
        data = f.read()
    e = time.monotonic()
    if not data.startswith(b"file %d\n" % k):
        raise AssertionError("wrong content in s%d.csv" % k)
    return e - s

finisher = threading.Thread(target=finish)
finisher.start()
time.sleep(0.2)
during = [read_small(k) for k in range(20)]
reads_end = time.monotonic()
finisher.join()
after = [read_small(k) for k in range(20, 60)]
print("fsync %.2f s, close %.2f s" % (times["fsync_end"] - times["fsync_start"],
                                     times["close_end"] - times["fsync_end"]))
print("20 reads during fsync+close: max %.3f s, total %.3f s" % (max(during), sum(during)))
print("40 reads afterwards: max %.3f s" % max(after))
problems = []
if max(during) >= 2.0:
    problems.append("a read took %.2f s while the big file was being staged" % max(during))
if max(after) >= 2.0:
    problems.append("a read took %.2f s after the big close returned" % max(after))
if reads_end >= times["close_end"]:
    problems.append("fsync+close of 1 GiB returned %.2f s after it started, before the 20 reads "
                    "finished (%.2f s): the reads did not overlap the staging"
                    % (times["close_end"] - times["fsync_start"], reads_end - times["fsync_start"]))
for p in problems:
    print("FAIL", p)
sys.exit(1 if problems else 0)
PYEOF

note "the big file is intact"
[[ $(stat -c %s "$MNT/big/main/huge.bin") -eq 1073741824 ]] || fail "size of the 1 GiB file"
cmp <(head -c 1048576 "$MNT/big/main/huge.bin") <(tail -c 1048576 "$MNT/big/main/huge.bin") ||
	fail "the first and the last MiB of the 1 GiB file differ"
mesh_commit big/main "huge" >/dev/null
rm "$MNT/big/main/huge.bin"
mesh_commit big/main "drop huge" >/dev/null
exit 0
