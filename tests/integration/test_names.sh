#!/usr/bin/env bash
# Odd names and bad input through the mount, the control file and the CLI:
# bytes that are not UTF-8 in JSON answers, "." and ".." as cp targets,
# branch names spelled like commit ids, deep directories and PATH_MAX, a
# command written in pieces, attributes of .control, and the documented
# limits of a command at N and N + 1.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
mesh_domain sales
mesh_domain odd $'caf\xc3\xa9 \xff\xfe end'
mesh_domain later "a later domain"

# py_repr: prints the python repr of stdin's bytes.
py_repr() {
	"$PY" -c 'import sys; print(repr(sys.stdin.buffer.read()))'
}

note "a description that is not UTF-8 is valid JSON and comes back byte for byte (store)"
list=$("$MESHFS_BIN" domain list --store "$STORE" | py_repr)
assert_contains "$list" "odd\\tcaf\\xc3\\xa9 \\xff\\xfe end\\n" "CLI domain list on the store"
assert_contains "$list" "later\\ta later domain" "the domain listed after it"
"$MESHFS_BIN" domain list --store "$STORE" --json >"$MESH_TMP/list.json"
mesh_py "$MESH_TMP/list.json" <<'EOF'
import json, sys
d = json.loads(open(sys.argv[1], "rb").read())
descs = {x["name"]: x["description"].encode("utf-8", "surrogateescape") for x in d["domains"]}
assert descs["odd"] == b"caf\xc3\xa9 \xff\xfe end", descs
assert descs["later"] == b"a later domain", descs
EOF

mesh_mount
B=$MNT/sales/main

note "... and through the control file and the CLI on the mount"
mesh_py "$MNT/.control" <<'EOF'
import json, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
os.write(fd, b"domain list\n")
raw = os.pread(fd, 1 << 20, 0)
os.close(fd)
raw.decode("utf-8")                        # the answer itself is UTF-8
assert b"\\udcff\\udcfe" in raw, raw
d = json.loads(raw)
odd = [x for x in d["domains"] if x["name"] == "odd"][0]
assert odd["description"].encode("utf-8", "surrogateescape") == b"caf\xc3\xa9 \xff\xfe end", odd
EOF
list=$("$MESHFS_BIN" domain list --mount "$MNT" | py_repr)
assert_contains "$list" "odd\\tcaf\\xc3\\xa9 \\xff\\xfe end\\n" "CLI domain list through the mount"
assert_contains "$list" "later\\ta later domain" "the domain listed after it (mount)"

note "file names and commit messages with such bytes: status, commit, log"
echo data >"$B/"$'r\xe9sum\xe9.csv'
mesh_py "$MNT/.control" <<'EOF'
import json, os, sys
def ctl(line):
    fd = os.open(sys.argv[1], os.O_RDWR)
    try:
        os.write(fd, line)
    finally:
        raw = os.pread(fd, 1 << 20, 0)
        os.close(fd)
    raw.decode("utf-8")
    return json.loads(raw)
st = ctl(b"status sales/main\n")
paths = [c["path"].encode("utf-8", "surrogateescape") for c in st["changes"]]
assert paths == [b"r\xe9sum\xe9.csv"], paths
ctl(b"commit sales/main -m 'bad \xff byte' --meta 'k\xfe=v\xfd'\n")
c = ctl(b"log sales/main -n 1\n")["commits"][0]
assert c["message"].encode("utf-8", "surrogateescape") == b"bad \xff byte", c
meta = {k.encode("utf-8", "surrogateescape"): v.encode("utf-8", "surrogateescape")
        for k, v in c["meta"].items()}
assert meta == {b"k\xfe": b"v\xfd"}, meta
EOF
log=$("$MESHFS_BIN" log sales/main -n 1 --mount "$MNT" | py_repr)
assert_contains "$log" "bad \\xff byte" "CLI log of a message holding 0xff"
[[ -e $MNT/sales/main~0/$'r\xe9sum\xe9.csv' ]] || fail "the committed odd file name is not there"

note "cp to '.' or '..' (or ending in them) is EINVAL and stages nothing"
echo a >"$B/a.csv"
mkdir "$B/dir"
mesh_ctl_ok "commit sales/main -m base" >/dev/null
for dst in . .. dir/.. dir/. ./x dir/../x; do
	mesh_ctl_fails EINVAL "cp sales/main/a.csv sales/main/$dst"
	assert_contains "$(mesh_json 'd["message"]' <<<"$OUT")" "component" "message of cp to $dst"
done
assert_status 1 "$MESHFS_BIN" cp sales/main/a.csv sales/main/dir/.. --mount "$MNT"
assert_eq '[]' "$(mesh_ctl_ok "status sales/main" | mesh_json 'd["changes"]')" "staged after refused cps"
echo b >"$B/b.csv"
mesh_ctl_ok "commit sales/main -m 'still commits'" >/dev/null

note "a branch or tag spelled like a commit id is EINVAL; MOUNT/D/<id>/ means the commit"
head=$(mesh_ctl_ok "log sales/main -n 1" | mesh_json 'd["commits"][0]["id"]')
mesh_ctl_fails EINVAL "branch create sales/deadbeef"
assert_contains "$(mesh_json 'd["message"]' <<<"$OUT")" "could be a commit id" "message for branch deadbeef"
mesh_ctl_fails EINVAL "branch create sales/${head:0:8}"
mesh_ctl_fails EINVAL "tag create sales/${head:0:12} main"
assert_fails mkdir "$MNT/sales/cafe0123"
assert_contains "$ERR" "Invalid argument" "mkdir of a hex-like branch"
assert_status 1 "$MESHFS_BIN" branch create sales/0123456789 --mount "$MNT"
assert_eq b "$(cat "$MNT/sales/${head:0:8}/b.csv")" "MOUNT/sales/<prefix>/ is the commit"
mesh_ctl_ok "branch create sales/deadbee" >/dev/null      # 7 digits: a name like others
mesh_ctl_ok "branch create sales/fix-deadbeef" >/dev/null

note "directories nest as deep as PATH_MAX allows; then ENAMETOOLONG"
mesh_py "$B" <<'EOF'
import errno, os, sys
os.chdir(sys.argv[1])
os.mkdir("deep")
os.chdir("deep")
depth = 1                       # view path "deep/a/a/...": 4 + 2 per level
while True:
    try:
        os.mkdir("a")
    except OSError as e:
        assert e.errno == errno.ENAMETOOLONG, (depth, e)
        break
    os.chdir("a")
    depth += 1
# The deepest path fits in 4095 bytes, the next would not; the old limit
# was 512 levels (ENOENT).
assert 4 + 2 * (depth - 1) <= 4095 < 4 + 2 * depth and depth == 2046, depth
try:
    open("f", "w").close()
    sys.exit("a file was created past PATH_MAX")
except OSError as e:
    assert e.errno == errno.ENAMETOOLONG, e
EOF
deep=$(mesh_commit sales/main deep)
mesh_py "$MNT/sales/$deep" <<'EOF'
import os, sys
os.chdir(sys.argv[1] + "/deep")
depth = 1
while os.path.isdir("a"):
    os.chdir("a")
    depth += 1
assert depth == 2046, depth
EOF

note "a rename that would push entries past PATH_MAX is ENAMETOOLONG and moves nothing"
mesh_py "$B" <<'EOF'
import errno, os, sys
b = sys.argv[1]
try:
    os.rename(b + "/deep", b + "/deeper")
    sys.exit("rename past PATH_MAX succeeded")
except OSError as e:
    assert e.errno == errno.ENAMETOOLONG, e
assert os.path.isdir(b + "/deep/a/a") and not os.path.exists(b + "/deeper")
os.rename(b + "/deep", b + "/peed")                  # same length: fine
os.rename(b + "/peed", b + "/deep")
EOF
assert_eq '[]' "$(mesh_ctl_ok "status sales/main" | mesh_json 'd["changes"]')" "staged after the renames"

note "a command that bash's echo writes in 4096-byte pieces runs once, whole"
echo w >"$B/w.csv"
long=$(printf 'w%.0s' $(seq 6000))
echo "commit sales/main -m $long" >"$MNT/.control" || fail "echo of a 6 KB commit failed"
assert_eq 6000 "$(mesh_ctl_ok "log sales/main -n 1" | mesh_json 'len(d["commits"][0]["message"])')" \
	"length of the message written in pieces"
assert_eq 1 "$(mesh_ctl_ok "log sales/main -n 3" | mesh_json 'sum(c["message"][:1] == "w" for c in d["commits"])')" \
	"commits made by the pieces"

note "pieces, NULs and oversized writes through os.write"
echo p >"$B/p.csv"
mesh_py "$MNT/.control" <<'EOF'
import errno, json, os, sys
ctl = sys.argv[1]
def answer(fd):
    return json.loads(os.pread(fd, 1 << 20, 0))
def refused(fd, data, needle):
    try:
        os.write(fd, data)
        sys.exit("write of %r... succeeded" % data[:40])
    except OSError as e:
        assert e.errno == errno.EINVAL, e
    a = answer(fd)
    assert a["ok"] is False and needle in a["message"], a
def staged():
    fd = os.open(ctl, os.O_RDWR)
    os.write(fd, b"status sales/main\n")
    n = len(answer(fd)["changes"])
    os.close(fd)
    return n

# Whole 4096-byte blocks without a newline: held, nothing runs yet.
fd = os.open(ctl, os.O_RDWR)
first = b"commit sales/main -m pieces" + b" " * (4096 - 27)
assert os.write(fd, first) == 4096
a = answer(fd)
assert a["ok"] is False and "incomplete command" in a["message"], a
assert staged() == 1
assert os.write(fd, b"\n") == 1                  # the line ends: it runs, whole
a = answer(fd)
assert a["ok"] is True and a["changes"] == 1, a
assert staged() == 0
os.close(fd)

# Larger than a command may be: refused, whatever pieces the kernel makes.
for size in (65537, 200 * 1024, 3 << 20):
    fd = os.open(ctl, os.O_RDWR)
    refused(fd, b"commit sales/main -m " + b"x" * size + b"\n", "too long")
    os.close(fd)
fd = os.open(ctl, os.O_RDWR)
refused(fd, b"status sales/main\0 trailing", "NUL")
# Another command on the same descriptor after reading the answer.
os.write(fd, b"status sales/main\n")
assert answer(fd)["ok"] is True
os.close(fd)
EOF

note "chmod, chown, touch and truncate of .control are EPERM"
for cmd in "chmod 600" "chown $(id -u)" "touch" "truncate -s 0"; do
	# shellcheck disable=SC2086  # the command's words
	assert_fails $cmd "$MNT/.control"
	assert_contains "$ERR" "Operation not permitted" "$cmd .control"
done
[[ $(stat -c %a "$MNT/.control") == 666 ]] || fail ".control mode changed"

note "the documented limits: N works, N + 1 is a clear EINVAL"
echo l >"$B/l.csv"
mesh_py "$MNT/.control" <<'EOF'
import errno, json, os, sys
ctl = sys.argv[1]
def run(line):
    fd = os.open(ctl, os.O_RDWR)
    err = 0
    try:
        os.write(fd, line)
    except OSError as e:
        err = e.errno
    a = json.loads(os.pread(fd, 1 << 20, 0))
    os.close(fd)
    return err, a
def metas(n, extra=0):
    return (b"commit sales/main -m x" + b"".join(b" --meta k%d=v" % i for i in range(n))
            + b" w" * extra + b"\n")
head, tail = b"commit sales/main -m '", b"'\n"
err, a = run(head + b"m" * (65536 - len(head) - len(tail)) + tail)
assert err == 0 and a["ok"], (err, a)
err, a = run(head + b"m" * (65537 - len(head) - len(tail)) + tail)
assert err == errno.EINVAL and "too long" in a["message"], a
open(os.path.dirname(ctl) + "/sales/main/m.csv", "w").write("m\n")
err, a = run(metas(65))
assert err == errno.EINVAL and "at most 64 --meta pairs" in a["message"], a
err, a = run(metas(64))
assert err == 0 and a["ok"], a
err, a = run(metas(0, 256 - 4))                  # 256 words: the command's own complaint
assert err == errno.EINVAL and "unknown argument 'w'" in a["message"], a
err, a = run(metas(0, 257 - 4))
assert err == errno.EINVAL and "more than 256 words" in a["message"], a
EOF
assert_eq 64 "$(mesh_ctl_ok "log sales/main -n 1" | mesh_json 'len(d["commits"][0]["meta"])')" "meta pairs committed"
echo n >"$B/n.csv"
metas=()
for i in $(seq 65); do metas+=(--meta "k$i=v"); done
assert_status 1 "$MESHFS_BIN" commit sales/main -m x "${metas[@]}" --mount "$MNT"
assert_contains "$ERR" "at most 64 --meta pairs" "CLI error for 65 --meta pairs"
mesh_cli commit sales/main -m x "${metas[@]:2}" --mount "$MNT" >/dev/null
assert_status 1 "$MESHFS_BIN" commit sales/main -m "$(printf 'm%.0s' $(seq 70000))" --mount "$MNT"
assert_contains "$ERR" "too long" "CLI error for a 70 KB message"

mesh_umount
echo "test_names: ok"
