"""Experiments: pipeline runs with parameter overrides, recorded as commits on hidden refs."""
