"""The storage servers for the conformance suite (shared with tests/functional/remotes): moto
for S3 (s3server.py), Azurite, fake-gcs-server and an SFTP server (emulators.py)."""

from emulators import azurite, fake_gcs, sftp_server  # noqa: F401 - fixtures
from s3server import bucket, moto_endpoint  # noqa: F401 - fixtures
