"""The peers, Oxen and git-lfs, in the workloads they have (W1-W4, W6, W43).

A peer's side of a workload replaces the workload's setup, timed command and check with its own
(runner.py asks `side_of`): the same data and the same outcome, in the peer's own commands. Each
check proves the same work was done: every byte of the data is in the peer's store (hashed, not
counted) after add and push, and every file is back after checkout and pull. Peers run only when
named in `--tools`. Standard library only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tools import commit_all, run_checked
from workloads import Check, RunCtx, Step, copy_tree, data_matches, delete_data, then

PEERS = ("oxen", "git-lfs")
# The targets, as peer median / cairn median at full scale: at least this.
TARGETS: dict[str, float] = {"W1": 5.0, "W2": 5.0, "W3": 5.0, "W4": 3.0, "W6": 3.0, "W43": 3.0}
ADD_MESSAGE = "data"


@dataclass(frozen=True)
class PeerWorkload:
    setup: Step
    command: Callable[[RunCtx], list[str]]
    verify: Check | None


@dataclass(frozen=True)
class Peer:
    name: str
    workloads: dict[str, PeerWorkload]
    cannot: dict[str, str] = field(default_factory=dict)  # workload id -> why this peer has no side


# -- equal work: the bytes in a store -----------------------------------------------------------

_expected: dict[Path, set[str]] = {}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _dataset_digests(ctx: RunCtx) -> set[str]:
    """The SHA-256 of every generated small file (the datasets never change once made)."""
    data = ctx.data.small / "data"
    if data not in _expected:
        _expected[data] = {_sha256(p) for p in data.rglob("*") if p.is_file()}
    return _expected[data]


def store_holds(store: Callable[[RunCtx], Path], *, changed: bool = False) -> Check:
    """Every file of the dataset (and with `changed`, W3's rewritten file) is stored byte for byte:
    the contents of the store's files, hashed, are exactly the dataset's."""

    def check(ctx: RunCtx) -> str | None:
        root = store(ctx)
        have = {_sha256(p) for p in root.rglob("*") if p.is_file()} if root.is_dir() else set()
        want = set(_dataset_digests(ctx))
        if changed:
            want.add(_sha256(ctx.repo / ctx.data.changed_file))
        missing, extra = want - have, have - want
        if missing or extra:
            return f"{root.name}/ holds {len(have)} contents: {len(missing)} of the data's missing, {len(extra)} others"
        return None

    return check


def both(*checks: Check) -> Check:
    def check(ctx: RunCtx) -> str | None:
        return next((p for p in (c(ctx) for c in checks) if p), None)

    return check


def change_one_file(ctx: RunCtx) -> None:
    """W3's change: same size, new bytes."""
    path = ctx.repo / ctx.data.changed_file
    path.write_bytes(bytes(b ^ 0xFF for b in path.read_bytes()))


# -- git-lfs: a git repo whose data/ goes through git-lfs; remote: a local bare repo --------------


def lfs_repo(ctx: RunCtx) -> None:
    """`git lfs install` (this run's HOME), `git init`, `git config gc.auto 0`, `git lfs track "data/**"`,
    data copied in."""
    ctx.repo.mkdir(parents=True)
    ctx.sh(["git", "lfs", "install", "--skip-repo"])
    ctx.sh(["git", "init", "-q"])
    # no automatic gc: the commit of 20,000 files would start one in the background, which a
    # timed add leaves running (not timed) and a push then races (git-lfs: "missing object" for
    # a blob the gc was moving into a pack)
    ctx.sh(["git", "config", "gc.auto", "0"])
    ctx.sh(["git", "lfs", "track", "data/**"])
    commit_all(ctx.repo, ctx.env, ctx.log, "track data/ with git-lfs")
    copy_tree(ctx.data.small, ctx.repo)
    ctx.cwd = ctx.repo


def lfs_commit(ctx: RunCtx) -> None:
    ctx.sh(["git", "add", "data"])
    ctx.sh(["git", "commit", "-q", "-m", ADD_MESSAGE])


def lfs_remote(ctx: RunCtx) -> None:
    bare = ctx.run_dir / "remote.git"
    ctx.sh(["git", "init", "-q", "--bare", str(bare)], cwd=ctx.run_dir)
    ctx.sh(["git", "remote", "add", "origin", bare.as_uri()])


def lfs_push(ctx: RunCtx) -> None:
    ctx.sh(["git", "push", "-q", "origin", "main"])


def lfs_clone(ctx: RunCtx) -> None:
    """A fresh clone with the pointers only (GIT_LFS_SKIP_SMUDGE): `git lfs pull` fetches the data."""
    clone = ctx.run_dir / "clone"
    env = {**ctx.env, "GIT_LFS_SKIP_SMUDGE": "1"}
    bare = (ctx.run_dir / "remote.git").as_uri()
    run_checked(["git", "clone", "-q", bare, str(clone)], cwd=ctx.run_dir, env=env, log=ctx.log)
    ctx.cwd = clone


def lfs_clean(ctx: RunCtx) -> str | None:
    """The commit took everything: nothing left to add."""
    left = ctx.sh(["git", "status", "--porcelain"]).strip()
    return f"`git status` after the commit: {left.splitlines()[0]}" if left else None


def _lfs_store(ctx: RunCtx) -> Path:
    return ctx.repo / ".git" / "lfs" / "objects"


def _lfs_remote_store(ctx: RunCtx) -> Path:
    return ctx.run_dir / "remote.git" / "lfs" / "objects"


def _lfs_clone_store(ctx: RunCtx) -> Path:
    return ctx.run_dir / "clone" / ".git" / "lfs" / "objects"


ADD_COMMIT_LFS = ["sh", "-c", f"git add data && git commit -q -m {ADD_MESSAGE}"]
LFS_ADDED = then(lfs_repo, lfs_commit)

GIT_LFS = Peer(
    "git-lfs",
    {
        "W1": PeerWorkload(lfs_repo, lambda c: ADD_COMMIT_LFS, both(store_holds(_lfs_store), lfs_clean)),
        "W2": PeerWorkload(LFS_ADDED, lambda c: ["git", "status"], None),
        "W3": PeerWorkload(
            then(LFS_ADDED, change_one_file),
            lambda c: ADD_COMMIT_LFS,
            both(store_holds(_lfs_store, changed=True), lfs_clean),
        ),
        "W4": PeerWorkload(then(LFS_ADDED, delete_data), lambda c: ["git", "checkout", "--", "data"], data_matches),
        "W6": PeerWorkload(
            then(LFS_ADDED, lfs_remote),
            lambda c: ["git", "push", "-q", "origin", "main"],
            store_holds(_lfs_remote_store),
        ),
        "W43": PeerWorkload(
            then(LFS_ADDED, lfs_remote, lfs_push, lfs_clone),
            lambda c: ["git", "lfs", "pull"],
            both(data_matches, store_holds(_lfs_clone_store)),
        ),
    },
)


# -- Oxen: its own repository (no git); bench/oxen_cli.py is its `oxen` -------------------------


def oxen_repo(ctx: RunCtx) -> None:
    """`oxen config` (this run's HOME), `oxen init`, data copied in."""
    ctx.repo.mkdir(parents=True)
    ctx.tool_sh("config", "--name", "bench", "--email", "bench@example.invalid")
    ctx.tool_sh("init")
    copy_tree(ctx.data.small, ctx.repo)
    ctx.cwd = ctx.repo


def oxen_commit(ctx: RunCtx) -> None:
    ctx.tool_sh("add", "data", "+", "commit", "-m", ADD_MESSAGE)


def oxen_clean(ctx: RunCtx) -> str | None:
    out = ctx.tool_sh("status")
    return None if "nothing to commit" in out else f"`oxen status` after the commit: {out.strip()[:200]}"


def _oxen_store(ctx: RunCtx) -> Path:
    return ctx.repo / ".oxen" / "versions"


def _oxen_add_commit(c: RunCtx) -> list[str]:
    return c.tool.argv("add", "data", "+", "commit", "-m", ADD_MESSAGE)


OXEN_ADDED = then(oxen_repo, oxen_commit)
NO_OXEN_SERVER = (
    "Oxen has no local remote: PyPI's oxenai is the client library only, its remotes are URLs of an "
    "oxen-server (a path or file:// is refused), and oxen-server is on none of PyPI, Debian or npm"
)

OXEN = Peer(
    "oxen",
    {
        "W1": PeerWorkload(oxen_repo, _oxen_add_commit, both(store_holds(_oxen_store), oxen_clean)),
        "W2": PeerWorkload(OXEN_ADDED, lambda c: c.tool.argv("status"), None),
        "W3": PeerWorkload(
            then(OXEN_ADDED, change_one_file),
            _oxen_add_commit,
            both(store_holds(_oxen_store, changed=True), oxen_clean),
        ),
        "W4": PeerWorkload(then(OXEN_ADDED, delete_data), lambda c: c.tool.argv("restore", "data"), data_matches),
    },
    cannot={"W6": NO_OXEN_SERVER, "W43": NO_OXEN_SERVER},
)

ADAPTERS: dict[str, Peer] = {"oxen": OXEN, "git-lfs": GIT_LFS}


def has_side(peer: str, workload_id: str) -> bool:
    """Whether PEER appears in this workload at all (with numbers, or with why it cannot)."""
    adapter = ADAPTERS[peer]
    return workload_id in adapter.workloads or workload_id in adapter.cannot


def side_of(peer: str, workload_id: str) -> PeerWorkload:
    return ADAPTERS[peer].workloads[workload_id]


def cannot(peer: str, workload_id: str) -> str | None:
    return ADAPTERS[peer].cannot.get(workload_id)
