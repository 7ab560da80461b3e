#!/usr/bin/env bash
# Everyday tools in a branch view: cp -r, mv, rm -r, find, diff -r, tar,
# against a source tree on local disk, then through the commit view.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
mesh_domain tools
mesh_mount
B=$MNT/tools/main
SRC=$MESH_TMP/src

note "a source tree on local disk"
mkdir -p "$SRC/data/2026/11" "$SRC/data/2026/12" "$SRC/empty" "$SRC/docs"
: >"$SRC/zero.bin"
printf 'x' >"$SRC/one.bin"
head -c 100000 /dev/urandom >"$SRC/data/2026/11/part-0.bin"
head -c 3145728 /dev/urandom >"$SRC/data/2026/12/part-0.bin"
seq 1 20000 | sed 's/$/,item,1.5/' >"$SRC/data/2026/11/rows.csv"
printf '#!/bin/sh\necho hi\n' >"$SRC/docs/run.sh"
chmod 755 "$SRC/docs/run.sh"
chmod 600 "$SRC/one.bin"
echo "readme" >"$SRC/docs/README"
ln -s ../data/2026/11/rows.csv "$SRC/docs/rows-link.csv"
touch -d '2024-02-03 04:05:06' "$SRC/docs/README"

same_tree() {
	diff -r --no-dereference "$1" "$2" >&2 || fail "diff -r $1 $2 reports differences"
	local a b
	a=$(cd "$1" && find . | sort)
	b=$(cd "$2" && find . | sort)
	assert_eq "$a" "$b" "find listing of $2 versus $1"
}

note "cp -r into the branch, diff -r and find agree"
cp -r --preserve=mode,timestamps "$SRC" "$B/copy"
same_tree "$SRC" "$B/copy"
assert_eq "$(stat -c '%a %Y %s' "$SRC/docs/run.sh")" "$(stat -c '%a %Y %s' "$B/copy/docs/run.sh")" \
	"mode, mtime and size kept by cp --preserve"
assert_eq "$(stat -c %Y "$SRC/docs/README")" "$(stat -c %Y "$B/copy/docs/README")" "mtime kept by cp --preserve"
assert_eq "hi" "$("$B/copy/docs/run.sh")" "running a copied script"
assert_eq "$(find "$SRC" -name '*.csv' -printf '%P\n' | sort)" \
	"$(find "$B/copy" -name '*.csv' -printf '%P\n' | sort)" "find -name '*.csv'"
assert_eq "empty" "$(find "$B/copy" -type d -empty -printf '%P\n')" "find -type d -empty"
assert_eq "docs/rows-link.csv" "$(find "$B/copy" -type l -printf '%P\n')" "find -type l"
assert_eq "$(find "$SRC" -type f -size +50k -printf '%P %s\n' | sort)" \
	"$(find "$B/copy" -type f -size +50k -printf '%P %s\n' | sort)" "find -size"
assert_eq "20000" "$(wc -l <"$B/copy/docs/rows-link.csv")" "reading through a copied symlink"

note "tar c on disk, tar x into the branch"
tar -C "$SRC" -cf "$MESH_TMP/src.tar" .
mkdir "$B/untar"
tar -C "$B/untar" -xf "$MESH_TMP/src.tar" || fail "tar x into the branch failed"
same_tree "$SRC" "$B/untar"
assert_eq "$(stat -c '%a %Y' "$SRC/docs/README")" "$(stat -c '%a %Y' "$B/untar/docs/README")" \
	"mode and mtime restored by tar x"

note "tar c from the branch, tar x on disk"
tar -C "$B/copy" -cf "$MESH_TMP/branch.tar" . || fail "tar c of the branch failed"
mkdir "$MESH_TMP/out"
tar -C "$MESH_TMP/out" -xf "$MESH_TMP/branch.tar"
same_tree "$SRC" "$MESH_TMP/out"

note "mv inside the branch, into it and out of it"
mv "$B/copy/data" "$B/moved-data"
[[ ! -e $B/copy/data ]] || fail "mv left $B/copy/data behind"
same_tree "$SRC/data" "$B/moved-data"
mv "$B/copy/one.bin" "$B/moved-data/one.bin"
cmp "$SRC/one.bin" "$B/moved-data/one.bin" || fail "mv of a file between directories"
cp "$SRC/docs/README" "$MESH_TMP/incoming.txt"
mv "$MESH_TMP/incoming.txt" "$B/incoming.txt"
[[ ! -e $MESH_TMP/incoming.txt ]] || fail "mv from disk left the source"
cmp "$SRC/docs/README" "$B/incoming.txt" || fail "mv from disk into the branch"
mv "$B/incoming.txt" "$MESH_TMP/outgoing.txt"
[[ ! -e $B/incoming.txt ]] || fail "mv out of the branch left the source"
cmp "$SRC/docs/README" "$MESH_TMP/outgoing.txt" || fail "mv out of the branch"
mv "$B/moved-data" "$B/copy/data"
mv "$B/copy/data/one.bin" "$B/copy/one.bin"
same_tree "$SRC" "$B/copy"

note "rm -r"
cp -r "$SRC" "$B/scratch"
rm -r "$B/scratch"
[[ ! -e $B/scratch ]] || fail "rm -r left $B/scratch"
assert_eq "copy untar" "$(cd "$B" && echo *)" "branch listing after rm -r"

note "commit, then the commit view matches the source"
c=$(mesh_commit tools/main "copied tree")
same_tree "$SRC" "$MNT/tools/$c/copy"
same_tree "$SRC" "$MNT/tools/${c:0:8}/untar"
tar -C "$MNT/tools/$c/untar" -cf "$MESH_TMP/commit.tar" . || fail "tar c of the commit view failed"
mkdir "$MESH_TMP/out2"
tar -C "$MESH_TMP/out2" -xf "$MESH_TMP/commit.tar"
same_tree "$SRC" "$MESH_TMP/out2"

note "rm -r of committed data, committed; the old commit still has it"
rm -r "$B/untar"
c2=$(mesh_commit tools/main "dropped untar")
[[ ! -e $MNT/tools/$c2/untar ]] || fail "untar still in the commit that removed it"
same_tree "$SRC" "$MNT/tools/$c/untar"
exit 0
