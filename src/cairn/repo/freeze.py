"""`cairn freeze` / `cairn unfreeze STAGE...`: set or drop `frozen: true` in cairn.yaml (a
frozen stage is never stale: repro and status skip it). The file keeps its comments and layout;
a foreach/matrix stage is frozen as a whole (its `do` body, or its own body for a matrix)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from cairn.errors import PipelineError

if TYPE_CHECKING:
    from cairn.repo.repo import Repo


def set_frozen(repo: Repo, names: list[str], frozen: bool) -> list[str]:
    """The stages whose setting changed (a stage already so is left as it is)."""
    from cairn.pipelines.spec import PIPELINE_FILE, build
    from cairn.pipelines.yamlfile import compose, parse
    from cairn.repo.stagetext import with_key

    pipeline = repo._need_pipeline().pipeline
    path = repo.root / PIPELINE_FILE
    with repo.lock():
        text = path.read_text()
        _, data = compose(text, PIPELINE_FILE)
        changed = []
        for name in names:
            if "@" in name and name in pipeline.stages:
                group = name.partition("@")[0]
                raise PipelineError(
                    f"stage {name!r} is one of the stages foreach/matrix stage {group!r} generates",
                    f"freeze or unfreeze them together: `cairn {'freeze' if frozen else 'unfreeze'} {group}`",
                )
            generated = pipeline.expand([name])  # an unknown name fails with a suggestion
            if all(pipeline.stages[s].frozen == frozen for s in generated):
                continue
            body = data["stages"][name]
            inner = "do" if isinstance(body, dict) and "foreach" in body else None
            text = with_key(text, name, inner, "frozen", True if frozen else None)
            changed.append(name)
        if changed:
            build(parse(text, PIPELINE_FILE), repo.root)  # never write a cairn.yaml that does not load
            tmp = path.with_name(f".{PIPELINE_FILE}.{os.getpid()}.tmp")
            tmp.write_text(text)
            os.replace(tmp, path)
    return changed
