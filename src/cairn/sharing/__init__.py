"""Data shared between repositories: ls, get, import, import-url, update."""
