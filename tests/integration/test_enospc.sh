#!/usr/bin/env bash
# A store on a small tmpfs that fills up while files are written, staged,
# committed and merged through the mount: callers get ENOSPC (or EIO from
# fsync), the daemon stays up, nothing fsync'd or committed is lost, work
# resumes by itself once a filler file outside the store is deleted, and
# the store reopens on a full disk.  The filesystem is a tmpfs of
# MESH_ENOSPC_DISK_MIB (64) MiB.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
DISK=$MESH_TMP/disk
DISK_MIB=${MESH_ENOSPC_DISK_MIB:-64}
mkdir -p "$DISK"
# MESH_ENOSPC_FS=ext4 runs it on a loop-mounted ext4 image instead.
if [[ ${MESH_ENOSPC_FS:-tmpfs} == ext4 ]]; then
	truncate -s ${DISK_MIB}M "$MESH_TMP/disk.img"
	mkfs.ext4 -q -m 0 "$MESH_TMP/disk.img" || fail "mkfs.ext4 failed"
	mount -o loop "$MESH_TMP/disk.img" "$DISK" || fail "cannot loop-mount ext4 (needs root)"
else
	mount -t tmpfs -o size=${DISK_MIB}m meshfs-enospc "$DISK" || fail "cannot mount a tmpfs (needs root)"
fi
MESH_EXTRA_MOUNTS+=("$DISK")
STORE=$DISK/store
export MESHFS_STORE=$STORE
mesh_cli init --store "$STORE" >/dev/null
mesh_domain d
mesh_mount
B=$MNT/d/main
MANIFEST=$MESH_TMP/manifest     # "path sha256" of every fsync'd file
: >"$MANIFEST"

# Driver: 'write PATH MIB' writes random data, fsyncs and closes; prints
# "ok SHA" or "ENOSPC ACKED SIZE" (bytes write(2) acknowledged, the size
# stat then shows).  Any errno but ENOSPC/EIO is a failure.
DRIVER='
import errno, hashlib, os, sys, time
op, path = sys.argv[1], sys.argv[2]
if op == "write":
    data = os.urandom(int(float(sys.argv[3]) * 1048576))
    if len(sys.argv) > 4:
        with open(sys.argv[4], "wb") as keep:   # what was meant, outside the store
            keep.write(data)
    acked = 0
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EIO):
            raise
        print(errno.errorcode[e.errno], 0, -1)
        sys.exit(0)
    failed = None
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view[:1048576])
            acked += n
            view = view[n:]
        os.fsync(fd)
    except OSError as e:
        failed = e
    try:
        size = os.fstat(fd).st_size
        os.close(fd)
    except OSError as e:
        failed = failed or e
        size = os.stat(path).st_size
    if failed is None:
        print("ok", hashlib.sha256(data).hexdigest())
    elif failed.errno in (errno.ENOSPC, errno.EIO):
        print(errno.errorcode[failed.errno], acked, size)
    else:
        raise failed
elif op == "scratch":
    # scratch PATH FILLER MEANT: rewrites a committed file in place (its
    # copy lives in STORE/tmp), fills the disk from outside, extends the
    # file until ENOSPC, frees the space, fsyncs; MEANT gets the bytes
    # that were acknowledged.  Prints "ok SHA ACKED".
    filler, meant = sys.argv[3], sys.argv[4]
    fd = os.open(path, os.O_RDWR)
    content = bytearray(os.pread(fd, 1 << 30, 0))
    os.pwrite(fd, b"X" * 4096, 100)
    content[100:4196] = b"X" * 4096
    ffd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    for block in (1 << 20, 4096):
        try:
            while True:
                os.write(ffd, b"\0" * block)
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise
    os.close(ffd)
    piece, acked, hit = os.urandom(256 * 1024), 0, None
    for _ in range(64):
        try:
            n = os.pwrite(fd, piece, len(content))
        except OSError as e:
            hit = e
            break
        content += piece[:n]
        acked += n
    if hit is None or hit.errno != errno.ENOSPC:
        sys.exit("no ENOSPC extending a file on a full disk: %r" % hit)
    size = os.fstat(fd).st_size
    if size != len(content):
        sys.exit("the file shows %d bytes, %d were acknowledged" % (size, len(content)))
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.EIO):
            raise
    os.unlink(filler)
    for _ in range(300):
        try:
            os.fsync(fd)
            break
        except OSError as e:
            if e.errno not in (errno.ENOSPC, errno.EIO):
                raise
            time.sleep(0.1)
    else:
        sys.exit("fsync did not succeed within 30 s of freeing the space")
    os.close(fd)
    with open(meant, "wb") as out:
        out.write(content)
    print("ok", hashlib.sha256(content).hexdigest(), acked)
elif op == "small":
    # small DIR N KIB: N files, each written, synced and closed, until
    # one fails; prints "REL SHA" per file whose fsync returned.
    n, size = int(sys.argv[3]), int(sys.argv[4]) * 1024
    os.makedirs(path, exist_ok=True)
    for i in range(n):
        data = os.urandom(size)
        name = "%s/s%05d" % (path, i)
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        except OSError as e:
            if e.errno not in (errno.ENOSPC, errno.EIO):
                raise
            print("STOP", errno.errorcode[e.errno], i)
            break
        acked, failed = 0, None
        try:
            acked = os.write(fd, data)
            if acked < size:
                os.write(fd, data[acked:])
            os.fsync(fd)
        except OSError as e:
            failed = e
        st = os.fstat(fd).st_size
        try:
            os.close(fd)
        except OSError as e:
            failed = failed or e
        if failed is None:
            print(name, hashlib.sha256(data).hexdigest())
            continue
        if failed.errno not in (errno.ENOSPC, errno.EIO):
            raise failed
        if st > acked:
            sys.exit("%s shows %d bytes, %d acknowledged" % (name, st, acked))
        print("STOP", errno.errorcode[failed.errno], i)
        break
'
drive() { "$PY" -c "$DRIVER" "$@"; }

# write_ok REL MIB: must succeed; goes into the manifest.
write_ok() {
	local out
	out=$(drive write "$B/$1" "$2") || fail "writing $1 failed: $out"
	[[ $out == ok* ]] || fail "writing $1 with space free: $out"
	echo "$1 ${out#ok }" >>"$MANIFEST"
}

verify_manifest() {
	local where=$1 rel sum got
	while read -r rel sum; do
		got=$(sha256sum <"$where/$rel" | cut -d' ' -f1) || fail "cannot read $where/$rel"
		[[ $got == "$sum" ]] || fail "$where/$rel changed: $got, expected $sum"
	done <"$MANIFEST"
}

# ctl_ok_or_enospc LINE: the command succeeds or fails with ENOSPC/EIO.
ctl_ok_or_enospc() {
	run mesh_ctl "$1"
	[[ $RC -eq 0 || $ERR == ENOSPC || $ERR == EIO ]] || fail "'$1' on a full disk: $ERR $OUT"
	[[ $RC -eq 0 ]] && echo ok || echo "$ERR"
}

alive() {
	kill -0 "$MESH_PID" 2>/dev/null || fail "the daemon died ($1)"
	ls "$B" >/dev/null || fail "the mount stopped answering ($1)"
}

# fill_disk TAG: takes every free block (ext4 hands back preallocated
# blocks after a close, so it goes round until nothing is left).
fill_disk() {
	local n
	for n in 1 2 3; do
		dd if=/dev/zero of="$DISK/filler.$1.$n" bs=1M status=none 2>/dev/null || true
		dd if=/dev/zero of="$DISK/filler.$1.$n.small" bs=4k status=none 2>/dev/null || true
		sync -f "$DISK"
	done
}

note "a store on a ${DISK_MIB} MiB ${MESH_ENOSPC_FS:-tmpfs}: $(du -sm "$STORE" | cut -f1) MiB used after init"
write_ok base/a.bin 2
write_ok base/b.bin 0.01
mesh_commit d/main "base" >/dev/null
[[ -f $STORE/reserve ]] || fail "the store has no STORE/reserve"
mesh_ctl_ok "branch create d/side --from main" >/dev/null
echo side >"$MNT/d/side/side.txt"
mesh_commit d/side "side" >/dev/null

note "rewriting a committed file in place (STORE/tmp) while the disk fills"
out=$(drive scratch "$B/base/a.bin" "$DISK/filler.s" "$MESH_TMP/meant.a") || fail "in-place rewrite on a full disk: $out"
read -r what sum acked <<<"$out"
[[ $what == ok ]] || fail "in-place rewrite: $out"
sed -i '/^base\/a.bin /d' "$MANIFEST"
echo "base/a.bin $sum" >>"$MANIFEST"
note "the rewrite took $acked bytes more before ENOSPC; its fsync went through once space was back"
alive "after the in-place rewrite"
[[ -e $STORE/reserve ]] || fail "the reserve was not re-created by the fsync once space was back"

note "filling the disk from outside the store, but 6 MiB"
dd if=/dev/zero of="$DISK/filler.0" bs=1M count=$(($(df -m --output=avail "$DISK" | tail -1) - 6)) status=none
note "small files (stored in RocksDB) until the disk is full"
drive small "$B/small" 3000 10 >"$MESH_TMP/small.out" || fail "small-file writer: $(tail -3 "$MESH_TMP/small.out")"
grep -q '^STOP' "$MESH_TMP/small.out" || fail "3000 small files fitted on a full disk"
grep -v '^STOP' "$MESH_TMP/small.out" | sed "s|^$B/||" >>"$MANIFEST"
note "$(grep -vc '^STOP' "$MESH_TMP/small.out") small files fsync'd, then $(grep '^STOP' "$MESH_TMP/small.out")"
alive "after small files filled the disk"
ENOSPC_SEEN=0
for i in 1 2 3 4; do
	out=$(drive write "$B/full/f$i.bin" 4 "$MESH_TMP/meant.f$i") || fail "writer crashed on a full disk: $out"
	read -r what acked size <<<"$out"
	if [[ $what == ok ]]; then
		echo "full/f$i.bin $acked" >>"$MANIFEST"
		continue
	fi
	ENOSPC_SEEN=$((ENOSPC_SEEN + 1))
	# Never a size beyond what write(2) acknowledged.
	((size <= acked)) || fail "full/f$i.bin shows $size bytes, only $acked were acknowledged"
	alive "after a write hit ENOSPC"
done
((ENOSPC_SEEN > 0)) || fail "no write got ENOSPC on a full disk"
[[ ! -e $STORE/reserve ]] || fail "the reserve was not released on ENOSPC"
note "writes: $ENOSPC_SEEN of 4 got ENOSPC; the reserve was released"

# The released reserve is for commits: one must go through (once RocksDB
# has recovered from its background error, which it retries every 5 s).
# Then the filler takes that space too, and the next ones fail cleanly.
for ((t = 0; t < 150; t++)); do
	r=$(ctl_ok_or_enospc "commit d/main -m 'on a full disk'")
	[[ $r == ok ]] && break
	sleep 0.1
done
[[ $r == ok ]] || fail "no commit went through on the released reserve within 15 s: $r"
note "commit on the released reserve: ok after $((t / 10)).$((t % 10)) s"
fill_disk 2
# A commit that changes small/ writes its tree (800 entries, over 16 KiB:
# a file in objects/) and so needs space the disk no longer has.
COMMIT_ENOSPC=0
for k in 1 2 3; do
	rm -f "$B/small/s0000$k" || fail "unlink on a full disk failed"
	sed -i "\\|^small/s0000$k |d" "$MANIFEST"
	r1=$(ctl_ok_or_enospc "commit d/main -m 'full $k'")
	r2=$(ctl_ok_or_enospc "merge d/main --into side -m 'merge $k'")
	[[ $r1 == ENOSPC ]] && COMMIT_ENOSPC=$((COMMIT_ENOSPC + 1))
	note "disk full: commit $r1, merge $r2"
	alive "after commit and merge on a full disk"
done
((COMMIT_ENOSPC > 0)) || fail "no commit got ENOSPC on a full disk"
out=$(drive write "$B/full/late.bin" 1)
[[ $out == ENOSPC* || $out == EIO* ]] || fail "a write on a full disk did not fail: $out"
sleep 1.5   # RocksDB's background work (flush, compaction) runs into the full disk too
alive "1.5 s after the disk filled"

note "freeing the space"
COMMITTED=$(mesh_ctl_ok "log d/main" | mesh_json '[c["id"] for c in d["commits"]]')
rm -f "$DISK"/filler.*
start=$(date +%s.%N)
resumed=
for ((t = 0; t < 300; t++)); do
	out=$(drive write "$B/after/probe$t.bin" 0.5)
	if [[ $out == ok* ]] && mesh_ctl "commit d/main -m 'after freeing space'" >/dev/null 2>&1; then
		echo "after/probe$t.bin ${out#ok }" >>"$MANIFEST"
		resumed=$(python3 -c "import time; print('%.1f' % (time.time() - $start))")
		break
	fi
	sleep 0.1
done
[[ -n $resumed ]] || fail "writes and commits did not resume within 30 s of freeing space"
note "writes and commits resumed ${resumed} s after the space was freed"
[[ -e $STORE/reserve ]] || fail "the reserve was not re-created once space was back"
write_ok after/more.bin 1
mesh_commit d/main "after" >/dev/null
r=$(ctl_ok_or_enospc "merge d/main --into side -m 'merge after'")
[[ $r == ok ]] || fail "merge after freeing space: $r"
verify_manifest "$B"
mesh_ctl_ok "log d/main" | mesh_json '[c["id"] for c in d["commits"]]' >"$MESH_TMP/now"
"$PY" -c '
import json, sys
before, now = json.loads(sys.argv[1]), json.load(open(sys.argv[2]))
lost = [c for c in before if c not in now]
sys.exit("commits lost: %s" % lost if lost else 0)' "$COMMITTED" "$MESH_TMP/now" ||
	fail "a commit made before the disk filled is gone"

# A file whose write failed is committed as what was acknowledged of it
# (a prefix of what was meant), or not at all.
mesh_ctl "commit d/main -m 'after the failed writes'" >/dev/null 2>&1 || true
for i in 1 2 3 4; do
	[[ -e $MESH_TMP/meant.f$i && -e $MNT/d/main~0/full/f$i.bin ]] || continue
	size=$(stat -c %s "$MNT/d/main~0/full/f$i.bin")
	cmp -n "$size" "$MNT/d/main~0/full/f$i.bin" "$MESH_TMP/meant.f$i" >/dev/null ||
		fail "full/f$i.bin was committed with bytes that were never written ($size bytes)"
done

note "reopening on a full disk"
fill_disk 3
mesh_umount
mesh_mount
verify_manifest "$B"
rm -f "$DISK"/filler.*
write_ok after/reopened.bin 1
mesh_commit d/main "reopened" >/dev/null
mesh_remount
verify_manifest "$B"
verify_manifest "$MNT/d/main~0"
note "store after the test: $(du -sm "$STORE" | cut -f1) MiB; $(df -m --output=avail "$DISK" | tail -1 | tr -d ' ') MiB free"
