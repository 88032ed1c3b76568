"""Push, pull and fetch orchestration between the local object store and a remote storage."""
