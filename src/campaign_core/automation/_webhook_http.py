"""A :class:`~campaign_core.ports.WebhookSender` on the standard library, safe to point at the internet.

:class:`HttpWebhookSender` makes each call with ``http.client``: it resolves the
host, refuses a host any of whose addresses is local or private (unless
``allow_private``), and connects to the address it checked (with the URL's host
name for ``Host`` and for TLS, certificates verified), so a name whose DNS answer
changes between the check and the connection (DNS rebinding) cannot reach an
internal address. It never follows redirects and reads at most
``max_response_bytes`` of the answer.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Callable, Sequence
from typing import Any, Final
from urllib.parse import urlsplit

from campaign_core.automation._settings import ActionFailed
from campaign_core.automation._webhooks import WebhookRequest, WebhookResponse, _private

__all__ = ["HttpWebhookSender"]

_Resolver = Callable[[str, int], Sequence[str]]
_DEFAULT_READ: Final = 65_536


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(
        self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


class HttpWebhookSender:
    """Calls webhooks with ``http.client`` (``CampaignCore(webhooks=HttpWebhookSender())``).

    Args:
        allow_private: connect to local and private addresses (development; keep
            ``WebhookSettings.allow_private`` in step).
        ssl_context: the TLS settings (default: the system's, certificates verified).
        resolve: ``resolve(host, port) -> addresses`` (default: the system's resolver).
        max_response_bytes: how much of an answer's body is read before closing.
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        resolve: _Resolver | None = None,
        max_response_bytes: int = _DEFAULT_READ,
    ) -> None:
        self.allow_private = allow_private
        self._context = ssl_context
        self._resolve = resolve or _resolve
        self._max_read = max_response_bytes

    def send(self, request: WebhookRequest) -> WebhookResponse:
        """Make the request once; see :class:`~campaign_core.ports.WebhookSender`.

        Raises:
            ActionFailed: (not retried) the host resolves to a local or private address.
            OSError: the name did not resolve, the connection failed or timed out
                (the engine retries).
        """
        parts = urlsplit(request.url)
        https = parts.scheme == "https"
        host = parts.hostname or ""
        port = parts.port or (443 if https else 80)
        addresses = list(self._resolve(host, port))
        if not addresses:
            raise OSError(f"{host} has no address")
        if not self.allow_private:
            refused = [a for a in addresses if _private(a)]
            if refused:
                raise ActionFailed(
                    f"webhook host {host} resolves to a local or private address ({refused[0]})",
                    retryable=False,
                )
        connection: Any
        if https:
            context = self._context or ssl.create_default_context()
            connection = _PinnedHTTPS(host, port, addresses[0], request.timeout, context)
        else:
            connection = _PinnedHTTP(host, port, addresses[0], request.timeout)
        target = parts.path or "/"
        if parts.query:
            target = f"{target}?{parts.query}"
        try:
            connection.request(
                request.method, target, body=request.body, headers=dict(request.headers)
            )
            response = connection.getresponse()
            response.read(self._max_read)
            return WebhookResponse(int(response.status))
        finally:
            connection.close()
