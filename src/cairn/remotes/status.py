"""status --remote: what is only local, only on the remote, or nowhere."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

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

    def to_dict(self) -> dict:
        return {
            "local_only": len(self.local_only),
            "remote_only": len(self.remote_only),
            "both": self.both,
            "missing": len(self.missing),
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
        if local and there:
            st.both += 1
        elif local:
            st.local_only.append(oid)
        elif there:
            st.remote_only.append(oid)
        else:
            st.missing.append(oid)
    return st
