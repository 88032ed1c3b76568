"""Tracked-file state: pointer files, the stat cache, ignore rules and workspace snapshots."""
