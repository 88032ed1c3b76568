"""status --remote: what is only local, only on the remote, or nowhere."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from cairn.objects.chunks import CHUNKED
from cairn.objects.tree import TREE
from cairn.remotes.closure import Root, closure
from cairn.remotes.remote import Remote
from cairn.workspace.context import Workspace

# -- status -------------------------------------------------------------------------------------


@dataclass
class RemoteStatus:
    local_only: list[str] = field(default_factory=list)  # push would send these
    remote_only: list[str] = field(default_factory=list)  # fetch would get these
    both: int = 0
    missing: list[str] = field(default_factory=list)  # neither here nor there
    # bytes of the files and chunks on one side only: a file held as chunks counts as its
    # chunks (what a push or pull moves), not as its whole size; trees are not counted
    local_only_bytes: int = 0
    remote_only_bytes: int = 0

    def to_dict(self) -> dict:
        return {
            "local_only": len(self.local_only),
            "remote_only": len(self.remote_only),
            "both": self.both,
            "missing": len(self.missing),
            "local_only_bytes": self.local_only_bytes,
            "remote_only_bytes": self.remote_only_bytes,
            "objects": {"local_only": self.local_only, "remote_only": self.remote_only, "missing": self.missing},
        }


def remote_status(ws: Workspace, remote: Remote, roots: Iterable[Root]) -> RemoteStatus:
    remote.refresh()
    wanted, lacking = closure(ws, roots, remote)
    have = remote.index.all_oids()
    st = RemoteStatus()
    for oid in sorted(set(wanted) | set(lacking)):
        local = ws.store.exists(oid)
        there = oid in have or oid in remote.chunk_lists
        kind, size = wanted.get(oid, (None, None))
        nbytes = size if size is not None and kind != CHUNKED else 0
        # a root file has no tree entry to give its size (closure): ask the side that holds it
        root_file = size is None and kind not in (None, TREE, CHUNKED)
        if local and there:
            st.both += 1
        elif local:
            st.local_only.append(oid)
            st.local_only_bytes += ws.store.size(oid) if root_file else nbytes
        elif there:
            st.remote_only.append(oid)
            st.remote_only_bytes += _remote_size(remote, oid) if root_file else nbytes
        else:
            st.missing.append(oid)
    return st


def _remote_size(remote: Remote, oid: str) -> int:
    loc = remote.index.locate([oid]).get(oid)
    return loc[2] if loc is not None else 0
