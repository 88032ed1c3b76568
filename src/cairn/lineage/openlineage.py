"""Lineage as OpenLineage run events (spec 2-0-2), so catalogs that read OpenLineage (Marquez,
DataHub, OpenMetadata, ...) can show cairn's pipelines next to the rest of a data platform.

One COMPLETE event per stage run: the job is the stage, its inputs and outputs are datasets in
the repository's `cairn://` namespace named by path, versioned by object id (the standard
`version` dataset facet). The code revision goes into the standard `sourceCodeLocation` job
facet; params and the environment record, which OpenLineage has no facet for, into
`cairn_parameters` and `cairn_environment` run facets (documented in docs/lineage.md).

Run ids are UUIDv5 of (commit, stage): exporting the same history twice gives the same events,
so a catalog that receives them again updates instead of duplicating."""

from __future__ import annotations

import uuid
from typing import Any

from cairn import __version__

SPEC = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
_FACETS = "https://openlineage.io/spec/facets/"
VERSION_FACET = _FACETS + "1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet"
SOURCE_FACET = _FACETS + "1-1-0/SourceCodeLocationJobFacet.json#/$defs/SourceCodeLocationJobFacet"
JOB_TYPE_FACET = _FACETS + "2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"
CAIRN_FACET = "urn:cairn:openlineage:facets:1#/$defs/"  # cairn's own facets, described in docs/lineage.md
PRODUCER = f"urn:cairn:{__version__}"
_RUN_IDS = uuid.UUID("6b1d0f3e-3c55-5b0e-9a3c-2f0c8d7e4a11")  # the UUIDv5 namespace of cairn's run ids


def upstream_events(doc: dict[str, Any], namespace: str, source_url: str) -> list[dict[str, Any]]:
    """One event per stage of an upstream lineage document (cairn.lineage.upstream)."""
    nodes = {n["path"]: n for n in doc["nodes"]}
    events = []
    for stage in doc["stages"]:
        ran = stage["ran"]
        inputs = [_dataset(namespace, p, nodes.get(p, {}).get("oid")) for p in stage["deps"]]
        outputs = [_dataset(namespace, p, nodes.get(p, {}).get("oid")) for p in stage["outs"]]
        when = ran.get("created") or ran["date"]
        events.append(
            _event(
                namespace,
                source_url,
                stage["name"],
                ran["commit"],
                when,
                inputs,
                outputs,
                stage["params"],
                stage.get("env"),
            )
        )
    return events


def downstream_events(doc: dict[str, Any], namespace: str, source_url: str) -> list[dict[str, Any]]:
    """One event per consuming stage of each commit of a downstream document: the version
    asked about (or the output that carried it) in, the stage's outputs out."""
    events = []
    for consumer in doc["consumers"]:
        for use in consumer["stages"]:
            oid = doc["oid"] if use["via"] is None else None
            inputs = [_dataset(namespace, use["dep"], oid)]
            outputs = [_dataset(namespace, o["path"], o["oid"]) for o in use["outs"]]
            events.append(
                _event(namespace, source_url, use["stage"], consumer["commit"], consumer["date"], inputs, outputs)
            )
    return events


def run_id(commit: str, stage: str) -> str:
    return str(uuid.uuid5(_RUN_IDS, f"{commit}:{stage}"))


def _event(
    namespace: str,
    source_url: str,
    stage: str,
    commit: str,
    when: str,
    inputs: list[dict[str, Any]],
    outputs: list[dict[str, Any]],
    params: dict[str, Any] | None = None,
    env: str | None = None,
) -> dict[str, Any]:
    run_facets: dict[str, Any] = {}
    if params:
        run_facets["cairn_parameters"] = {**_base(CAIRN_FACET + "ParametersRunFacet"), "parameters": params}
    if env:
        run_facets["cairn_environment"] = {**_base(CAIRN_FACET + "EnvironmentRunFacet"), "environment": env}
    job_facets = {
        "sourceCodeLocation": {**_base(SOURCE_FACET), "type": "git", "url": source_url, "version": commit},
        "jobType": {**_base(JOB_TYPE_FACET), "processingType": "BATCH", "integration": "CAIRN", "jobType": "STAGE"},
    }
    run: dict[str, Any] = {"runId": run_id(commit, stage)}
    if run_facets:
        run["facets"] = run_facets
    return {
        "eventType": "COMPLETE",
        "eventTime": when,
        "producer": PRODUCER,
        "schemaURL": SPEC,
        "run": run,
        "job": {"namespace": namespace, "name": stage, "facets": job_facets},
        "inputs": inputs,
        "outputs": outputs,
    }


def _dataset(namespace: str, path: str, oid: str | None) -> dict[str, Any]:
    dataset: dict[str, Any] = {"namespace": namespace, "name": path}
    if oid:
        dataset["facets"] = {"version": {**_base(VERSION_FACET), "datasetVersion": oid}}
    return dataset


def _base(schema: str) -> dict[str, str]:
    return {"_producer": PRODUCER, "_schemaURL": schema}
