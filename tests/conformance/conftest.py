"""The moto S3 server for the conformance suite (shared with tests/functional/remotes)."""

from s3server import bucket, moto_endpoint  # noqa: F401 - fixtures
