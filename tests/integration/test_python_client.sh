#!/usr/bin/env bash
# The Python client (tools/python, package meshfs) installed with pip and
# driven with Debian's python3 and pandas against a real mount: commands,
# quoting of awkward names, MeshError for failures, and transactions.
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
mesh_setup
mesh_domain sales
mesh_mount

"$PY" -c 'import pandas' || fail "/usr/bin/python3 has no pandas (apt-get install python3-pandas)"
"$PY" -m pip --version >/dev/null 2>&1 || fail "/usr/bin/python3 has no pip (apt-get install python3-pip)"

note "pip installs the package from the repository"
SITE=$MESH_TMP/site
# From a copy: setuptools leaves build/ and *.egg-info beside the sources.
cp -r "$MESH_SOURCE_DIR/tools/python" "$MESH_TMP/src"
rm -rf "$MESH_TMP/src/build" "$MESH_TMP/src"/*.egg-info
run "$PY" -m pip install --quiet --no-deps --no-build-isolation --no-index --target "$SITE" \
	"$MESH_TMP/src"
[[ $RC -eq 0 ]] || fail "pip install ./tools/python failed: $OUT $ERR"
[[ -f $SITE/meshfs/__init__.py ]] || fail "pip put no meshfs package in $SITE: $(ls "$SITE")"
export PYTHONPATH=$SITE
# Make sure it is the installed copy that runs, not the source tree.
where=$(cd / && "$PY" -c 'import meshfs; print(meshfs.__file__)')
assert_eq "$SITE/meshfs/__init__.py" "$where" "module imported"

note "commands: commit with meta, log, status, diff, branches, tags, cp, reset, domains"
mesh_py "$MNT" <<'PYEOF' || fail "client commands failed"
import os, sys
import meshfs

mesh = meshfs.Mesh(sys.argv[1])
main = mesh.path("sales/main")
with open(os.path.join(main, "a.csv"), "w") as f:
    f.write("x\n1\n")
st = mesh.status("sales/main")
assert [c["path"] for c in st["changes"]] == ["a.csv"], st
c1 = mesh.commit("sales/main", "first load", meta={"source": "erp", "run id": "it's 7"})
assert len(c1["commit"]) == 64 and c1["changes"] == 1, c1
log = mesh.log("sales/main", n=1)
assert log[0]["id"] == c1["commit"], log
assert log[0]["message"] == "first load", log
assert log[0]["meta"] == {"source": "erp", "run id": "it's 7"}, log[0]["meta"]
assert mesh.status("sales/main")["changes"] == []

mesh.branch_create("sales/dev", from_ref="main")
assert sorted(b["name"] for b in mesh.branches("sales")) == ["dev", "main"]
with open(os.path.join(mesh.path("sales/dev"), "b.csv"), "w") as f:
    f.write("y\n2\n")
c2 = mesh.commit("sales/dev", "second")
d = mesh.diff("sales/main", "dev")
assert [(c["path"], c["change"]) for c in d["changes"]] == [("b.csv", "added")], d
assert [c["id"] for c in mesh.log("sales/dev", path="a.csv")] == [c1["commit"]]
m = mesh.merge("sales/dev", into="main")
assert m["up_to_date"] is False and m["changes"] == 1, m
assert m["commit"] == mesh.log("sales/main", n=1)[0]["id"], m
assert os.path.exists(os.path.join(main, "b.csv"))
mesh.tag("sales/v1", "main")
assert [t["name"] for t in mesh.tags("sales")] == ["v1"]
mesh.cp("sales/v1/a.csv", "sales/main/copy.csv")
with open(os.path.join(main, "copy.csv")) as f:
    assert f.read() == "x\n1\n"
dropped = mesh.reset("sales/main", path="copy.csv")["dropped"]
assert [x["path"] for x in dropped] == ["copy.csv"], dropped
assert not os.path.exists(os.path.join(main, "copy.csv"))
mesh.branch_delete("sales/dev")
mesh.tag_delete("sales/v1")
assert [b["name"] for b in mesh.branches("sales")] == ["main"]
assert [dm["name"] for dm in mesh.domains()] == ["sales"], mesh.domains()
print("commands ok")
PYEOF

note "words with blanks, quotes, backslashes, newlines and non-UTF-8 bytes round-trip"
mesh_py "$MNT" <<'PYEOF' || fail "quoting of awkward words failed"
import errno, os, sys
import meshfs

mesh = meshfs.Mesh(sys.argv[1])
main = mesh.path("sales/main")
awkward = [
    "two words", "it's", 'say "hi"', "back\\slash", "line one\nline two",
    "$HOME `id` *", "tab\there", "-m", "--", "caf\u00e9", "bad \udcff byte",
    "'" * 5, '"\\"', "x" * 3000,
]
for i, msg in enumerate(awkward):
    with open(os.path.join(main, "n%d" % i), "w") as f:
        f.write(str(i))
    # Metadata values hold no newline (the daemon refuses them, below).
    meta = {"k": msg, "quote's": msg} if "\n" not in msg else {}
    c = mesh.commit("sales/main", msg, meta=meta)
    got = mesh.log("sales/main", n=1)[0]
    assert got["id"] == c["commit"], (got, c)
    assert got["message"] == msg, (msg, got["message"])
    assert got["meta"] == meta, (meta, got["meta"])

# An empty word is a word: an empty metadata value.
with open(os.path.join(main, "empty"), "w") as f:
    f.write("e")
mesh.commit("sales/main", "empty meta", meta={"k": ""})
assert mesh.log("sales/main", n=1)[0]["meta"] == {"k": ""}

# Refused clearly, and nothing committed: an empty message (as git does),
# a newline in a metadata value.
head = mesh.log("sales/main", n=1)[0]["id"]
with open(os.path.join(main, "nl"), "w") as f:
    f.write("nl")
try:
    mesh.commit("sales/main", "")
except meshfs.MeshError as e:
    assert e.errno == errno.EINVAL and "message" in e.message, vars(e)
else:
    raise AssertionError("an empty message was accepted")
try:
    mesh.commit("sales/main", "m", meta={"k": "a\nb"})
except meshfs.MeshError as e:
    assert e.errno == errno.EINVAL and "newline" in e.message, vars(e)
else:
    raise AssertionError("a newline in a metadata value was accepted")
assert mesh.log("sales/main", n=1)[0]["id"] == head
mesh.reset("sales/main")

# A file name that needs quoting, copied and reset through commands.
name = "q 'a' \"b\"\n.csv"
with open(os.path.join(main, name), "w") as f:
    f.write("v\n")
mesh.commit("sales/main", "awkward file")
mesh.cp("sales/main/" + name, "sales/main/copy of " + name)
assert [x["path"] for x in mesh.status("sales/main")["changes"]] == ["copy of " + name]
assert [x["path"] for x in mesh.reset("sales/main", path="copy of " + name)["dropped"]] == ["copy of " + name]

# A NUL cannot be sent: refused before anything is written.
head = mesh.log("sales/main", n=1)[0]["id"]
try:
    mesh.commit("sales/main", "a\0b")
except meshfs.MeshError as e:
    assert e.errno == errno.EINVAL and e.code == "EINVAL", vars(e)
    assert "NUL" in e.message, e.message
else:
    raise AssertionError("a NUL in a message was sent")
assert mesh.log("sales/main", n=1)[0]["id"] == head
print("quoting ok")
PYEOF

note "failures raise MeshError with errno, code and message"
mesh_py "$MNT" <<'PYEOF' || fail "MeshError checks failed"
import errno, os, sys
import meshfs

mesh = meshfs.Mesh(sys.argv[1])

def expect(code, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except meshfs.MeshError as e:
        assert e.code == code, (code, vars(e))
        assert e.errno == getattr(errno, code), (code, e.errno)
        assert e.message and e.answer["ok"] is False, vars(e)
        return e
    raise AssertionError("%s%r did not fail with %s" % (fn.__name__, args, code))

e = expect("ENOENT", mesh.log, "nope/main")
assert "nope" in e.message, e.message
expect("ENOENT", mesh.branches, "nope")
expect("EINVAL", mesh.commit, "sales/main", "nothing staged")
expect("EEXIST", mesh.branch_create, "sales/main")
expect("EPERM", mesh.branch_delete, "sales/main")
expect("EINVAL", mesh.branch_create, "sales/bad name")
expect("ENOENT", meshfs.Mesh, "/")

# A merge conflict: EBUSY with the conflict list.
main = mesh.path("sales/main")
mesh.branch_create("sales/left")
for ref, text in (("sales/left", "left\n"), ("sales/main", "main\n")):
    with open(os.path.join(mesh.path(ref), "a.csv"), "w") as f:
        f.write(text)
    mesh.commit(ref, "change a.csv on " + ref)
head = mesh.log("sales/main", n=1)[0]["id"]
e = expect("EBUSY", mesh.merge, "sales/left", into="main")
assert e.conflicts == [{"path": "a.csv", "kind": "both-changed"}], e.conflicts
assert "conflict" in e.message, e.message
assert mesh.log("sales/main", n=1)[0]["id"] == head
m = mesh.merge("sales/left", into="main", strategy="source-wins")
assert m["resolved_conflicts"] == 1, m
with open(os.path.join(main, "a.csv")) as f:
    assert f.read() == "left\n"
mesh.branch_delete("sales/left")
print("errors ok")
PYEOF

note "transactions: pandas writes a CSV, commit + merge into main, read back through the commit view"
mesh_py "$MNT" <<'PYEOF' || fail "transaction checks failed"
import errno, os, sys
import pandas as pd
import meshfs

mesh = meshfs.Mesh(sys.argv[1])
df = pd.DataFrame({"order_id": range(5000),
                   "region": [("north", "south")[i % 2] for i in range(5000)],
                   "amount": [i * 0.5 for i in range(5000)]})
before = mesh.log("sales/main", n=1)[0]["id"]
tx = mesh.transaction("sales/exp", message="load orders", meta={"rows": len(df)})
with tx as path:
    assert path == os.path.join(sys.argv[1], "sales", "exp"), path
    assert "exp" in [b["name"] for b in mesh.branches("sales")]
    os.makedirs(os.path.join(path, "orders"))
    df.to_csv(os.path.join(path, "orders", "part-0.csv"), index=False)
assert [b["name"] for b in mesh.branches("sales")] == ["main"], mesh.branches("sales")
head = mesh.log("sales/main", n=2)
assert head[0]["id"] == tx.merge["commit"], (head, tx.merge)
assert head[0]["parents"] == [before, tx.commit["commit"]], (head, tx.commit)
assert head[0]["message"] == "load orders", head
work = mesh.log("sales/" + tx.commit["commit"], n=1)[0]
assert work["message"] == "load orders" and work["meta"] == {"rows": "5000"}, work
view = os.path.join(sys.argv[1], "sales", tx.merge["commit"])
pd.testing.assert_frame_equal(df, pd.read_csv(os.path.join(view, "orders", "part-0.csv")))
assert mesh.diff("sales/main", before)["changes"], "main did not change"

# A block that raises: no branch left, main unchanged, the error goes on.
head = mesh.log("sales/main", n=1)[0]["id"]
class Boom(Exception):
    pass
try:
    with mesh.transaction("sales/bad", message="never") as path:
        df.head(10).to_csv(os.path.join(path, "orders", "part-0.csv"), index=False)
        with open(os.path.join(path, "junk.txt"), "w") as f:
            f.write("junk")
        raise Boom("stop")
except Boom:
    pass
else:
    raise AssertionError("the exception of the block was swallowed")
assert [b["name"] for b in mesh.branches("sales")] == ["main"], mesh.branches("sales")
assert mesh.log("sales/main", n=1)[0]["id"] == head
assert mesh.status("sales/main")["changes"] == []
# ... also when it wrote nothing (nothing to reset).
try:
    with mesh.transaction("sales/bad2"):
        raise Boom("early")
except Boom:
    pass
assert [b["name"] for b in mesh.branches("sales")] == ["main"], mesh.branches("sales")
main = mesh.path("sales/main")
assert not os.path.exists(os.path.join(main, "junk.txt"))
pd.testing.assert_frame_equal(df, pd.read_csv(os.path.join(main, "orders", "part-0.csv")))

# base= another branch; a block that writes nothing commits nothing.
mesh.branch_create("sales/stage")
with mesh.transaction("sales/t2", message="into stage", base="stage") as path:
    with open(os.path.join(path, "s.txt"), "w") as f:
        f.write("s")
assert os.path.exists(os.path.join(mesh.path("sales/stage"), "s.txt"))
assert not os.path.exists(os.path.join(main, "s.txt"))
tx = mesh.transaction("sales/t3")
with tx:
    pass
assert tx.commit is None and tx.merge is None
assert mesh.log("sales/main", n=1)[0]["id"] == head

# An existing branch is not taken over (nor deleted).
try:
    with mesh.transaction("sales/stage"):
        raise AssertionError("entered a transaction on an existing branch")
except meshfs.MeshError as e:
    assert e.code == "EEXIST", vars(e)
assert "stage" in [b["name"] for b in mesh.branches("sales")]

# A conflicting merge at the end raises EBUSY and keeps the branch (its
# commit holds the work).
try:
    with mesh.transaction("sales/t4", message="conflicts") as path:
        with open(os.path.join(path, "a.csv"), "w") as f:
            f.write("from t4\n")
        with open(os.path.join(main, "a.csv"), "w") as f:
            f.write("from main\n")
        mesh.commit("sales/main", "main moves")
except meshfs.MeshError as e:
    assert e.code == "EBUSY" and e.conflicts == [{"path": "a.csv", "kind": "both-changed"}], vars(e)
else:
    raise AssertionError("conflicting transaction merged")
assert "t4" in [b["name"] for b in mesh.branches("sales")]
with open(os.path.join(main, "a.csv")) as f:
    assert f.read() == "from main\n"
print("transactions ok")
PYEOF

note "the staged files of a dropped transaction are gone after a remount too"
mesh_remount
got=$(mesh_ctl_ok "branch list sales" | mesh_json '" ".join(b["name"] for b in d["branches"])')
assert_eq "main stage t4" "$got" "branches after remount"
[[ ! -e $MNT/sales/main/junk.txt ]] || fail "junk.txt of the dropped transaction is in main"
exit 0
