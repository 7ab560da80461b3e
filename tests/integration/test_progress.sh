#!/usr/bin/env bash
# Long commands show progress on a terminal, and control commands of
# different processes run side by side through one mount: while one
# process's fsck re-hashes a few hundred MiB, another's `progress` sees
# it (command, phase, counts growing, its pid) and another's commit
# finishes before it; fsck, gc, import and export draw a bar under a
# pseudo-terminal through the mount and on the store, and print no bar
# to a pipe; `progress` refuses a bad pid.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
mesh_domain d

note "a store with 360 MiB of incompressible data in 3 files and 2000 small ones"
mkdir -p "$MESH_TMP/src/small"
for i in 1 2 3; do head -c 120M /dev/urandom >"$MESH_TMP/src/r$i"; done
"$PY" -c '
import sys
for i in range(2000):
    open("%s/f%04d.csv" % (sys.argv[1], i), "w").write("id,v\n%d,%d\n" % (i, i * i))
' "$MESH_TMP/src/small"
mesh_cli import "$MESH_TMP/src" d/main -m seed >/dev/null
mesh_mount

note "while fsck runs in one process, another sees its progress and commits"
"$PY" -c "$_MESH_CTL_PY" "$MNT/.control" "fsck" nl >"$MESH_TMP/fsck.out" 2>&1 &
fsck_pid=$!
listed=""
for ((i = 0; i < 200; i++)); do
	ans=$(mesh_ctl "progress")
	if [[ $(mesh_json 'len(d["running"])' <<<"$ans") -gt 0 ]]; then
		listed=$ans
		break
	fi
	sleep 0.02
done
[[ -n $listed ]] || fail "progress never listed the running fsck: $ans"
echo "id" >"$MNT/d/main/side.csv"
mesh_ctl_ok "commit d/main -m beside" >/dev/null
kill -0 "$fsck_pid" 2>/dev/null ||
	fail "fsck ended before the commit beside it did: control commands did not run side by side"
assert_eq fsck "$(mesh_json 'd["running"][0]["command"]' <<<"$listed")" "running command"
assert_eq "checking objects" "$(mesh_json 'd["running"][0]["phase"]' <<<"$listed")" "phase"
assert_eq objects "$(mesh_json 'd["running"][0]["unit"]' <<<"$listed")" "unit"
assert_eq "$fsck_pid" "$(mesh_json 'd["running"][0]["pid"]' <<<"$listed")" "pid of the fsck"
counts=()
while kill -0 "$fsck_pid" 2>/dev/null; do
	ans=$(mesh_ctl "progress --pid $fsck_pid")
	[[ $(mesh_json 'len(d["running"])' <<<"$ans") -gt 0 ]] &&
		counts+=("$(mesh_json 'd["running"][0]["done"]' <<<"$ans")")
	sleep 0.05
done
((${#counts[@]} >= 2)) || fail "too few progress answers while fsck ran: ${counts[*]}"
for ((i = 1; i < ${#counts[@]}; i++)); do
	((counts[i] >= counts[i - 1])) || fail "progress went backwards: ${counts[*]}"
done
((counts[-1] > counts[0])) || fail "the count never grew: ${counts[*]}"
wait "$fsck_pid" || fail "fsck failed: $(cat "$MESH_TMP/fsck.out")"
assert_eq true "$(mesh_json 'd["clean"]' <"$MESH_TMP/fsck.out")" "fsck clean"
assert_eq "0" "$(mesh_json 'len(d["running"])' <<<"$(mesh_ctl progress)")" "running after the end"
mesh_ctl_fails EINVAL "progress --pid x"
mesh_ctl_fails EINVAL "progress extra"

# bar_seen FILE: frames of a bar, "[" cells or a spinner "]" count unit.
bar_seen() {
	grep -aqE $'\r\\[([#.]+|[|/\\\\-])\\] [0-9/]+ (objects|files)' "$1"
}

note "a bar on a terminal, through the mount"
MESHFS_PROGRESS_DELAY_MS=0 script -qec "$MESHFS_BIN fsck" /dev/null >"$MESH_TMP/tty-fsck" </dev/null ||
	fail "fsck under script failed: $(cat -v "$MESH_TMP/tty-fsck")"
bar_seen "$MESH_TMP/tty-fsck" || fail "no bar for fsck: $(cat -v "$MESH_TMP/tty-fsck")"
grep -aq "fsck: checking objects" "$MESH_TMP/tty-fsck" || fail "no phase: $(cat -v "$MESH_TMP/tty-fsck")"
grep -aq "clean" "$MESH_TMP/tty-fsck" || fail "no summary after the bar"
MESHFS_PROGRESS_DELAY_MS=0 script -qec "$MESHFS_BIN export d/main $MESH_TMP/out" /dev/null \
	>"$MESH_TMP/tty-export" </dev/null || fail "export under script failed"
grep -aqE '\] [0-9]+/2004 files .*/s  ETA' "$MESH_TMP/tty-export" ||
	fail "no bar with a total for export: $(cat -v "$MESH_TMP/tty-export")"
cmp -s "$MESH_TMP/src/r2" "$MESH_TMP/out/r2" || fail "export wrote other bytes"

note "no bar without a terminal, nor with --json"
run "$MESHFS_BIN" fsck
assert_eq "" "$ERR" "stderr of fsck to a pipe"
MESHFS_PROGRESS_DELAY_MS=0 script -qec "$MESHFS_BIN fsck --json" /dev/null >"$MESH_TMP/tty-json" </dev/null
bar_seen "$MESH_TMP/tty-json" && fail "a bar with --json: $(cat -v "$MESH_TMP/tty-json")"

note "a bar on a terminal on the store itself (no mount)"
mesh_umount
MESHFS_PROGRESS_DELAY_MS=0 script -qec "$MESHFS_BIN fsck" /dev/null >"$MESH_TMP/tty-store" </dev/null ||
	fail "fsck on the store under script failed"
bar_seen "$MESH_TMP/tty-store" || fail "no bar on the store: $(cat -v "$MESH_TMP/tty-store")"
MESHFS_PROGRESS_DELAY_MS=0 script -qec "$MESHFS_BIN gc" /dev/null >"$MESH_TMP/tty-gc" </dev/null ||
	fail "gc on the store under script failed"
grep -aq "gc: " "$MESH_TMP/tty-gc" || fail "no bar for gc: $(cat -v "$MESH_TMP/tty-gc")"
echo PASS
