"""TLS and the vault through a running server: a gateway serving wss:// with a certificate
made here (``cryptography``), a real TLS login and an order filled; a plaintext or
unverified client refused; the admin shell's vault commands over wss://, the vault file
holding no value."""

from __future__ import annotations

import asyncio
import ssl
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
import pytest_asyncio
from websockets.asyncio.client import connect as websocket_connect

from keystore.masterkey import write_new_key
from keystore.vault import open_vault
from server.app import BrokerServer
from server.client import shell as admin
from server.client.sdk import BrokerClient
from tests.conftest import make_setup
from tests.integration.helpers import cloid, final_report
from tests.tlstools import make_certificate


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The certificate, master key and vault of the module's server: under pytest's own
    temporary root (pruned by pytest), never a folder of /tmp left behind with a key in it."""
    return tmp_path_factory.mktemp("tls")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def tls_server(ray_cluster: None, folder: Path) -> AsyncIterator[BrokerServer]:
    cert_file, key_file = make_certificate(folder)
    write_new_key(folder / "master.key")
    setup = make_setup(f"t-{uuid.uuid4().hex[:8]}", quote_interval_ms=25)
    config = setup.config
    config = msgspec.structs.replace(
        config,
        gateway=msgspec.structs.replace(config.gateway, tls_cert_file=str(cert_file), tls_key_file=str(key_file)),
        secrets=msgspec.structs.replace(config.secrets, master_key_file=str(folder / "master.key"), vault_file=str(folder / "vault.json")),
    )
    broker = BrokerServer(msgspec.structs.replace(setup, config=config), "127.0.0.1", 0)
    await broker.start()
    yield broker
    await broker.stop()


async def test_a_tls_login_and_an_order(tls_server: BrokerServer, folder: Path) -> None:
    assert tls_server.url.startswith("wss://127.0.0.1:")
    async with BrokerClient(tls_server.url, "tester", "tester-secret", ca_file=str(folder / "server.pem")) as client:
        order_id = cloid("tls")
        ack = await client.new_order("T01", order_id, "IBM", "buy", type="market", qty="1.5")
        assert ack["type"] == "execution" and ack["status"] == "new", ack
        report = await final_report(client, order_id)
        assert report["status"] == "filled", report


async def test_no_plaintext_and_no_unverified_server(tls_server: BrokerServer) -> None:
    plain = tls_server.url.replace("wss://", "ws://")
    with pytest.raises((OSError, Exception)):
        async with BrokerClient(plain, "tester", "tester-secret", open_timeout=5):
            pass
    with pytest.raises(ssl.SSLCertVerificationError):  # the system's roots do not know the test certificate
        async with websocket_connect(tls_server.url, ssl=ssl.create_default_context(), open_timeout=5):
            pass


async def test_the_vault_through_the_server_over_wss(tls_server: BrokerServer, folder: Path) -> None:
    value_file = folder / "value"
    value_file.write_text("venue-password-1\n")
    base = ["--url", tls_server.url, "--ca-file", str(folder / "server.pem"), "--json", "--value-file", str(value_file)]

    def run(*words: str) -> int:
        return admin.main([*base, *words])

    assert await asyncio.to_thread(run, "vault", "add", "MM1") == admin.OK
    value_file.write_text("venue-password-2\n")
    assert await asyncio.to_thread(run, "vault", "rotate", "MM1") == admin.OK
    assert await asyncio.to_thread(run, "vault", "add", "MM1") == admin.FAILED  # exists: rotate it
    assert await asyncio.to_thread(run, "vault", "list") == admin.OK
    raw = (folder / "vault.json").read_bytes()
    assert b"venue-password" not in raw
    vault = open_vault(tls_server.setup.config.secrets)
    assert vault.get_text("MM1") == "venue-password-2"
    assert await asyncio.to_thread(run, "vault", "remove", "MM1") == admin.OK
    assert vault.list() == []
