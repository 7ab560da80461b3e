#!/usr/bin/env bash
# Every read verifies the object's hash: a corrupted chunk reads as EIO
# (never wrong bytes) and the daemon logs a line naming the object.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
mesh_domain vault
mesh_mount
B=$MNT/vault/main

note "a committed file of one chunk (smaller than the 64 KiB minimum) and a healthy neighbour"
head -c 20000 /dev/urandom >"$MESH_TMP/victim.bin"
head -c 20000 /dev/urandom >"$MESH_TMP/healthy.bin"
cp "$MESH_TMP/victim.bin" "$B/victim.bin"
cp "$MESH_TMP/healthy.bin" "$B/healthy.bin"
c=$(mesh_commit vault/main "two files")
mesh_umount

# The chunk's id is SHA-256 over "chunk <len>\0" + data (oid.h); its file
# is objects/<2 hex>/<62 hex> (odb.h).
id=$("$PY" - "$MESH_TMP/victim.bin" <<'PYEOF'
import hashlib, sys
data = open(sys.argv[1], "rb").read()
print(hashlib.sha256(b"chunk %d\0" % len(data) + data).hexdigest())
PYEOF
)
obj=$STORE/objects/${id:0:2}/${id:2}
[[ -f $obj ]] || fail "chunk object $obj not found (objects: $(find "$STORE/objects" -type f | head -n 5))"

note "flip one byte of the stored chunk $id"
"$PY" - "$obj" <<'PYEOF'
import os, sys
path = sys.argv[1]
size = os.path.getsize(path)
with open(path, "r+b") as f:
    f.seek(size - 100)
    b = f.read(1)
    f.seek(size - 100)
    f.write(bytes([b[0] ^ 0xFF]))
PYEOF

mesh_mount
note "reads of the corrupted file fail with EIO, in the branch and the commit view"
for p in "$B/victim.bin" "$MNT/vault/$c/victim.bin"; do
	"$PY" - "$p" <<'PYEOF' || fail "reading the corrupted $p did not fail with EIO"
import errno, sys
try:
    data = open(sys.argv[1], "rb").read()
except OSError as e:
    sys.exit(0 if e.errno == errno.EIO else "errno %s" % errno.errorcode[e.errno])
sys.exit("read %d bytes of a corrupted object" % len(data))
PYEOF
done
grep -q "${id:0:16}" "$MESH_LOG" || fail "no daemon log line names the corrupted object $id"
assert_file_eq "$MESH_TMP/healthy.bin" "$B/healthy.bin"
assert_file_eq "$MESH_TMP/healthy.bin" "$MNT/vault/$c/healthy.bin"

note "overwriting the file in the branch recovers it"
cp "$MESH_TMP/healthy.bin" "$B/victim.bin"
assert_file_eq "$MESH_TMP/healthy.bin" "$B/victim.bin"
exit 0
