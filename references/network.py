"""Whether a server answers: the hub and W&B go to their offline paths when theirs does not."""

from __future__ import annotations

import socket
import urllib.request
from urllib.parse import urlsplit


def answers(url: str, timeout: float = 3) -> bool:
    """Whether the host of an http(s) `url` accepts a connection on its port, or, where the environment names a
    proxy for it (https_proxy, all_proxy, no_proxy: the hub's and W&B's clients go through it), the proxy does."""
    server = urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = server.hostname and not urllib.request.proxy_bypass(server.hostname) and \
        (proxies.get(server.scheme) or proxies.get("all"))
    if proxy:
        server = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if server.hostname is None:  # not a URL; a missing host would be taken for this machine
        return False
    try:
        socket.create_connection((server.hostname, server.port or (80 if server.scheme == "http" else 443)),
                                 timeout=timeout).close()
        return True
    except (OSError, ValueError):  # ValueError: a port that is not a number
        return False
