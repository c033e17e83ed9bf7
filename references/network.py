"""Whether a server answers: the hub and W&B go to their offline paths when theirs does not."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit


def answers(url: str, timeout: float = 3) -> bool:
    """Whether the host of an http(s) `url` accepts a connection on its port."""
    server = urlsplit(url)
    if server.hostname is None:  # not a URL; a missing host would be taken for this machine
        return False
    try:
        socket.create_connection((server.hostname, server.port or (80 if server.scheme == "http" else 443)),
                                 timeout=timeout).close()
        return True
    except (OSError, ValueError):  # ValueError: a port that is not a number
        return False
