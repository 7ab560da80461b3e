"""Client for a mounted meshfs, through its control file.

Every call opens MOUNT/.control read-write, writes one command line with
one write(2) and reads the JSON answer back with pread at offset 0 (the
protocol of README "Control file protocol and grammar").  A command that
fails makes the write fail with an errno; the answer saying why is still
read and raised as MeshError.

Words are quoted the way the control grammar splits them (POSIX shell
quoting, no expansions), so names, messages and metadata with blanks,
quotes or newlines arrive as they were given.  Strings are encoded as
UTF-8 with surrogateescape and answers decode the same way, so bytes that
are not UTF-8 round-trip too (README "Bytes that are not UTF-8").
"""

import errno as _errno
import json
import os
import shlex

__all__ = ["Mesh", "MeshError", "Transaction"]

# A command that is whole 4096-byte blocks without a newline is held by the
# daemon as the start of a longer line; every line sent ends in one.
_ANSWER_CHUNK = 1 << 16


class MeshError(Exception):
    """A command failed.

    errno   the errno the control file's write(2) failed with (an int)
    code    its name as the answer gives it, e.g. "EBUSY"
    message the answer's human message
    answer  the whole parsed answer (a dict), e.g. with "conflicts"; for an
            error found before sending, {"ok": False, "error", "message"}
    conflicts the answer's conflict list of a merge, revert or cherry-pick
    command the command line that failed
    """

    def __init__(self, errno, code, message, answer=None, command=None):
        super().__init__("%s: %s" % (code, message))
        self.errno = errno
        self.code = code
        self.message = message
        # Errors found before anything was sent look like the daemon's.
        if not answer:
            answer = {"ok": False, "error": code, "message": message}
        self.answer = answer
        self.conflicts = self.answer.get("conflicts", [])
        self.command = command


def _word(value):
    """One word of a command line, quoted for the control grammar."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    elif not isinstance(value, str):
        value = str(value)
    if "\0" in value:
        # The daemon refuses any write holding a NUL; say which word.
        raise MeshError(_errno.EINVAL, "EINVAL",
                        "word %r holds a NUL byte, which no command accepts" % value)
    return shlex.quote(value)


def _encode(line):
    return line.encode("utf-8", "surrogateescape")


class Mesh:
    """A mounted meshfs at `mount` (the directory holding .control)."""

    def __init__(self, mount):
        self.mount = os.fspath(mount)
        self.control = os.path.join(self.mount, ".control")
        if not os.path.exists(self.control):
            raise MeshError(_errno.ENOENT, "ENOENT",
                            "%s is not a meshfs mount: no .control" % self.mount)

    # ------------------------------------------------------------ protocol

    def run(self, *words):
        """Runs one command given as words; returns the parsed answer."""
        line = " ".join(_word(w) for w in words) + "\n"
        data = _encode(line)
        fd = os.open(self.control, os.O_RDWR)
        try:
            failed = None
            try:
                written = os.write(fd, data)
                if written != len(data):
                    raise MeshError(_errno.EIO, "EIO",
                                    "short write to %s: %d of %d bytes"
                                    % (self.control, written, len(data)),
                                    command=line.rstrip("\n"))
            except OSError as e:
                failed = e
            raw = self._read_answer(fd)
        finally:
            os.close(fd)
        answer = self._parse(raw, failed)
        if failed is not None or answer.get("ok") is False:
            num = failed.errno if failed is not None else _errno.EIO
            code = answer.get("error") or _errno.errorcode.get(num, str(num))
            if failed is None:
                num = getattr(_errno, code, _errno.EIO)
            raise MeshError(num, code, answer.get("message") or os.strerror(num),
                            answer, line.rstrip("\n"))
        return answer

    @staticmethod
    def _read_answer(fd):
        chunks, off = [], 0
        while True:
            chunk = os.pread(fd, _ANSWER_CHUNK, off)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            off += len(chunk)

    def _parse(self, raw, failed):
        try:
            return json.loads(raw.decode("utf-8", "surrogateescape"))
        except ValueError:
            if failed is not None and not raw:
                return {}
            raise MeshError(_errno.EIO, "EIO",
                            "answer from %s is not JSON: %r" % (self.control, raw[:200]))

    # ------------------------------------------------------------ commands

    def commit(self, ref, message, meta=None):
        """Commits the staged changes of DOMAIN/BRANCH; the answer dict."""
        words = ["commit", ref, "-m", message]
        for key, value in (meta or {}).items():
            key = key if isinstance(key, str) else str(key)
            if "=" in key or not key:
                raise MeshError(_errno.EINVAL, "EINVAL",
                                "meta key %r must be non-empty and hold no '='" % key)
            words += ["--meta", "%s=%s" % (key, value)]
        return self.run(*words)

    def status(self, ref):
        return self.run("status", ref)

    def log(self, ref, n=None, path=None):
        """The commits of DOMAIN/REF, newest first: a list of dicts."""
        words = ["log", ref]
        if n is not None:
            words += ["-n", int(n)]
        if path is not None:
            words += ["--", path]
        return self.run(*words)["commits"]

    def diff(self, ref, other, path=None):
        """diff DOMAIN/REF OTHER [-- PATH]; the answer dict."""
        words = ["diff", ref, other]
        if path is not None:
            words += ["--", path]
        return self.run(*words)

    def branch_create(self, ref, from_ref=None):
        words = ["branch", "create", ref]
        if from_ref is not None:
            words += ["--from", from_ref]
        return self.run(*words)

    def branch_delete(self, ref):
        return self.run("branch", "delete", ref)

    def branches(self, domain):
        """The branches of DOMAIN: a list of {"name", "commit"}."""
        return self.run("branch", "list", domain)["branches"]

    def tag(self, ref, target):
        """Creates tag DOMAIN/TAG at TARGET (a ref or commit id)."""
        return self.run("tag", "create", ref, target)

    def tag_delete(self, ref):
        return self.run("tag", "delete", ref)

    def tags(self, domain):
        return self.run("tag", "list", domain)["tags"]

    def merge(self, ref, into, strategy=None, message=None):
        """Merges DOMAIN/SRC into branch INTO of the same domain.

        Conflicts raise MeshError with errno EBUSY and .conflicts."""
        words = ["merge", ref, "--into", into]
        if message is not None:
            words += ["-m", message]
        if strategy is not None:
            words += ["--strategy", strategy]
        return self.run(*words)

    def revert(self, ref, commit, parent=None):
        words = ["revert", ref, commit]
        if parent is not None:
            words += ["--parent", int(parent)]
        return self.run(*words)

    def cherry_pick(self, ref, commit):
        return self.run("cherry-pick", ref, commit)

    def reset(self, ref, path=None):
        words = ["reset", ref]
        if path is not None:
            words += ["--", path]
        return self.run(*words)

    def cp(self, source, dest):
        """cp DOMAIN/REF/PATH DOMAIN2/BRANCH/PATH; the answer dict."""
        return self.run("cp", source, dest)

    def product(self, domain, ref=None):
        """product show DOMAIN [--ref REF]: the answer dict ("card",
        "consumers", "readers")."""
        words = ["product", "show", domain]
        if ref is not None:
            words += ["--ref", ref]
        return self.run(*words)

    def lineage(self, target):
        """lineage DOMAIN/REF/PATH: the steps of "chain", the file first."""
        return self.run("lineage", target)["chain"]

    def catalog_search(self, *words, limit=None):
        """catalog search WORD... [--limit N]: the hits, best first (dicts
        with "domain", "name", "owner", "freshness", "contract_status",
        "readers", "rating"...)."""
        args = ["catalog", "search", *words]
        if limit is not None:
            args += ["--limit", str(limit)]
        return self.run(*args)["hits"]

    def comment(self, domain, text=None, rating=None):
        """catalog comment DOMAIN [TEXT] [--rating 1-5]: the new comment's id."""
        args = ["catalog", "comment", domain]
        if text is not None:
            args.append(text)
        if rating is not None:
            args += ["--rating", str(rating)]
        return self.run(*args)["id"]

    def domains(self):
        """The domains: a list of dicts (name, owner, default_branch...)."""
        return self.run("domain", "list")["domains"]

    def domain_create(self, name, description=None):
        words = ["domain", "create", name]
        if description is not None:
            words += ["--description", description]
        return self.run(*words)["domain"]

    def path(self, ref):
        """The local directory of DOMAIN/REF in the mount."""
        return os.path.join(self.mount, ref)

    def transaction(self, ref, message="transaction", base=None, meta=None,
                    strategy=None):
        """A context manager: a branch REF (DOMAIN/NAME) made from BASE.

        `with mesh.transaction("sales/exp", message="load") as path:`
        creates sales/exp from BASE (default: the domain's default branch)
        and yields MOUNT/sales/exp.  When the block ends normally the
        branch's changes are committed with MESSAGE (and META), merged into
        BASE and the branch is deleted.  When the block raises, the staged
        changes are dropped, the branch is deleted and the exception goes
        on; BASE is untouched."""
        return Transaction(self, ref, message, base, meta, strategy)


class Transaction:
    """See Mesh.transaction.  After the block: .commit and .merge hold the
    answers of the commit and the merge (None when nothing was staged)."""

    def __init__(self, mesh, ref, message, base, meta, strategy):
        if ref.count("/") != 1 or not all(ref.split("/")):
            raise MeshError(_errno.EINVAL, "EINVAL",
                            "transaction branch %r is not DOMAIN/BRANCH" % ref)
        self.mesh = mesh
        self.ref = ref
        self.domain, self.branch = ref.split("/")
        self.message = message
        self.base = base
        self.meta = meta
        self.strategy = strategy
        self.commit = None
        self.merge = None

    def _default_branch(self):
        for d in self.mesh.domains():
            if d.get("name") == self.domain:
                return d.get("default_branch", "main")
        raise MeshError(_errno.ENOENT, "ENOENT",
                        "domain %s does not exist" % self.domain)

    def __enter__(self):
        if self.base is None:
            self.base = self._default_branch()
        self.mesh.branch_create(self.ref, from_ref=self.base)
        return self.mesh.path(self.ref)

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            self._drop(exc)
            return False
        if self.mesh.status(self.ref)["changes"]:
            self.commit = self.mesh.commit(self.ref, self.message, self.meta)
            # A conflicting merge raises here and keeps the branch: its
            # commit holds the work, and is what the conflicts are about.
            self.merge = self.mesh.merge(self.ref, into=self.base,
                                         strategy=self.strategy, message=self.message)
        self.mesh.branch_delete(self.ref)
        return False

    def _drop(self, exc):
        try:
            self.mesh.reset(self.ref)
            self.mesh.branch_delete(self.ref)
        except MeshError as cleanup:
            # The block's own exception is the one to see; say that the
            # branch stayed behind.
            if hasattr(exc, "add_note"):
                exc.add_note("meshfs: dropping branch %s failed: %s" % (self.ref, cleanup))
