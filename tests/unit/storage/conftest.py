"""The moto S3 server for the storage unit tests (shared with the other suites)."""

from s3server import bucket, moto_endpoint  # noqa: F401 - fixtures
