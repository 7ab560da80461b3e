#!/usr/bin/env bash
# The Debian package: packaging/build-deb.sh builds meshfs_VERSION_amd64.deb
# (Release, into build-deb-test/), lintian finds no error in it, apt
# installs it with its dependencies, the installed program, man pages,
# completion, mount helper (mount -t meshfs, -t fuse.meshfs, an fstab
# line) and systemd unit work, and a purge leaves none of its files.
# Whatever happens, the EXIT trap unmounts, restores /etc/fstab and
# purges the package.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

BUILD=${MESH_DEB_BUILD_DIR:-$MESH_SOURCE_DIR/build-deb-test}
[[ $(id -u) -eq 0 ]] || fail "test_deb installs a package: run it as root"
if dpkg-query -W -f='${Status}' meshfs 2>/dev/null | grep -q 'ok installed'; then
	fail "a meshfs package is installed already; this test would remove it (apt-get purge meshfs first)"
fi
for tool in lintian systemd-analyze man col scdoc; do
	command -v "$tool" >/dev/null || fail "$tool is missing (bash packaging/bootstrap.sh installs it)"
done

MESH_TMP=$(mktemp -d /tmp/meshfs-deb.XXXXXX)
STORE=$MESH_TMP/store
MNT=$MESH_TMP/mnt
FSTAB_SAVED=$MESH_TMP/fstab.saved
mkdir -p "$MNT"
cp -p /etc/fstab "$FSTAB_SAVED"

deb_cleanup() {
	local rc=$?
	trap - ERR
	set +e
	cd /
	_mesh_force_unmount "$MNT"
	# Only our own line goes: the saved copy is the fstab as it was.
	if ! cmp -s "$FSTAB_SAVED" /etc/fstab; then
		cat "$FSTAB_SAVED" >/etc/fstab
	fi
	if dpkg-query -W -f='${Status}' meshfs 2>/dev/null | grep -q 'ok installed\|config-files'; then
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -q -o DPkg::Lock::Timeout=120 meshfs >/dev/null 2>&1
	fi
	rm -rf "$MESH_TMP"
	exit "$rc"
}
trap deb_cleanup EXIT

note "build the package"
bash "$MESH_SOURCE_DIR/packaging/build-deb.sh" "$BUILD" >"$MESH_TMP/build.log" 2>&1 ||
	fail "build-deb.sh failed: $(tail -20 "$MESH_TMP/build.log")"
debs=("$BUILD"/meshfs_*_amd64.deb)
[[ ${#debs[@]} -eq 1 && -f ${debs[0]} ]] || fail "expected one meshfs_*_amd64.deb in $BUILD: ${debs[*]}"
DEB=${debs[0]}
version=$(sed -n 's/^project(meshfs VERSION \([0-9.]*\).*/\1/p' "$MESH_SOURCE_DIR/CMakeLists.txt")
assert_eq "meshfs_${version}_amd64.deb" "$(basename "$DEB")" "the package's file name"

note "lintian: no errors"
lintian --fail-on error "$DEB" >"$MESH_TMP/lintian.log" 2>&1 ||
	fail "lintian reports errors: $(cat "$MESH_TMP/lintian.log")"
cat "$MESH_TMP/lintian.log"

note "dependencies: fuse3 and the shared libraries, from dpkg-shlibdeps"
depends=$(dpkg-deb -f "$DEB" Depends)
for dep in fuse3 libc6 libfuse3-3 librocksdb libzstd1 libssl3 libyaml-0-2 libcsv3 libjansson4 libsqlite3-0; do
	assert_contains "$depends" "$dep" "Depends"
done

note "apt-get install ./$(basename "$DEB")"
(cd "$(dirname "$DEB")" && DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o DPkg::Lock::Timeout=120 "./$(basename "$DEB")") \
	>"$MESH_TMP/apt.log" 2>&1 || fail "apt-get install failed: $(tail -20 "$MESH_TMP/apt.log")"
dpkg -L meshfs >"$MESH_TMP/files"
for f in /usr/bin/meshfs /sbin/mount.meshfs /sbin/mount.fuse.meshfs /lib/systemd/system/meshfs@.service \
	/usr/share/man/man1/meshfs.1.gz /usr/share/man/man5/meshfs-control.5.gz \
	/usr/share/man/man8/mount.meshfs.8.gz /usr/share/bash-completion/completions/meshfs \
	/etc/meshfs/meshfs.conf.example; do
	grep -qx -- "$f" "$MESH_TMP/files" || fail "the package lacks $f"
	[[ -e $f ]] || fail "$f is not installed"
done
assert_eq /etc/meshfs/meshfs.conf.example "$(dpkg-query -W -f='${Conffiles}' meshfs | awk 'NF { print $1 }')" \
	"the package's conffiles"

note "the installed program, man pages and completion"
run /usr/bin/meshfs --help
assert_eq 0 "$RC" "meshfs --help"
assert_contains "$OUT" "init [--store DIR]" "meshfs --help"
run /usr/bin/meshfs help commit
assert_contains "$OUT" "usage: meshfs commit DOMAIN/BRANCH -m MESSAGE" "meshfs help commit"
page=$(MANWIDTH=80 man meshfs 2>&1 | col -b)
assert_contains "$page" "meshfs - a Git-like versioned data lake" "man meshfs"
assert_contains "$page" "meshfs gc [--dry-run]" "man meshfs"
for name in meshfs-control mount.meshfs mount.fuse.meshfs; do
	page=$(MANWIDTH=80 man "$name" 2>&1 | col -b)
	assert_contains "$page" "NAME" "man $name"
done
got=$(bash -c 'source /usr/share/bash-completion/completions/meshfs
	COMP_WORDS=(meshfs ch); COMP_CWORD=1; _meshfs; echo "${COMPREPLY[*]}"')
assert_eq "cherry-pick" "$got" "completion of 'meshfs ch' by the installed script"

note "systemd-analyze verify of the installed unit"
systemd-analyze verify /lib/systemd/system/meshfs@.service >"$MESH_TMP/verify.log" 2>&1 ||
	fail "systemd-analyze verify: $(cat "$MESH_TMP/verify.log")"
[[ ! -s $MESH_TMP/verify.log ]] || fail "systemd-analyze verify warns: $(cat "$MESH_TMP/verify.log")"

/usr/bin/meshfs init --store "$STORE" >/dev/null
/usr/bin/meshfs domain create deb --store "$STORE" >/dev/null

# mounted_write TYPE: the store is mounted at MNT as fuse.meshfs, a file
# written through it is there, and umount(8) unmounts it.
check_mount() {
	local how=$1
	grep -q " $MNT fuse.meshfs " /proc/self/mounts || fail "$how: $MNT is not a fuse.meshfs mount"
	echo "$how" >"$MNT/deb/main/$2.txt"
	assert_eq "$how" "$(cat "$MNT/deb/main/$2.txt")" "a file written through the mount ($how)"
	/usr/bin/meshfs umount "$MNT" || fail "$how: meshfs umount"
	_mesh_in_mounts "$MNT" && fail "$how: still mounted after umount"
	return 0
}

note "mount -t meshfs with fstab-style options"
mount -t meshfs "$STORE" "$MNT" -o defaults,rw,noatime,nofail,x-test=1 || fail "mount -t meshfs"
check_mount "mount -t meshfs" a

note "mount -t fuse.meshfs, unmounted by umount(8)"
mount -t fuse.meshfs "$STORE" "$MNT" -o defaults,noatime || fail "mount -t fuse.meshfs"
grep -q " $MNT fuse.meshfs " /proc/self/mounts || fail "mount -t fuse.meshfs: not mounted"
umount "$MNT" || fail "umount(8) of the mount"
_mesh_in_mounts "$MNT" && fail "still mounted after umount(8)"
# umount(8) does not wait for the daemon; the next mount needs the store.
for _ in $(seq 100); do
	/usr/bin/meshfs status deb/main --store "$STORE" >/dev/null 2>&1 && break
	sleep 0.1
done

note "an /etc/fstab line, then mount MOUNTPOINT"
printf '%s %s fuse.meshfs defaults,noauto,nofail,noatime 0 0\n' "$STORE" "$MNT" >>/etc/fstab
mount "$MNT" || fail "mount $MNT from /etc/fstab"
cat "$FSTAB_SAVED" >/etc/fstab
check_mount "fstab" b

note "apt-get purge leaves none of the package's files"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q -o DPkg::Lock::Timeout=120 meshfs >"$MESH_TMP/purge.log" 2>&1 ||
	fail "apt-get purge failed: $(tail -20 "$MESH_TMP/purge.log")"
dpkg-query -W -f='${Status}' meshfs 2>/dev/null | grep -q 'installed\|config-files' &&
	fail "meshfs is still known to dpkg after purge"
while read -r f; do
	[[ $f == /. ]] && continue
	if [[ -d $f ]]; then
		# Directories shared with other packages stay; the package's own go.
		[[ $f == *meshfs* && -e $f ]] && fail "$f is left after purge"
	elif [[ -e $f || -L $f ]]; then
		fail "$f is left after purge"
	fi
done <"$MESH_TMP/files"
note "ok"
