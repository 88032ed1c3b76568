"""Checks on metrics (rules in cairn.yaml `checks:`) and the reports CI posts."""
