"""TLS for the WebSocket gateway (``wss://``) with the ``ssl`` module (the client side's
context: ``server.client.sdk.client_context``).

Guarantees: a gateway with ``[gateway] tls_cert_file`` and ``tls_key_file`` serves TLS only
(no plaintext fallback on that port), at ``tls_min_version`` or above; a certificate or key
that cannot be loaded is a ``ConfigError`` naming the file, before anything listens.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from model.config import GatewaySection
from model.errors import ConfigError

_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def server_context(gateway: GatewaySection) -> ssl.SSLContext | None:
    """The gateway's TLS context, or ``None`` when TLS is not configured."""
    if not gateway.tls:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _VERSIONS[gateway.tls_min_version]
    for path in (gateway.tls_cert_file, gateway.tls_key_file):
        if not Path(path).is_file():  # ssl's own error does not name the file
            raise ConfigError(f"gateway TLS: {path} does not exist")
    try:
        context.load_cert_chain(gateway.tls_cert_file, gateway.tls_key_file)
    except (ssl.SSLError, OSError) as error:
        reason = getattr(error, "reason", None) or getattr(error, "strerror", None) or str(error)
        raise ConfigError(
            f"gateway TLS: cannot load the certificate {gateway.tls_cert_file} with the key {gateway.tls_key_file}: {reason}"
        ) from None
    return context


def scheme(gateway: GatewaySection) -> str:
    return "wss" if gateway.tls else "ws"
