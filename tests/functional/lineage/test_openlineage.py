"""`cairn lineage --format openlineage`: run events valid against the official OpenLineage
schemas (vendored in tests/data/openlineage with their license), one per stage run, with the
object ids as dataset versions, the params and the code revision."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

SCHEMAS = Path(__file__).parents[2] / "data" / "openlineage"


@pytest.fixture(scope="module")
def validate():
    resources = []
    for path in SCHEMAS.glob("*.json"):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    registry = Registry().with_resources(resources)
    core = json.loads((SCHEMAS / "OpenLineage.json").read_text())

    def check(event: dict) -> None:
        run_event = {"$ref": core["$id"] + "#/$defs/RunEvent"}
        Draft202012Validator(run_event, registry=registry, format_checker=FormatChecker()).validate(event)
        facets = [*event["job"]["facets"].values(), *event["run"].get("facets", {}).values()]
        facets += [f for d in event["inputs"] + event["outputs"] for f in d.get("facets", {}).values()]
        for facet in facets:
            url = facet["_schemaURL"]
            if url.startswith("urn:cairn:"):
                continue  # cairn's own facets: described in docs/lineage.md
            Draft202012Validator({"$ref": url}, registry=registry, format_checker=FormatChecker()).validate(facet)
        for uri in [event["producer"], event["schemaURL"], event["job"]["facets"]["sourceCodeLocation"]["url"]]:
            assert urlparse(uri).scheme, uri  # "format: uri", which jsonschema checks only with extras
        uuid.UUID(event["run"]["runId"])
        dt.datetime.fromisoformat(event["eventTime"])

    return check


def _events(history, *args: str) -> list[dict]:
    out = history.cairn("lineage", *args, "--format", "openlineage").stdout
    return [json.loads(line) for line in out.splitlines()]


def test_upstream_events_are_valid_openlineage(history, validate):
    events = _events(history, "model")
    assert [e["job"]["name"] for e in events] == ["train", "prepare"]
    for event in events:
        validate(event)
    train = events[0]
    doc = history.json("model")
    nodes = {n["path"]: n for n in doc["nodes"]}
    assert train["eventType"] == "COMPLETE"
    assert train["job"]["namespace"] == train["inputs"][0]["namespace"] == "cairn://proj"
    assert {d["name"]: d["facets"]["version"]["datasetVersion"] for d in train["inputs"]} == {
        "train.py": nodes["train.py"]["oid"],
        "data/features": nodes["data/features"]["oid"],
    }
    assert train["outputs"][0]["name"] == "model"
    assert train["outputs"][0]["facets"]["version"]["datasetVersion"] == nodes["model"]["oid"]
    assert train["run"]["facets"]["cairn_parameters"]["parameters"] == {"params.yaml": {"train.lr": 0.2}}
    assert train["job"]["facets"]["sourceCodeLocation"]["version"] == history.c2
    assert train["job"]["facets"]["sourceCodeLocation"]["type"] == "git"
    # the same history exported twice gives the same run ids (a catalog updates, not duplicates)
    assert [e["run"]["runId"] for e in _events(history, "model")] == [e["run"]["runId"] for e in events]


def test_an_experiment_and_downstream_events(history, validate):
    exp = _events(history, "model", "--exp", "fast")
    for event in exp:
        validate(event)
    train = next(e for e in exp if e["job"]["name"] == "train")
    assert train["run"]["facets"]["cairn_parameters"]["parameters"] == {"params.yaml": {"train.lr": 0.3}}
    assert train["job"]["facets"]["sourceCodeLocation"]["version"] == history.exp_commit
    down = _events(history, "--downstream", "data/raw@HEAD")
    for event in down:
        validate(event)
    assert {(e["job"]["facets"]["sourceCodeLocation"]["version"], e["job"]["name"]) for e in down} == {
        (c, s) for c in (history.c1, history.c2, history.exp_commit) for s in ("prepare", "train")
    }


def test_the_namespace_follows_the_origin_remote(history, tmp_path):
    import shutil

    root = tmp_path / "clone"
    shutil.copytree(history.root, root, symlinks=True)
    history.git("-C", str(root), "remote", "add", "origin", "git@git.example.com:team/project.git")
    out = history.cairn("lineage", "model", "--format", "openlineage", cwd=root).stdout
    event = json.loads(out.splitlines()[0])
    assert event["job"]["namespace"] == "cairn://git.example.com/team/project"
    assert event["job"]["facets"]["sourceCodeLocation"]["url"] == "ssh://git@git.example.com/team/project.git"


def test_one_format_at_a_time(history):
    proc = history.cairn("lineage", "model", "--json", "--format", "openlineage", expect=2)
    assert "choose one of --json, --mermaid, --dot, --format" in proc.stderr
