"""The git adapter: the one place that talks to git (through pygit2)."""
