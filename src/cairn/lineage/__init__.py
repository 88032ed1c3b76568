"""Provenance: which stage, data, params, code and commit produced an output (upstream), and
what consumed a given version (downstream), read from git, the locks and the pointers alone."""
