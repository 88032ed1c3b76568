"""The registry as a team uses it: versions and stages as annotated tags, shared through a
bare origin with `git push --tags`, read back in another clone and with --repo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from cairn.errors import ObjectMissingError, PipelineError, RegistryError, RemoteUnreachableError

from .conftest import CAIRN_YAML


def test_register_assign_and_read_in_another_clone(team, release, git):
    alice, bob = team.alice, team.bob
    reg = alice.json("model", "register", "churn", "-m", "first model")
    assert reg["version"] == "v0.0.1" and reg["tag"] == "churn@v0.0.1"
    alice.cairn("model", "assign", "churn", "--stage", "prod")
    v2 = release(alice, 20, "threshold 20")
    assert alice.json("model", "register", "churn", "--bump", "minor")["version"] == "v0.1.0"
    alice.cairn("model", "assign", "churn@v0.1.0", "--stage", "prod", "-m", "better recall")
    alice.git("push", "-q", "origin", "main", "--tags")

    bob.git("fetch", "-q", "--tags", "origin")
    listing = bob.json("model", "list")
    assert listing == [
        {"name": "churn", "latest": "v0.1.0", "stages": {"prod": "v0.1.0"}, "versions": 2, "deprecated": False}
    ]
    shown = bob.json("model", "show", "churn")
    versions = shown["versions_detail"]
    assert (versions[0]["version"], versions[0]["commit"], versions[0]["stages"]) == ("v0.1.0", v2, ["prod"])
    assert versions[1]["author"] == "Cairn Tester" and versions[1]["message"] == "first model"
    history = bob.json("model", "history", "churn")
    # tag times have one-second resolution: within a second, stage tags keep their counter's order
    assert sorted((e["action"], e["version"], e["stage"] or "") for e in history) == [
        ("assign", "v0.0.1", "prod"),
        ("assign", "v0.1.0", "prod"),
        ("register", "v0.0.1", ""),
        ("register", "v0.1.0", ""),
    ]
    assert [e["version"] for e in history if e["action"] == "assign"] == ["v0.1.0", "v0.0.1"]
    assert history[0]["message"] == "better recall" and history[0]["author_email"] == "tester@example.com"

    # rollback is assigning the older version again, by anyone; it reaches alice through git
    bob.cairn("model", "assign", "churn@v0.0.1", "--stage", "prod", "-m", "rollback: latency")
    bob.git("push", "-q", "origin", "--tags")
    alice.git("fetch", "-q", "--tags", "origin")
    assert alice.json("model", "list")[0]["stages"] == {"prod": "v0.0.1"}
    assert alice.json("model", "history", "churn")[0]["author"] == "Bob"


def test_get_from_another_clone_and_from_outside_with_repo(team, release, tmp_path: Path, run_cairn):
    alice, bob = team.alice, team.bob
    alice.cairn("model", "register", "churn")
    alice.cairn("model", "assign", "churn", "--stage", "prod")
    release(alice, 20, "threshold 20")
    alice.cairn("model", "register", "churn", "--bump", "minor")
    alice.cairn("push")
    alice.git("push", "-q", "origin", "main", "--tags")

    bob.git("fetch", "-q", "--tags", "origin")
    got = bob.json("model", "get", "churn@prod", "-o", "deploy/model.bin")
    assert (bob.root / "deploy/model.bin").read_bytes() == b"threshold 10\n"
    assert got["version"] == "v0.0.1" and got["stage"] == "prod" and got["files"] == 1
    assert not (bob.root / ".cairn/cache/objects").exists() or not any((bob.root / ".cairn/cache/objects").iterdir())

    # a deployment job: no repository at all, only the git URL (the data remote comes from its config)
    job = tmp_path / "job"
    job.mkdir()
    out = json.loads(
        run_cairn("model", "get", "churn@v0.1.0", "--repo", str(team.origin), "-o", "m.bin", "--json", cwd=job).stdout
    )
    assert (job / "m.bin").read_bytes() == b"threshold 20\n" and out["version"] == "v0.1.0"
    listing = json.loads(run_cairn("model", "list", "--repo", str(team.origin), "--json", cwd=job).stdout)
    assert listing[0]["latest"] == "v0.1.0" and listing[0]["stages"] == {"prod": "v0.0.1"}
    shown = json.loads(run_cairn("model", "show", "churn", "--repo", str(team.origin), "--json", cwd=job).stdout)
    assert [v["version"] for v in shown["versions_detail"]] == ["v0.1.0", "v0.0.1"]
    assert sorted(p.name for p in job.iterdir()) == ["m.bin"]  # nothing else left behind
    # without --repo, the error outside a repository names it
    for args in (("model", "get", "churn@prod", "-o", "m2.bin"), ("model", "list")):
        proc = run_cairn(*args, cwd=job, expect=None)
        assert proc.returncode == 3 and "--repo GIT_URL" in proc.stderr and "Traceback" not in proc.stderr


def test_share_hint_is_a_command_an_interactive_shell_runs(team, tmp_path: Path):
    """An unassign tag holds `!#`, history expansion in an interactive bash: the printed
    `git push` line quotes the tag, so pasting it pushes that tag."""
    alice = team.alice
    alice.cairn("model", "register", "churn")
    alice.git("push", "-q", "origin", "main", "--tags")
    alice.cairn("model", "assign", "churn", "--stage", "prod")
    out = alice.cairn("model", "unassign", "churn", "--stage", "prod").stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("Share it: "))[len("Share it: ") :]
    assert line == "git push origin 'churn#prod!#2'"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "GIT_TERMINAL_PROMPT": "0"}
    subprocess.run(
        ["bash", "--norc", "--noprofile", "-i"],
        input=line + "\n",
        cwd=alice.root,
        env=env,
        text=True,
        capture_output=True,
    )
    remote_tags = subprocess.run(["git", "tag", "-l"], cwd=team.origin, capture_output=True, text=True).stdout.split()
    assert "churn#prod!#2" in remote_tags


def test_reads_a_registry_gto_wrote(project, git):
    """Tags made as GTO makes them (git tag -a, its names and messages) read as they are."""
    head = project.git("rev-parse", "HEAD").strip()
    for tag, msg in (
        ("churn@v1.2.0", "Registering artifact churn version v1.2.0"),
        ("churn#staging#1", "Assigning stage staging to artifact churn version v1.2.0"),
        ("churn#prod#2", "Assigning stage prod to artifact churn version v1.2.0"),
        ("churn#staging!#3", "Unassigning stage 'staging' to artifact 'churn' version 'v1.2.0'"),
        ("notes", "a lightweight-looking annotated tag that is not a registry tag"),
    ):
        project.git("tag", "-a", tag, "-m", msg, head)
    project.git("tag", "churn@v9.9.9", head)  # lightweight: carries no who or why, skipped as GTO does
    listing = project.json("model", "list")
    assert listing[0]["latest"] == "v1.2.0" and listing[0]["stages"] == {"prod": "v1.2.0"}
    # the next tag continues GTO's counter
    project.git("commit", "-q", "--allow-empty", "-m", "empty")
    assert project.json("model", "register", "churn")["version"] == "v1.2.1"
    assert project.json("model", "assign", "churn", "--stage", "prod")["tag"] == "churn#prod#4"
    assert project.json("model", "unassign", "churn", "--stage", "prod")["tag"] == "churn#prod!#5"
    # as in GTO, the version assigned before (and never unassigned) is in the stage again
    assert project.json("model", "list")[0]["stages"] == {"prod": "v1.2.0"}
    dep = project.json("model", "deprecate", "churn", "-m", "replaced")
    assert dep["tag"] == "churn@deprecated#6"
    assert project.json("model", "list")[0]["deprecated"] is True
    annotation = project.git("tag", "-l", "--format=%(contents:subject)|%(taggername)", "churn#prod#4").strip()
    assert annotation == "Assigning stage prod to artifact churn version v1.2.1|Cairn Tester"


def test_bad_input(project, release, assert_error, tmp_path: Path, run_cairn):
    run = project.cairn
    assert_error(
        run("model", "register", "nosuch", expect=None),
        RegistryError,
        "unknown artifact 'nosuch' in cairn.yaml at HEAD",
        "declare it under `artifacts:`",
    )
    assert_error(
        run("model", "register", "churn", "--version", "1.2", expect=None),
        RegistryError,
        "'1.2' is not a semantic version",
        "MAJOR.MINOR.PATCH",
    )
    run("model", "register", "churn", "--version", "1.0.0")
    release(project, 20, "threshold 20")
    assert_error(
        run("model", "register", "churn", "--version", "v1.0.0", expect=None),
        RegistryError,
        "version v1.0.0 of 'churn' already exists",
    )
    assert_error(
        run("model", "register", "churn", "HEAD~1", expect=None),
        RegistryError,
        "already holds version v1.0.0 of 'churn'",
    )
    # a version that is not one is named as such, even on a commit that holds a version already
    assert_error(
        run("model", "register", "churn", "HEAD~1", "--version", "1.2", expect=None),
        RegistryError,
        "'1.2' is not a semantic version",
        "MAJOR.MINOR.PATCH",
    )
    assert_error(
        run("model", "assign", "churn", "--stage", "pro d", expect=None),
        RegistryError,
        "'pro d' is not a valid stage name",
        "letters, digits",
    )
    bad_name = run("model", "show", "Bad Name", expect=None)
    assert_error(bad_name, RegistryError, "'Bad Name' is not a valid artifact name")
    # a tag of that name already exists on another commit (made by hand, or left by a deregistration)
    project.git("tag", "churn@v2.0.0", "HEAD~1")
    assert_error(
        run("model", "register", "churn", "--version", "2.0.0", expect=None),
        RegistryError,
        "tag 'churn@v2.0.0' already exists on commit",
        "git tag -d",
    )
    assert_error(
        run("model", "get", "churn@prod", expect=None),
        RegistryError,
        "no version of 'churn' is in stage 'prod'",
        "cairn model assign churn@VERSION --stage prod",
    )
    # the version's data never reached the remote, and this clone's cache lost it
    run("model", "register", "churn", "--version", "1.1.0")
    shutil.rmtree(project.root / ".cairn" / "cache")
    assert_error(
        run("model", "get", "churn@v1.1.0", "-o", "deploy/models/m.bin", expect=None),
        ObjectMissingError,
        "the data of churn v1.1.0 is neither in the local cache nor on remote 'store'",
        "cairn push",
    )
    assert not (project.root / "deploy").exists()  # nor the folders -o asked for
    # an unreachable git URL
    job = tmp_path / "job"
    job.mkdir()
    assert_error(
        run_cairn("model", "list", "--repo", str(tmp_path / "no-such-repo.git"), cwd=job, expect=None),
        RemoteUnreachableError,
        "cannot read git repository",
        "git ls-remote",
    )
    # a malformed artifacts section says where
    broken = "artifacts:\n  churn:\n    type: model\n    signature: {inputs: {a: complex}}\n"
    (project.root / "cairn.yaml").write_text(broken)
    project.commit("broken artifacts")
    proc = run("model", "register", "churn", expect=None)
    assert_error(proc, PipelineError, "the artifacts of cairn.yaml at ")
    assert ":2:3: artifact 'churn' needs a `path:`" in proc.stderr


def test_get_refuses_a_damaged_remote_copy(project, assert_error):
    from cairn.errors import CorruptObjectError

    project.cairn("model", "register", "churn")
    damaged = 0
    for f in project.store.rglob("*"):  # bit rot in whatever file holds the model's bytes
        if f.is_file() and b"threshold 10\n" in f.read_bytes():
            f.chmod(0o644)
            f.write_bytes(f.read_bytes().replace(b"threshold 10\n", b"threshold 99\n"))
            damaged += 1
    assert damaged == 1
    shutil.rmtree(project.root / ".cairn" / "cache")
    proc = project.cairn("model", "get", "churn", "-o", "m.bin", expect=None)
    assert_error(proc, CorruptObjectError, "on remote 'store' is corrupt (its bytes do not match its id)")
    assert not (project.root / "m.bin").exists() and not list(project.root.glob(".m.bin.*"))


def test_register_refuses_a_path_nothing_holds(project, assert_error):
    """A version that get, bundle and serve could never read gets no tag: a typo in `path:`, or
    a file inside a tracked folder (the folder is the artifact). A file git tracks is
    registered, as GTO does, for the registry alone."""
    project.write({"data/d/a.txt": b"a", "data/d/b.txt": b"b", "small.onnx": b"tiny model in git"})
    project.cairn("add", "data/d")
    extra = "  inner:\n    path: data/d/a.txt\n  typo:\n    path: models/chrun.bin\n  ingit:\n    path: small.onnx\n"
    project.write({"cairn.yaml": (CAIRN_YAML + extra).encode()})
    project.commit("three more artifacts")
    assert_error(
        project.cairn("model", "register", "inner", expect=None),
        RegistryError,
        "artifact 'inner' (data/d/a.txt) is a file inside the tracked folder data/d at commit",
        "declare `path: data/d`",
    )
    assert_error(
        project.cairn("model", "register", "typo", expect=None),
        RegistryError,
        "artifact 'typo' (models/chrun.bin) is not tracked by cairn at commit",
    )
    assert project.git("tag", "-l").split() == []
    assert project.json("model", "register", "ingit")["tag"] == "ingit@v0.0.1"
