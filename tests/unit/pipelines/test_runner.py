"""The runner, in process: what a failed run tells a caller of the library."""

from __future__ import annotations

import pytest

from cairn.errors import StageFailedError
from cairn.pipelines.runner import ReproOptions
from cairn.repo import Repo


def test_a_failed_run_carries_each_stages_exit_code(repo: Repo) -> None:
    (repo.root / "cairn.yaml").write_text(
        "stages:\n"
        "  ok: {cmd: echo > ok.txt, outs: [ok.txt]}\n"
        "  bad: {cmd: exit 42, outs: [bad.txt]}\n"
        "  after: {cmd: cat ok.txt bad.txt > a.txt, deps: [ok.txt, bad.txt], outs: [a.txt]}\n"
    )
    with pytest.raises(StageFailedError) as caught:
        repo.repro(ReproOptions(keep_going=True))
    e = caught.value
    assert e.code == "stage-failed" and e.exit_code == 9 and e.stages == ["bad"]
    assert e.exit_codes == {"bad": 42}  # type: ignore[attr-defined]
    assert e.result.ran == ["ok"] and e.result.skipped == ["after"]  # type: ignore[attr-defined]
    assert e.message.startswith("stage 'bad' failed (exit code 42): exit 42")
