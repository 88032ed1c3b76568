"""Moving a DVC project to cairn: dvc.yaml, .dvc files, dvc.lock, DVC caches and remotes."""
