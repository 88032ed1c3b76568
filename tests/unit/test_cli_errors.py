"""The CLI's last line of defence: errors the library does not wrap still get a message and an
exit code, never a traceback."""

from __future__ import annotations

import pytest

from cairn.cli import main as cli_main


def test_running_out_of_memory_is_a_message(monkeypatch, capsys):
    def exhausted(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(cli_main.cli, "main", exhausted)
    with pytest.raises(SystemExit) as exit_info:
        cli_main.main(["status"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "error: cairn ran out of memory" in err
    assert "close other programs, or work on less at once (fewer targets, a lower -j)" in err
    assert "Traceback" not in err
