"""bench/envs.py's locks: a run that must change a venv another run uses waits for it; making a venv
no other run uses waits for nobody (on a fresh clone the suite's smoke runs start together and need
different venvs)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"

USER = """
import sys, time, envs
from pathlib import Path
envs.VENVS_DIR = Path(sys.argv[1])
with envs.venvs_lock():
    envs._hold("x")
    envs.venvs_ready()
    print("using", flush=True)
    time.sleep(float(sys.argv[2]))
print("done", time.time(), flush=True)
"""

CHANGER = """
import sys, time, envs
from pathlib import Path
envs.VENVS_DIR = Path(sys.argv[1])
with envs.venvs_lock():
    with envs._exclusive(sys.argv[2]):
        print("changing", time.time(), flush=True)
"""


def test_a_run_that_must_change_a_venv_waits_for_the_run_using_them(tmp_path: Path) -> None:
    venvs = tmp_path / "venvs"
    user = subprocess.Popen(
        [sys.executable, "-c", USER, str(venvs), "1.5"], cwd=BENCH, stdout=subprocess.PIPE, text=True
    )
    assert user.stdout is not None and user.stdout.readline().strip() == "using"
    changer = subprocess.run(
        [sys.executable, "-c", CHANGER, str(venvs), "x"], cwd=BENCH, capture_output=True, text=True, timeout=60
    )
    user_out, _ = user.communicate(timeout=60)
    assert changer.returncode == 0, changer.stderr
    assert "waiting for it to finish" in changer.stdout
    done = float(user_out.split()[-1])
    changed = float(changer.stdout.split()[-1])
    assert changed >= done - 0.05, "the venv changed while another run was using the venvs"


def test_a_run_alone_changes_a_venv_without_waiting(tmp_path: Path) -> None:
    start = time.monotonic()
    changer = subprocess.run(
        [sys.executable, "-c", CHANGER, str(tmp_path / "venvs"), "x"],
        cwd=BENCH,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert changer.returncode == 0, changer.stderr
    assert "waiting" not in changer.stdout and time.monotonic() - start < 10


def test_making_a_venv_no_other_run_uses_does_not_wait(tmp_path: Path) -> None:
    venvs = tmp_path / "venvs"
    user = subprocess.Popen([sys.executable, "-c", USER, str(venvs), "5"], cwd=BENCH, stdout=subprocess.PIPE, text=True)
    try:
        assert user.stdout is not None and user.stdout.readline().strip() == "using"
        changer = subprocess.run(
            [sys.executable, "-c", CHANGER, str(venvs), "y"], cwd=BENCH, capture_output=True, text=True, timeout=60
        )
        assert changer.returncode == 0, changer.stderr
        assert "waiting" not in changer.stdout and user.poll() is None  # changed while x was still in use
    finally:
        user.kill()
        user.wait()
