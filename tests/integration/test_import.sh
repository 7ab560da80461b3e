#!/usr/bin/env bash
# meshfs import / export: a generated tree (nested dirs, empty files, a
# 20 MB file, symlinks, modes 0600/0755, old mtimes) imported without and
# with a mount serving the store equals its source (paths, kinds, sizes,
# modes, mtimes, symlink targets, content); a kill -9 in the middle of a
# bigger import and a rerun give the same commit with no chunk stored
# twice; export writes the same tree back; bad input changes nothing; a
# pseudo-terminal shows the progress bar, a pipe one summary line, --json
# parses; another user may import only a tree of its own it can read.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
mesh_domain d

SRC=$MESH_TMP/src
BIG=$MESH_TMP/big

# gen DIR FILES BIGMB SEED: a tree with every kind the store keeps.
GEN='
import os, random, sys
top, nfiles, big_mb, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
old = 946684800 + 123456789 / 1e9          # 2000-01-01, with nanoseconds
dirs = [top]
os.makedirs(top)
for i in range(nfiles):
    parent = rng.choice(dirs)
    if i % 10 == 0 and len(dirs) < 60:
        d = os.path.join(parent, "dir%03d" % i)
        os.mkdir(d)
        dirs.append(d)
        continue
    p = os.path.join(parent, "f%05d.dat" % i)
    size = 0 if i % 7 == 0 else rng.randint(1, 200000)
    with open(p, "wb") as f:
        f.write(rng.randbytes(size))
    os.chmod(p, 0o600 if i % 3 == 0 else 0o755 if i % 3 == 1 else 0o644)
    os.utime(p, ns=(int((old + i) * 1e9),) * 2)
with open(os.path.join(top, "big.bin"), "wb") as f:
    f.write(rng.randbytes(big_mb << 20))
os.mkdir(os.path.join(top, "empty"))
os.symlink("big.bin", os.path.join(top, "link"))
os.symlink("../no/such/target", os.path.join(dirs[-1], "dangling"))
os.utime(os.path.join(top, "link"), ns=(int(old * 1e9),) * 2, follow_symlinks=False)
for d in reversed(dirs[1:] + [os.path.join(top, "empty")]):
    os.chmod(d, 0o700 if len(d) % 2 else 0o755)
    os.utime(d, ns=(int((old - 86400) * 1e9),) * 2)
'

# digest DIR: one line per entry below DIR (the root itself is the
# branch or commit view, whose attributes are not the source'\''s).
DIGEST='
import hashlib, os, stat, sys
top = sys.argv[1]
out = []
for root, dirs, files in os.walk(top):
    for name in sorted(dirs + files):
        p = os.path.join(root, name)
        st = os.lstat(p)
        rel = os.path.relpath(p, top)
        if stat.S_ISLNK(st.st_mode):
            what = "link " + os.readlink(p)
        elif stat.S_ISDIR(st.st_mode):
            what = "dir"
        else:
            with open(p, "rb") as f:
                what = "file %d %s" % (st.st_size, hashlib.sha256(f.read()).hexdigest())
        mode = "" if stat.S_ISLNK(st.st_mode) else "%o" % stat.S_IMODE(st.st_mode)
        out.append("%s %s %s %d" % (rel, what, mode, st.st_mtime_ns))
print("\n".join(sorted(out)))
'
digest() { "$PY" -c "$DIGEST" "$1"; }
chunk_files() { find "$STORE/objects" -type f | wc -l; }
chunk_bytes() { du -sb "$STORE/objects" | cut -f1; }

"$PY" -c "$GEN" "$SRC" 300 20 1 || fail "generating the source tree"
WANT=$(digest "$SRC")
[[ $(wc -l <<<"$WANT") -gt 250 ]] || fail "the generated tree is too small: $WANT"

note "import without a mount: --json answers, the commit exports back equal"
run "$MESHFS_BIN" import "$SRC" d/main -m "first import" --jobs 3 --json
[[ $RC -eq 0 ]] || fail "import failed: $OUT $ERR"
C1=$(mesh_json 'd["commit"]' <<<"$OUT")
assert_eq true "$(mesh_json 'd["committed"]' <<<"$OUT")" "committed"
[[ $(mesh_json 'd["files"]' <<<"$OUT") -gt 200 ]] || fail "few files reported: $OUT"
mesh_cli export "d/$C1" "$MESH_TMP/out1" >/dev/null
assert_eq "$WANT" "$(digest "$MESH_TMP/out1")" "export of the imported commit"

note "a rerun finds everything there: no new commit, no new chunk"
n0=$(chunk_files)
run "$MESHFS_BIN" import "$SRC" d/main --json
[[ $RC -eq 0 ]] || fail "second import failed: $OUT $ERR"
assert_eq false "$(mesh_json 'd["committed"]' <<<"$OUT")" "committed on a rerun"
assert_eq "$C1" "$(mesh_json 'd["commit"]' <<<"$OUT")" "head after a rerun"
assert_eq "$(mesh_json 'd["files"]' <<<"$OUT")" "$(mesh_json 'd["skipped"]' <<<"$OUT")" "skipped files"
assert_eq "$n0" "$(chunk_files)" "chunk files after a rerun"

note "export refuses a non-empty destination unless --force; a file is not a directory"
run "$MESHFS_BIN" export d/main "$MESH_TMP/out1"
[[ $RC -ne 0 ]] || fail "export into a non-empty directory succeeded"
assert_contains "$ERR" "not empty" "error of export into a non-empty dir"
mesh_cli export d/main "$MESH_TMP/out1" --force >/dev/null
assert_eq "$WANT" "$(digest "$MESH_TMP/out1")" "export --force over the same tree"
mesh_cli export d/main/dir000 "$MESH_TMP/out-sub" >/dev/null
[[ -e $MESH_TMP/out-sub/$(ls "$SRC/dir000" | head -1) ]] || fail "export of a subdirectory"

note "bad input: clear errors, nothing staged"
head_before=$(mesh_cli log d/main --json | mesh_json 'd["commits"][0]["id"]')
touch "$MESH_TMP/plainfile"
for args in "$MESH_TMP/nope d/main:No such file" "$MESH_TMP/plainfile d/main:not a directory" \
	"$SRC nodomain/main:nodomain" "$SRC d/nobranch:nobranch"; do
	run "$MESHFS_BIN" import ${args%%:*}
	[[ $RC -ne 0 ]] || fail "import ${args%%:*} succeeded"
	assert_contains "$ERR" "${args#*:}" "error of import ${args%%:*}"
done
# (FIFOs, sockets and root's device nodes are imported: test_ownership.sh.)
run "$MESHFS_BIN" export d/nosuchref "$MESH_TMP/out-x"
[[ $RC -ne 0 ]] || fail "export of an unknown ref succeeded"
assert_eq "" "$(mesh_cli status d/main --json | mesh_json 'd["changes"]' | tr -d '[]')" \
	"staged changes after bad imports"
assert_eq "$head_before" "$(mesh_cli log d/main --json | mesh_json 'd["commits"][0]["id"]')" "head"

note "progress: a bar on a terminal, one summary line without one"
# Big enough to run for several of the bar's 0.1 s redraws.
"$PY" -c "$GEN" "$MESH_TMP/small" 400 60 2
MESHFS_PROGRESS_DELAY_MS=0 script -qec "$MESHFS_BIN import $MESH_TMP/small d/main/deep/er/tty" \
	/dev/null >"$MESH_TMP/tty.out" </dev/null ||
	fail "import under script failed: $(cat "$MESH_TMP/tty.out")"
assert_contains "$(cat "$MESH_TMP/tty.out")" "files" "terminal output"
grep -q '\[#*\.*\] [0-9]*/[0-9]* files .*/s  ETA' "$MESH_TMP/tty.out" ||
	fail "no progress bar on a terminal: $(cat -v "$MESH_TMP/tty.out")"
run "$MESHFS_BIN" import "$MESH_TMP/small" d/main/pipe
assert_eq 1 "$(wc -l <<<"$OUT")" "lines of a summary"
assert_contains "$OUT" "imported " "summary"
assert_eq "" "$ERR" "stderr without a terminal"
run "$MESHFS_BIN" export d/main/pipe "$MESH_TMP/out-pipe"
assert_eq 1 "$(wc -l <<<"$OUT")" "lines of an export summary"
assert_contains "$OUT" "exported " "export summary"

note "kill -9 in the middle of a bigger import; the rerun ends the same, no chunk twice"
"$PY" -c "$GEN" "$BIG" 3000 40 3
WANT_BIG=$(digest "$BIG")
n0=$(chunk_files)
"$MESHFS_BIN" import "$BIG" d/main/big --jobs 2 >/dev/null 2>&1 &
pid=$!
for ((i = 0; i < 600; i++)); do
	staged=$(find "$STORE/objects" -type f | wc -l)
	((staged > n0 + 40)) && break
	sleep 0.05
done
kill -9 "$pid" 2>/dev/null || fail "the import finished before it could be killed"
wait "$pid" 2>/dev/null || true
run "$MESHFS_BIN" import "$BIG" d/main/big --json
[[ $RC -eq 0 ]] || fail "rerun after kill -9 failed: $OUT $ERR"
[[ $(mesh_json 'd["skipped"]' <<<"$OUT") -gt 0 ]] || fail "the rerun skipped nothing: $OUT"
CB=$(mesh_json 'd["commit"]' <<<"$OUT")
mesh_cli export "d/$CB/big" "$MESH_TMP/out-big" >/dev/null
assert_eq "$WANT_BIG" "$(digest "$MESH_TMP/out-big")" "export after an interrupted import"
files_killed=$(chunk_files)
bytes_killed=$(chunk_bytes)
# The same imports into a fresh store, never interrupted: the same objects.
STORE_SAVED=$STORE
STORE=$MESH_TMP/store2
export MESHFS_STORE=$STORE
"$MESHFS_BIN" init >/dev/null && mesh_domain d
mesh_cli import "$SRC" d/main >/dev/null
mesh_cli import "$MESH_TMP/small" d/main/deep/er/tty >/dev/null
mesh_cli import "$MESH_TMP/small" d/main/pipe >/dev/null
mesh_cli import "$BIG" d/main/big >/dev/null
assert_eq "$(chunk_files)" "$files_killed" "chunk files, interrupted import against a clean one"
assert_eq "$(chunk_bytes)" "$bytes_killed" "chunk bytes, interrupted import against a clean one"
STORE=$STORE_SAVED
export MESHFS_STORE=$STORE

note "with a mount: import runs in the daemon, the commit view equals the source"
mesh_mount -o allow_other
run "$MESHFS_BIN" import "$SRC" d/main/mounted -m "through the mount" --json
[[ $RC -eq 0 ]] || fail "import through the mount failed: $OUT $ERR"
CM=$(mesh_json 'd["commit"]' <<<"$OUT")
assert_eq "$WANT" "$(digest "$MNT/d/$CM/mounted")" "commit view of an import through the mount"
assert_eq "$WANT" "$(digest "$MNT/d/main/mounted")" "branch view after an import through the mount"
mesh_cli export "d/$CM/mounted" "$MESH_TMP/out-mnt" >/dev/null
assert_eq "$WANT" "$(digest "$MESH_TMP/out-mnt")" "export through the mount"

note "another user through the mount: only its own tree, only what it can read"
id meshimport >/dev/null 2>&1 || useradd -M -N meshimport
as_user() { setpriv --reuid meshimport --regid nogroup --clear-groups "$@"; }
# Only writers of a domain import into it (access rules): its group writes d.
mesh_ctl_ok "domain set d writers nogroup" >/dev/null
mkdir -p "$MESH_TMP/theirs/sub"
echo secret >"$MESH_TMP/theirs/sub/locked"
chmod 600 "$MESH_TMP/theirs/sub/locked"
chown -R meshimport "$MESH_TMP/theirs"
chown root "$MESH_TMP/theirs/sub/locked"
chmod 755 "$MESH_TMP" "$MESH_TMP/store" 2>/dev/null || true
run as_user "$MESHFS_BIN" import "$MESH_TMP/theirs" d/main/theirs --store "$STORE"
[[ $RC -ne 0 ]] || fail "another user imported a file it cannot read"
assert_contains "$ERR" "not readable by uid $(id -u meshimport)" "error of an unreadable file"
run as_user "$MESHFS_BIN" import "$SRC" d/main/notmine --store "$STORE"
[[ $RC -ne 0 ]] || fail "another user imported a tree it does not own"
assert_contains "$ERR" "not by the caller" "error of a foreign tree"
chown meshimport "$MESH_TMP/theirs/sub/locked"
run as_user "$MESHFS_BIN" import "$MESH_TMP/theirs" d/main/theirs --store "$STORE"
[[ $RC -eq 0 ]] || fail "another user could not import its own tree: $OUT $ERR"
assert_eq secret "$(cat "$MNT/d/main/theirs/sub/locked")" "content imported for another user"
mesh_umount
