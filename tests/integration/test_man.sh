#!/usr/bin/env bash
# The man pages, `meshfs help` and the README's CLI list describe the same
# commands with the same usage lines: every command of the program's
# table (and the CLI's own) is in meshfs(1) and in the README exactly as
# `meshfs help COMMAND` prints it, and nothing else is; every page renders
# with man(1) without groff warnings; bash completion offers the commands.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
MESH_TMP=$(mktemp -d)
trap 'rm -rf "$MESH_TMP"' EXIT

MAN_DIR=$(dirname "$MESHFS_BIN")/man
export LC_ALL=C.UTF-8
for page in meshfs.1 meshfs-control.5 mount.meshfs.8; do
	[[ -s $MAN_DIR/$page ]] || fail "$MAN_DIR/$page was not built (is scdoc installed?)"
	[[ $MAN_DIR/$page -nt $MESHFS_BIN || $page != meshfs.1 ]] ||
		fail "$MAN_DIR/$page is older than $MESHFS_BIN: the man target did not run"
done

note "every page renders at 80 columns, without groff warnings"
for page in meshfs.1 meshfs-control.5 mount.meshfs.8; do
	MANWIDTH=80 man --warnings -l "$MAN_DIR/$page" >"$MESH_TMP/$page.txt" 2>"$MESH_TMP/$page.err" ||
		fail "man -l $page failed: $(cat "$MESH_TMP/$page.err")"
	[[ ! -s $MESH_TMP/$page.err ]] || fail "man -l $page warns: $(cat "$MESH_TMP/$page.err")"
	col -bx <"$MESH_TMP/$page.txt" >"$MESH_TMP/$page.plain"
	grep -q '^NAME' "$MESH_TMP/$page.plain" || fail "$page has no NAME section"
	grep -q '^SYNOPSIS' "$MESH_TMP/$page.plain" || fail "$page has no SYNOPSIS section"
	# Characters, not bytes: man writes U+2010 where it hyphenates.
	long=$("$PY" -c 'import sys
print("\n".join(l for l in open(sys.argv[1], encoding="utf-8").read().splitlines() if len(l) > 80))' \
		"$MESH_TMP/$page.plain")
	[[ -z $long ]] || fail "$page has lines over 80 columns: $long"
done
grep -q '^ERRORS' "$MESH_TMP/meshfs-control.5.plain" || fail "meshfs-control(5) has no ERRORS"
for errno in EINVAL ENOENT EEXIST EBUSY EPERM ENAMETOOLONG EAGAIN EIO; do
	grep -qE "^ +$errno\$" "$MESH_TMP/meshfs-control.5.plain" ||
		fail "meshfs-control(5) does not describe $errno"
done

# The usage lines as the program prints them, one per command.
names=$("$MESHFS_BIN" help --names)
[[ $(wc -l <<<"$names") -ge 20 ]] || fail "help --names lists too few commands: $names"
for name in init mount umount migrate recover commit gc fsck cherry-pick; do
	grep -qx -- "$name" <<<"$names" || fail "help --names lacks $name"
done
: >"$MESH_TMP/usages"
for name in $names; do
	run "$MESHFS_BIN" help "$name"
	assert_eq 0 "$RC" "meshfs help $name"
	line=$(sed -n 's/^usage: meshfs //p' <<<"$OUT")
	[[ $line == "$name" || $line == "$name "* ]] || fail "help $name prints usage '$line'"
	echo "meshfs $line" >>"$MESH_TMP/usages"
done

note "meshfs(1) has each command's usage line exactly, and no other"
MANWIDTH=1000 man -l "$MAN_DIR/meshfs.1" 2>/dev/null | col -b |
	sed -n '/^COMMANDS/,/^EXIT STATUS/s/^ *\(meshfs .*\)$/\1/p' >"$MESH_TMP/man_usages"
diff -u "$MESH_TMP/usages" "$MESH_TMP/man_usages" >&2 ||
	fail "the COMMANDS of meshfs(1) differ from the program's table (rebuild: cmake --build build --target man)"

note "meshfs-control(5) gives the answer of every control command"
sed -n '/^COMMANDS AND ANSWERS/,/^ERRORS/p' "$MESH_TMP/meshfs-control.5.plain" >"$MESH_TMP/answers"
for name in $names; do
	case $name in init|migrate|recover|mount|umount|serve|help) continue ;; esac
	grep -qE "^ +$name( |\$)" "$MESH_TMP/answers" || fail "meshfs-control(5) does not describe $name"
done

note "the README's CLI list has the same usage lines"
sed -n '/^## CLI/,/^## /p' "$MESH_SOURCE_DIR/README.md" |
	sed -n '/^```$/,/^```$/s/^\(meshfs .*\)$/\1/p' >"$MESH_TMP/readme_usages"
diff -u "$MESH_TMP/usages" "$MESH_TMP/readme_usages" >&2 ||
	fail "README.md's CLI list differs from meshfs help"

note "help: all commands on stdout, an unknown one is a usage error"
run "$MESHFS_BIN" help
assert_eq 0 "$RC" "meshfs help"
while read -r name; do
	assert_contains "$OUT" "  $name" "meshfs help"
done <<<"$names"
help_out=$OUT
run "$MESHFS_BIN" --help
assert_eq 0 "$RC" "meshfs --help"
assert_eq "$help_out" "$OUT" "meshfs --help (on stdout, as meshfs help)"
run "$MESHFS_BIN" help no-such-command
assert_eq 2 "$RC" "meshfs help no-such-command"
assert_contains "$ERR" "unknown command 'no-such-command'" "help of an unknown command"

note "bash completion offers the commands and a command's words"
bin_dir=$(dirname "$MESHFS_BIN")
complete_words() {
	PATH="$bin_dir:$PATH" bash -c '
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _meshfs
		printf "%s\n" "${COMPREPLY[@]}"' _ "$MESH_SOURCE_DIR/packaging/completion/meshfs" "$@"
}
got=$(complete_words meshfs ch)
assert_eq "cherry-pick" "$got" "completion of 'meshfs ch'"
got=$(complete_words meshfs "")
assert_eq "$(sort <<<"$names")" "$(sort <<<"$got")" "completion of 'meshfs '"
got=$(complete_words meshfs branch "")
for word in create delete list reset-head --from; do
	grep -qx -- "$word" <<<"$got" || fail "completion of 'meshfs branch ' lacks $word: $got"
done
got=$(complete_words meshfs gc --d)
assert_eq "--dry-run" "$got" "completion of 'meshfs gc --d'"
note "ok"
