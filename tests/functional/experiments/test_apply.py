"""Acting on experiments: `exp apply`, `exp branch`, `exp remove`."""

from __future__ import annotations

import json
from datetime import date, timedelta

import yaml

from cairn.errors import RepoStateError, UserInputError, WouldLoseDataError


def queued(exp_repo, name: str, *overrides: str, expect: int = 0) -> None:
    exp_repo.exp("run", "--queue", "-n", name, *[a for o in overrides for a in ("-S", o)])
    exp_repo.exp("run", "--run-all", expect=expect)


def test_apply_puts_params_lock_and_outputs_into_the_workspace(exp_repo):
    queued(exp_repo, "deep", "train.lr=0.3", "train.depth=6", "prepare.rows=4")
    proc = exp_repo.exp("apply", "deep")
    assert proc.stdout.startswith("Applied 'deep': ")
    assert exp_repo.params()["train"] == {"lr": 0.3, "depth": 6}
    assert exp_repo.read("cairn.lock") == exp_repo.show_file("deep", "cairn.lock")
    assert exp_repo.metrics() == {"acc": 0.76, "loss": 0.24, "step": 1}
    # outputs come from the cache: the experiment ran elsewhere, never in this workspace
    assert exp_repo.read("model/weights.txt") == "lr=0.3 depth=6 rows=4\n"
    assert exp_repo.read("data/features.txt").count("\n") == 4
    # and the pipeline is up to date: nothing to rerun
    assert exp_repo.json("status")["stages"] == {}
    # the user keeps it by committing (apply does not commit or move HEAD)
    assert set(exp_repo.git("diff", "--name-only").split()) >= {"params.yaml", "cairn.lock"}


def test_apply_refuses_uncommitted_changes_unless_forced(exp_repo, assert_error):
    queued(exp_repo, "other", "train.lr=0.3")
    exp_repo.write("params.yaml", exp_repo.read("params.yaml").replace("depth: 2", "depth: 5"))
    exp_repo.write("notes.txt", "mine\n")  # untracked and unrelated: not a conflict
    before = exp_repo.snapshot()
    assert_error(
        exp_repo.exp("apply", "other", expect=None),
        WouldLoseDataError,
        "applying 'other' would overwrite uncommitted changes in 1 file(s): params.yaml",
        "commit or stash them (move an untracked file away) first, or use `cairn exp apply --force`",
    )
    assert exp_repo.snapshot() == before

    exp_repo.exp("apply", "--force", "other")
    assert exp_repo.params()["train"] == {"lr": 0.3, "depth": 2}
    assert exp_repo.read("model/weights.txt") == "lr=0.3 depth=2 rows=3\n"
    assert exp_repo.read("notes.txt") == "mine\n"


def test_apply_is_not_blocked_by_untracked_files_it_does_not_change(exp_repo):
    """The issue's regression: an unrelated untracked file made apply refuse, saying it would
    overwrite it. Untracked files elsewhere, and one at a path the experiment writes that
    already holds the experiment's content, are no conflict."""
    queued(exp_repo, "q", "train.lr=0.3", "+conf/extra.yaml:opt.beta=0.5")
    exp_repo.write("notes.txt", "my notes\n")
    exp_repo.write("scratch/draft.py", "print('draft')\n")
    extra = exp_repo.show_file("q", "conf/extra.yaml")  # a file HEAD does not have
    (exp_repo.root / "conf").mkdir()
    (exp_repo.root / "conf" / "extra.yaml").write_text(extra)
    exp_repo.exp("apply", "q")
    assert exp_repo.params()["train"] == {"lr": 0.3, "depth": 2}
    assert exp_repo.read("model/weights.txt") == "lr=0.3 depth=2 rows=3\n"
    assert exp_repo.read("notes.txt") == "my notes\n"
    assert exp_repo.read("scratch/draft.py") == "print('draft')\n"
    assert exp_repo.read("conf/extra.yaml") == extra


def test_apply_refuses_an_untracked_file_in_its_way_only_when_it_differs(exp_repo, assert_error):
    queued(exp_repo, "q", "+conf/extra.yaml:opt.beta=0.5")
    hint = "commit or stash them (move an untracked file away) first, or use `cairn exp apply --force`"
    exp_repo.write("notes.txt", "my notes\n")
    exp_repo.write("conf/extra.yaml", "opt:\n  beta: 0.9\n")  # untracked, other content
    before = exp_repo.snapshot()
    assert_error(
        exp_repo.exp("apply", "q", expect=None),
        WouldLoseDataError,
        "applying 'q' would overwrite uncommitted changes in 1 file(s): conf/extra.yaml",
        hint,
    )
    assert exp_repo.snapshot() == before

    # a file where the experiment needs a folder
    (exp_repo.root / "conf" / "extra.yaml").unlink()
    (exp_repo.root / "conf").rmdir()
    exp_repo.write("conf", "not a folder\n")
    assert_error(
        exp_repo.exp("apply", "q", expect=None),
        WouldLoseDataError,
        "applying 'q' would overwrite uncommitted changes in 1 file(s): conf",
        hint,
    )
    # a folder where the experiment writes a file is never deleted, not even with --force
    (exp_repo.root / "conf").unlink()
    exp_repo.write("conf/extra.yaml/kept.txt", "kept\n")
    assert_error(
        exp_repo.exp("apply", "--force", "q", expect=None),
        WouldLoseDataError,
        "applying 'q' would replace folder(s) with a file: conf/extra.yaml",
        "move the folder(s) away first; --force does not delete folders",
    )
    assert exp_repo.read("conf/extra.yaml/kept.txt") == "kept\n"

    (exp_repo.root / "conf" / "extra.yaml" / "kept.txt").unlink()
    (exp_repo.root / "conf" / "extra.yaml").rmdir()
    exp_repo.write("conf/extra.yaml", "opt:\n  beta: 0.9\n")
    exp_repo.exp("apply", "--force", "q")
    assert exp_repo.read("conf/extra.yaml") == exp_repo.show_file("q", "conf/extra.yaml")
    assert exp_repo.read("notes.txt") == "my notes\n"


def test_apply_refuses_a_modified_tracked_file_the_experiment_restores(exp_repo, assert_error):
    """Apply restores every git-tracked file to the experiment's version, code included (train.py
    here is as HEAD has it in the experiment): an uncommitted edit of one blocks it too."""
    queued(exp_repo, "other", "train.lr=0.3")
    exp_repo.write("train.py", exp_repo.read("train.py") + "# my edit\n")
    assert_error(
        exp_repo.exp("apply", "other", expect=None),
        WouldLoseDataError,
        "applying 'other' would overwrite uncommitted changes in 1 file(s): train.py",
    )
    assert exp_repo.read("train.py").endswith("# my edit\n")


def test_apply_force_restores_files_the_experiment_shares_with_head(exp_repo):
    """An experiment with the baseline's params, applied over a later run's results, must bring
    the baseline's params back too, not leave the later ones next to its outputs."""
    exp_repo.exp("run", "-n", "base")  # no overrides: params.yaml as in HEAD
    exp_repo.exp("run", "-n", "later", "-S", "train.lr=0.5", "-S", "train.depth=9")
    exp_repo.exp("apply", "--force", "base")
    assert exp_repo.params()["train"] == {"lr": 0.1, "depth": 2}
    assert exp_repo.read("model/weights.txt") == "lr=0.1 depth=2 rows=3\n"
    assert exp_repo.json("status")["stages"] == {}


def test_apply_of_an_unknown_name(exp_repo, assert_error):
    queued(exp_repo, "known")
    assert_error(
        exp_repo.exp("apply", "knwon", expect=None),
        UserInputError,
        "there is no experiment named 'knwon'",
        "did you mean 'known'?",
    )


def test_branch_makes_an_experiment_a_git_branch(exp_repo, assert_error):
    queued(exp_repo, "keep", "train.lr=0.2")
    head = exp_repo.git("rev-parse", "HEAD").strip()
    proc = exp_repo.exp("branch", "keep", "exp/keep")
    assert proc.stdout.startswith("Created branch 'exp/keep' from experiment 'keep'.")
    assert exp_repo.git("rev-parse", "exp/keep").strip() == exp_repo.listed()["keep"]["commit"]
    assert exp_repo.git("rev-parse", "exp/keep^").strip() == head
    assert yaml.safe_load(exp_repo.git("show", "exp/keep:params.yaml"))["train"]["lr"] == 0.2
    assert exp_repo.git("rev-parse", "--abbrev-ref", "HEAD").strip() == "main"  # not checked out

    # on the branch, repro has nothing to run: the outputs come back from the run-cache
    exp_repo.git("checkout", "-q", "exp/keep")
    proc = exp_repo.cairn("repro")
    assert "Running stage" not in proc.stderr
    assert exp_repo.read("model/weights.txt") == "lr=0.2 depth=2 rows=3\n"

    assert_error(
        exp_repo.exp("branch", "keep", "main", expect=None),
        UserInputError,
        "branch 'main' already exists",
        "choose another name, or delete the branch first",
    )
    assert_error(
        exp_repo.exp("branch", "keep", "bad..name", expect=None),
        UserInputError,
        "'bad..name' is not a valid branch name",
        "git check-ref-format",
    )


def test_remove_by_name_all_and_older_than(exp_repo, assert_error):
    exp_repo.exp("run", "--queue", "-n", "r", "-S", "train.lr=0.2,0.3,0.4")
    exp_repo.exp("run", "--run-all", "-j", "3")
    assert exp_repo.exp("remove", "r-1").stdout == "Removed 1 experiment(s): r-1\n"
    assert sorted(exp_repo.listed()) == ["r-2", "r-3"]
    assert len(exp_repo.git("for-each-ref", "refs/cairn/").splitlines()) == 2

    assert exp_repo.exp("remove", "--older-than", "2000-01-01").stdout == "Removed 0 experiment(s).\n"
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    proc = exp_repo.exp("remove", "--older-than", tomorrow)
    assert proc.stdout.startswith("Removed 2 experiment(s): ")
    assert exp_repo.listed() == {}

    queued(exp_repo, "x")
    assert exp_repo.exp("remove", "--all").stdout == "Removed 1 experiment(s): x\n"
    assert exp_repo.git("for-each-ref", "refs/cairn/") == ""

    assert_error(exp_repo.exp("remove", expect=None), UserInputError, "name the experiments to remove", "--all")
    assert_error(
        exp_repo.exp("remove", "--older-than", "last week", expect=None),
        UserInputError,
        "cannot read the date 'last week'",
        "YYYY-MM-DD",
    )
    assert_error(exp_repo.exp("remove", "ghost", expect=None), UserInputError, "there is no experiment named 'ghost'")


def test_remove_an_experiment_that_was_never_queued(exp_repo):
    exp_repo.exp("run", "-n", "ws")  # in the workspace: the queue never had it
    assert exp_repo.exp("remove", "ws").stdout == "Removed 1 experiment(s): ws\n"
    assert exp_repo.listed() == {}


def test_a_damaged_queue_refuses_remove_before_any_ref_goes(exp_repo, assert_error):
    exp_repo.exp("run", "-n", "keep")
    db = exp_repo.root / ".cairn/state/queue.db"
    for f in db.parent.glob("queue.db*"):
        f.unlink()
    db.write_text("not a database")
    for args in (("exp", "remove", "keep"), ("queue", "status"), ("exp", "run", "--queue", "-n", "q")):
        proc = exp_repo.cairn(*args, expect=None)
        assert_error(proc, RepoStateError, f"the experiment queue {db} is damaged", f"delete it (rm {db}*)")
    assert list(exp_repo.listed()) == ["keep"]
    db.unlink()
    exp_repo.exp("remove", "keep")


def test_a_removed_experiment_frees_its_name(exp_repo):
    queued(exp_repo, "again", "train.lr=0.2")
    exp_repo.exp("remove", "again")
    queued(exp_repo, "again", "train.lr=0.3")
    assert exp_repo.by_name()["again"]["params.train.lr"] == 0.3
    exp_repo.exp("remove", "again")
    exp_repo.exp("run", "-n", "again")


def test_apply_a_failed_experiment(exp_repo):
    """A failed run has no outputs of its own: apply brings its params, and the lock it had."""
    queued(exp_repo, "broken", "train.lr=-1", expect=1)
    exp_repo.exp("apply", "broken")
    assert exp_repo.params()["train"]["lr"] == -1
    assert json.loads(exp_repo.read("track/metrics.json"))["acc"] == 0.92  # the baseline's, untouched


def test_checkout_of_an_experiment_branch_restores_its_outputs(exp_repo):
    queued(exp_repo, "keep", "train.lr=0.2")
    exp_repo.exp("branch", "keep", "exp/keep")
    exp_repo.git("checkout", "-q", "exp/keep")
    exp_repo.cairn("checkout")
    assert exp_repo.read("model/weights.txt") == "lr=0.2 depth=2 rows=3\n"
