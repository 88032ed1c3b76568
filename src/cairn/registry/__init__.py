"""The model registry: artifacts in cairn.yaml, versions and stages as git tags (GTO format)."""
