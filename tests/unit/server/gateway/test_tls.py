"""The gateway's TLS context (``server/gateway/tls.py``) and the client's (``sdk.client_context``)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from model.config import GatewaySection
from model.errors import ConfigError
from server.client.sdk import client_context
from server.gateway.tls import scheme, server_context
from tests.tlstools import make_certificate


def test_no_files_no_tls_and_both_files_a_server_context(tmp_path: Path) -> None:
    assert server_context(GatewaySection()) is None and scheme(GatewaySection()) == "ws"
    cert, key = make_certificate(tmp_path)
    gateway = GatewaySection(tls_cert_file=str(cert), tls_key_file=str(key), tls_min_version="1.3")
    context = server_context(gateway)
    assert context is not None and context.minimum_version is ssl.TLSVersion.TLSv1_3 and scheme(gateway) == "wss"


def test_a_bad_certificate_or_key_is_a_config_error_naming_it(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    with pytest.raises(ConfigError, match="missing.pem does not exist"):
        server_context(GatewaySection(tls_cert_file=str(tmp_path / "missing.pem"), tls_key_file=str(key)))
    key.write_text("not a key")
    with pytest.raises(ConfigError, match="cannot load the certificate"):
        server_context(GatewaySection(tls_cert_file=str(cert), tls_key_file=str(key)))
    with pytest.raises(ValueError, match="go together"):
        GatewaySection(tls_cert_file=str(cert))
    with pytest.raises(ValueError, match="1.2 or 1.3"):
        GatewaySection(tls_min_version="1.1")


def test_the_client_verifies_wss_and_a_ca_file_needs_wss(tmp_path: Path) -> None:
    cert, _ = make_certificate(tmp_path)
    assert client_context("ws://127.0.0.1:1") is None
    context = client_context("wss://127.0.0.1:1", str(cert))
    assert context is not None and context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    with pytest.raises(ValueError, match="for wss:// URLs"):
        client_context("ws://127.0.0.1:1", str(cert))
    with pytest.raises(ValueError, match="cannot use CA file"):
        client_context("wss://127.0.0.1:1", str(tmp_path / "none.pem"))
