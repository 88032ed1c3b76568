"""Every workload (W1-W14, W20, W21 in workloads.py, W15-W19 in target_workloads.py, W22-W23 in
merge_workloads.py, W24-W25 in lineage_workloads.py, W50-W55 in chunk_workloads.py, S1 in
scale_workloads.py, later ones in their area's *_workloads.py),
in order of id, and the --only selection. Standard library only."""

from __future__ import annotations

import checks_workloads
import chunk_workloads
import datastats_workloads
import dvcimport_workloads
import lineage_workloads
import merge_workloads
import registry_workloads
import scale_workloads
import sharing_workloads
import target_workloads
import ui_workloads
import workloads
from workloads import Workload

WORKLOADS: tuple[Workload, ...] = tuple(
    sorted(
        (
            *workloads.WORKLOADS,
            *target_workloads.WORKLOADS,
            *merge_workloads.WORKLOADS,
            *lineage_workloads.WORKLOADS,
            *checks_workloads.WORKLOADS,
            *sharing_workloads.WORKLOADS,
            *registry_workloads.WORKLOADS,
            *dvcimport_workloads.WORKLOADS,
            *datastats_workloads.WORKLOADS,
            *ui_workloads.WORKLOADS,
            *chunk_workloads.WORKLOADS,
            *scale_workloads.WORKLOADS,
        ),
        key=lambda w: (w.id[0] != "W", int(w.id[1:].partition("-")[0])),  # S1 after the Ws
    )
)


def select(only: str | None, scale: str) -> list[Workload]:
    """Workloads of this scale; `only` is a comma list of ids or prefixes (W5 = both W5s)."""
    chosen = [w for w in WORKLOADS if scale in w.scales]
    if only:
        wanted = [o.strip().upper() for o in only.split(",") if o.strip()]
        unknown = [o for o in wanted if not any(_matches(w.id, o) for w in WORKLOADS)]
        if unknown:
            raise SystemExit(f"unknown workload(s): {', '.join(unknown)}")
        chosen = [w for w in chosen if any(_matches(w.id, o) for o in wanted)]
    return chosen


def _matches(wid: str, pattern: str) -> bool:
    return wid.upper() == pattern or wid.upper().startswith(pattern + "-")
