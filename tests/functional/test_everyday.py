"""The everyday commands a DVC user reaches for: `cairn remove`, `move`, `commit`, `freeze`,
`unfreeze` and `exp save`, through the real CLI in a git + cairn repository."""

from __future__ import annotations

import textwrap

import yaml

from cairn.errors import OverlapError, PathError, PipelineError

PIPELINE = """\
# the pipeline (this comment must survive every edit)
stages:
  # copies the data
  prep:
    cmd: cp data/a.txt b.txt
    deps: [data/a.txt]
    outs: [b.txt]
  loop:
    foreach: [1, 2]
    do:
      cmd: echo ${item} > o${item}.txt
      outs:
        - o${item}.txt
"""


def setup(repo) -> None:
    repo.write({"data/a.txt": b"alpha\n", "data/imgs/x.bin": b"x" * 100, "data/imgs/y.bin": b"y"})
    repo.cairn("add", "data/a.txt", "data/imgs")
    (repo.root / "cairn.yaml").write_text(PIPELINE)
    repo.cairn("repro")
    repo.commit("start", ".")


def test_remove_pointer_keeps_data_unless_outs(repo):
    setup(repo)
    out = repo.json("remove", "data/imgs.cairn")
    assert out == [{"kind": "data", "target": "data/imgs", "pointer": "data/imgs.cairn", "deleted": False}]
    assert not (repo.root / "data" / "imgs.cairn").exists()
    assert (repo.root / "data" / "imgs" / "x.bin").read_bytes() == b"x" * 100
    assert (repo.root / "data" / ".gitignore").read_text() == "/a.txt\n"
    proc = repo.cairn("remove", "data/a.txt", "--outs")  # the data path works as well as the pointer
    assert "removed data/a.txt.cairn and data/a.txt" in proc.stdout
    assert not (repo.root / "data" / "a.txt").exists()
    assert not (repo.root / "data" / ".gitignore").exists()  # left empty: gone, as in DVC


def test_remove_stage_keeps_the_rest_of_cairn_yaml(repo):
    setup(repo)
    proc = repo.cairn("remove", "loop")
    assert "removed stage loop (outputs kept: o1.txt, o2.txt)" in proc.stdout
    assert (repo.root / "cairn.yaml").read_text() == PIPELINE.split("  loop:")[0]
    assert list(yaml.safe_load((repo.root / "cairn.lock").read_text())["stages"]) == ["prep"]
    assert (repo.root / "o1.txt").exists()
    assert "/o1.txt" not in (repo.root / ".gitignore").read_text()
    repo.cairn("remove", "prep", "--outs")
    assert not (repo.root / "b.txt").exists()
    assert yaml.safe_load((repo.root / "cairn.yaml").read_text())["stages"] is None


def test_remove_refuses_unknown_and_generated(repo, assert_error):
    setup(repo)
    proc = repo.cairn("remove", "nothing", expect=PathError.exit_code)
    assert_error(
        proc,
        PathError,
        "nothing is neither tracked by cairn (no nothing.cairn) nor a stage of cairn.yaml",
        "name a pointer file, a tracked path or a stage (stages: prep, loop@1, loop@2)",
    )
    proc = repo.cairn("remove", "loop@1", expect=PipelineError.exit_code)
    assert_error(
        proc,
        PipelineError,
        "stage 'loop@1' is one of the stages foreach/matrix stage 'loop' generates",
        "remove them all with `cairn remove loop`, or drop the item from its list in cairn.yaml",
    )
    assert (repo.root / "cairn.yaml").read_text() == PIPELINE


def test_move_data_and_pointer_together(repo):
    setup(repo)
    out = repo.json("move", "data/imgs", "images")
    assert out["to"] == "images" and out["data_moved"] is True
    assert (repo.root / "images" / "x.bin").read_bytes() == b"x" * 100
    assert repo.pointer("images")["path"] == "images"
    assert not (repo.root / "data" / "imgs.cairn").exists()
    assert (repo.root / ".gitignore").read_text().splitlines().count("/images") == 1
    assert "/imgs" not in (repo.root / "data" / ".gitignore").read_text()
    assert repo.json("add", "images")[0]["hashed"] == 0  # the stat cache rows moved with the files
    assert repo.json("status")["changed"] is False
    repo.cairn("move", "images.cairn", "data")  # into an existing folder, by its pointer
    assert repo.pointer("data/images")["path"] == "images"
    # the printed git command works for a pointer never committed (plain `git rm --cached` fails)
    repo.write({"fresh.bin": b"f"})
    repo.cairn("add", "fresh.bin")
    line = repo.cairn("move", "fresh.bin", "fresh2.bin").stdout.splitlines()[1]
    assert line.startswith("git add fresh2.bin.cairn && git rm --cached -q --ignore-unmatch fresh.bin.cairn")
    repo.git(*line.split("  (")[0].split(" && ")[1].split()[1:])  # the git rm part, run as printed
    # a trailing slash names a folder, new or not (it was renamed to a file called `archive`)
    assert repo.json("move", "data/images", "archive/")["to"] == "archive/images"
    assert (repo.root / "archive" / "images" / "x.bin").read_bytes() == b"x" * 100
    assert (repo.root / "archive" / ".gitignore").read_text() == "/images\n"


def test_move_refusals(repo, assert_error):
    setup(repo)
    repo.write({"other.txt": b"o"})
    proc = repo.cairn("move", "other.txt", "x.txt", expect=PathError.exit_code)
    assert_error(proc, PathError, "other.txt is not tracked by cairn (no other.txt.cairn)", "move untracked files")
    proc = repo.cairn("move", "data/a.txt", "other.txt", expect=PathError.exit_code)
    assert_error(proc, PathError, "other.txt exists already", "remove it first, or choose another destination")
    proc = repo.cairn("move", "data/a.txt", "data/imgs/a.txt", expect=OverlapError.exit_code)
    assert_error(proc, OverlapError, "data/imgs/a.txt is inside data/imgs, which is tracked on its own")
    proc = repo.cairn("move", "data/imgs", "data/imgs/deeper", expect=PathError.exit_code)
    assert_error(proc, PathError, "cannot move data/imgs into itself (data/imgs/deeper)")
    assert (repo.root / "data" / "a.txt.cairn").exists()


def test_commit_records_changes_made_by_hand(repo, assert_error):
    setup(repo)
    (repo.root / "b.txt").write_text("edited by hand\n")
    (repo.root / "data" / "imgs" / "y.bin").write_bytes(b"new y")
    assert repo.json("status")["stages"] == {"prep": ["out b.txt modified"]}
    done = repo.json("commit")
    assert [(d["kind"], d["target"]) for d in done] == [("data", "data/imgs"), ("stage", "prep")]
    status = repo.json("status")
    assert status["stages"] == {} and status["changed"] is False
    assert repo.json("repro")["ran"] == []
    b_oid = yaml.safe_load((repo.root / "cairn.lock").read_text())["stages"]["prep"]["outs"][0]["oid"]
    assert b_oid in repo.cache_oids()
    assert "data/a.txt: unchanged" in repo.cairn("commit", "data/a.txt").stdout
    assert "Nothing changed; nothing to commit." in repo.cairn("commit").stdout
    (repo.root / "b.txt").unlink()
    proc = repo.cairn("commit", "prep", expect=PipelineError.exit_code)
    assert_error(
        proc,
        PipelineError,
        "stage 'prep' cannot be recorded: b.txt does not exist",
        "(or run the stage: `cairn repro prep`)",
    )
    (repo.root / "data" / "a.txt").unlink()
    proc = repo.cairn("commit", "data/a.txt", expect=PathError.exit_code)
    assert_error(proc, PathError, "data/a.txt is not in the workspace; there is nothing to record")
    # a stage's output or a mistyped stage: not "not tracked by cairn ... `cairn add`"
    proc = repo.cairn("commit", "o1.txt", expect=PathError.exit_code)
    assert_error(proc, PathError, "o1.txt is an output of stage 'loop@1', not tracked data", "`cairn commit loop@1`")
    proc = repo.cairn("commit", "perp", expect=PathError.exit_code)
    assert_error(proc, PathError, "perp is neither tracked by cairn nor a stage", "did you mean the stage 'prep'?")


def test_freeze_and_unfreeze_keep_comments(repo, assert_error):
    setup(repo)
    assert repo.json("freeze", "prep", "loop") == {"changed": ["prep", "loop"], "frozen": True}
    text = (repo.root / "cairn.yaml").read_text()
    assert text.startswith("# the pipeline (this comment must survive every edit)\n")
    assert "    outs: [b.txt]\n    frozen: true\n" in text and "        - o${item}.txt\n      frozen: true\n" in text
    (repo.root / "data" / "a.txt").write_text("changed\n")
    repo.cairn("add", "data/a.txt")
    assert repo.json("status")["stages"] == {}  # frozen: never stale
    assert repo.json("repro")["ran"] == []
    assert "stage prep: already frozen" in repo.cairn("freeze", "prep").stdout
    repo.cairn("unfreeze", "prep", "loop")
    assert (repo.root / "cairn.yaml").read_text() == PIPELINE
    assert repo.json("status")["stages"] == {"prep": ["dep data/a.txt modified"]}
    proc = repo.cairn("freeze", "loop@2", expect=PipelineError.exit_code)
    assert_error(proc, PipelineError, "stage 'loop@2' is one of the stages", "`cairn freeze loop`")
    proc = repo.cairn("freeze", "prepp", expect=PipelineError.exit_code)
    assert_error(proc, PipelineError, "there is no stage named 'prepp' in cairn.yaml", "did you mean 'prep'?")


def test_exp_save_records_the_workspace_without_running(repo):
    setup(repo)
    (repo.root / "params.yaml").write_text("lr: 0.5\n")
    (repo.root / "metrics.json").write_text('{"acc": 0.5}\n')
    (repo.root / "cairn.yaml").write_text(
        PIPELINE
        + textwrap.dedent("""\
        metrics:
          - metrics.json
        params:
          - params.yaml
        """)
    )
    (repo.root / "b.txt").write_text("by hand\n")
    info = repo.json("exp", "save", "-n", "by-hand")
    assert info["name"] == "by-hand" and info["status"] == "success"
    assert info["metrics"] == {"metrics.json": {"acc": 0.5}}
    assert info["params"]["params.yaml"] == {"lr": 0.5}
    # the changed output was committed first: the saved lock names what is in the workspace
    shown = repo.git("show", f"{info['commit']}:cairn.lock")
    b = yaml.safe_load(shown)["stages"]["prep"]["outs"][0]["oid"]
    assert b in repo.cache_oids()
    assert [e["name"] for e in repo.json("exp", "show")] == ["by-hand"]
    proc = repo.cairn("exp", "save", "-n", "by-hand", expect=2)
    assert "an experiment named 'by-hand' already exists" in proc.stderr


def test_freeze_and_remove_in_a_flow_style_cairn_yaml(repo):
    """A stage written in flow style is edited through its data (the file's layout cannot be kept
    there), and the result still loads."""
    (repo.root / "cairn.yaml").write_text("stages: {a: {cmd: echo a > a.txt, outs: [a.txt]}, b: {cmd: echo b}}\n")
    repo.cairn("freeze", "a")
    assert yaml.safe_load((repo.root / "cairn.yaml").read_text())["stages"]["a"]["frozen"] is True
    repo.cairn("unfreeze", "a")
    assert "frozen" not in yaml.safe_load((repo.root / "cairn.yaml").read_text())["stages"]["a"]
    repo.cairn("remove", "b")
    assert list(yaml.safe_load((repo.root / "cairn.yaml").read_text())["stages"]) == ["a"]
    assert repo.json("dag")  # still a valid pipeline
