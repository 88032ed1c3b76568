"""Pipelines: cairn.yaml stages, cairn.lock, staleness, the run-cache and the runner."""
