"""Fixtures shared by the suites below: the experiments project (expfixtures.py), which the
experiments suite and the cluster suite (its runs on Ray nodes) both drive."""

from expfixtures import _exp_template, exp_repo, markers  # noqa: F401 (fixtures)
