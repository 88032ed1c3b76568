"""An SFTP server for tests (run by tests/emulators.py as its own process): asyncssh on 127.0.0.1,
public-key login only, every session confined to one folder (its "/"), so a test can look at
what a remote holds in that folder from outside.

Usage: python sftpserver.py PORT ROOT HOST_KEY AUTHORIZED_KEYS"""

from __future__ import annotations

import asyncio
import sys

import asyncssh


async def serve(port: int, root: str, host_key: str, authorized: str) -> None:
    await asyncssh.listen(
        "127.0.0.1",
        port,
        server_host_keys=[host_key],
        authorized_client_keys=authorized,
        sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=root.encode()),
        allow_scp=False,
    )
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    port, root, host_key, authorized = sys.argv[1:5]
    asyncio.run(serve(int(port), root, host_key, authorized))
