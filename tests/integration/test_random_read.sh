#!/usr/bin/env bash
# Random reads: a small read off the sequential path loads and verifies a
# whole chunk, and meshfs hands all of it to the kernel's page cache, so
# later reads in that chunk are cache hits.  The cached pages must never
# outlive the content: writes, merges and resets made afterwards, and
# writes racing the random readers, are what every reader then sees.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
mesh_domain lab
mesh_mount
B=$MNT/lab/main

head -c $((8 << 20)) /dev/urandom >"$MESH_TMP/v1.bin"
cp "$MESH_TMP/v1.bin" "$B/data.bin"
c1=$(mesh_commit lab/main "eight MiB of noise")

# resident PATH: bytes of PATH in the page cache.
resident() {
	fincore --bytes --noheadings --output RES "$1" | tr -d ' '
}

# random_reads EXPECTED PATH [COUNT]: COUNT 4 KiB preads at random
# offsets (with POSIX_FADV_RANDOM, as fio does) must equal EXPECTED.
random_reads() {
	mesh_py "$@" <<'PYEOF'
import os, random, sys
expected = open(sys.argv[1], "rb").read()
count = int(sys.argv[3]) if len(sys.argv) > 3 else 400
fd = os.open(sys.argv[2], os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
rng = random.Random(7)
for _ in range(count):
    off = rng.randrange(0, len(expected) - 4096)
    got = os.pread(fd, 4096, off)
    if got != expected[off:off + 4096]:
        sys.exit("wrong bytes at offset %d of %s" % (off, sys.argv[2]))
os.close(fd)
PYEOF
}

note "one 4 KiB read in a cold commit view brings its whole chunk into the page cache"
mesh_remount
sync
echo 3 >/proc/sys/vm/drop_caches
V=$MNT/lab/$c1/data.bin
mesh_py "$V" "$MESH_TMP/v1.bin" <<'PYEOF'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
off = 5 * 1048576 + 12345
if os.pread(fd, 4096, off) != open(sys.argv[2], "rb").read()[off:off + 4096]:
    sys.exit("wrong bytes at %d" % off)
os.close(fd)
PYEOF
for ((i = 0; i < 50; i++)); do
	res=$(resident "$V")
	((res >= 65536)) && break
	sleep 0.1
done
((res >= 65536)) || fail "after one 4 KiB read only $res bytes are cached (a chunk is at least 64 KiB)"
((res <= 4 << 20)) || fail "one 4 KiB read cached $res bytes, more than one chunk"
note "cached after one read: $res bytes"

note "random reads return the committed bytes, in the commit view and the branch"
random_reads "$MESH_TMP/v1.bin" "$V"
random_reads "$MESH_TMP/v1.bin" "$B/data.bin"

note "an overwrite after random reads is what the next random reads see"
cp "$MESH_TMP/v1.bin" "$MESH_TMP/v2.bin"
mesh_py "$B/data.bin" "$MESH_TMP/v2.bin" <<'PYEOF'
import os, sys
patch = os.urandom(3 << 20)
for path in sys.argv[1:]:
    fd = os.open(path, os.O_WRONLY)
    os.pwrite(fd, patch, 2 << 20)
    os.close(fd)
PYEOF
random_reads "$MESH_TMP/v2.bin" "$B/data.bin"
assert_file_eq "$MESH_TMP/v2.bin" "$B/data.bin"
mesh_commit lab/main "patched" >/dev/null

note "a merge and a reset under a reader that keeps its file open"
mkdir "$MNT/lab/side"
head -c $((8 << 20)) /dev/urandom >"$MESH_TMP/v3.bin"
cp "$MESH_TMP/v3.bin" "$MNT/lab/side/data.bin"
mesh_commit lab/side "all new" >/dev/null
random_reads "$MESH_TMP/v2.bin" "$B/data.bin" 200
mesh_ctl_ok "merge lab/side --into main" >/dev/null
random_reads "$MESH_TMP/v3.bin" "$B/data.bin"
assert_file_eq "$MESH_TMP/v3.bin" "$B/data.bin"
cp "$MESH_TMP/v1.bin" "$B/data.bin"
random_reads "$MESH_TMP/v1.bin" "$B/data.bin" 200
mesh_ctl_ok "reset lab/main -- data.bin" >/dev/null
random_reads "$MESH_TMP/v3.bin" "$B/data.bin"

note "random readers racing a writer: once the writer is done, every reader sees its bytes"
mesh_py "$B/data.bin" "$MESH_TMP/v4.bin" <<'PYEOF'
import os, random, sys, threading
path, final_copy = sys.argv[1], sys.argv[2]
size = os.path.getsize(path)
stop = threading.Event()
def reader(seed):
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
    rng = random.Random(seed)
    while not stop.is_set():
        os.pread(fd, 4096, rng.randrange(0, size - 4096))
    os.close(fd)
readers = [threading.Thread(target=reader, args=(s,)) for s in range(4)]
for t in readers:
    t.start()
content = bytearray(open(path, "rb").read())
rng = random.Random(11)
fd = os.open(path, os.O_WRONLY)
for _ in range(300):
    off = rng.randrange(0, size - 8192)
    patch = os.urandom(rng.randrange(1, 8192))
    os.pwrite(fd, patch, off)
    content[off:off + len(patch)] = patch
os.close(fd)
stop.set()
for t in readers:
    t.join()
open(final_copy, "wb").write(content)
PYEOF
random_reads "$MESH_TMP/v4.bin" "$B/data.bin" 2000
assert_file_eq "$MESH_TMP/v4.bin" "$B/data.bin"
mesh_umount
