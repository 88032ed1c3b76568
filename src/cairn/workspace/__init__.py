"""Workspace operations over the index and the object store: add, status, checkout, diff, gc."""
