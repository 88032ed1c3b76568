"""Running the dashboard app on uvicorn: the socket is bound here first, so a port in use is a
clear error before anything starts, and port 0's free port is known to report."""

from __future__ import annotations

import socket
from collections.abc import Callable

from cairn.errors import PortInUseError


def bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    # no SO_REUSEADDR: a port another server holds must be refused, not shared
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as e:
        sock.close()
        raise PortInUseError(
            f"cannot listen on {host}:{port}: {e.strerror}", "choose another --port, or --port 0 for any free one"
        ) from None
    return sock


def serve(app, sock: socket.socket, on_ready: Callable[[], None] | None = None) -> None:
    """Serve until interrupted; `on_ready()` once requests are answered."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets=None) -> None:
            await super().startup(sockets)
            if on_ready is not None and not self.should_exit:
                on_ready()

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    Server(config).run(sockets=[sock])
