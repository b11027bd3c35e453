"""The configuration: typed, frozen, every default documented, a bad value refused when read
(with the section and key named), decimals parsed to fixed point once."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import msgspec
import pytest
import structlog

from model import fixed, permissions
from model.config import (
    AdminSection,
    BatchingSection,
    Config,
    ConfigError,
    DropCopySection,
    GatewaySection,
    JournalSection,
    OpenSection,
    QueriesSection,
    RiskSection,
    ServerSection,
    VenueSection,
    load_config,
    load_setup,
)

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    """A copy of the shipped conf/ that a test may change."""
    shutil.copytree(ROOT / "conf", tmp_path / "conf")
    return tmp_path / "conf"


def write(conf: Path, text: str) -> Path:
    path = conf / "server.toml"
    path.write_text(text)
    return path


def test_the_shipped_configuration_loads(conf: Path) -> None:
    setup = load_setup(conf / "server.toml")
    assert [seed.account for seed in setup.accounts][:3] == ["A1", "A2", "B1"]
    assert {instrument.symbol for instrument in setup.instruments} >= {"IBM", "AAPL"}


def test_the_demo_has_one_tenant_and_its_admin_is_the_platform_operator(conf: Path) -> None:
    setup = load_setup(conf / "server.toml")
    assert {seed.tenant for seed in setup.accounts} == {user.tenant for user in setup.users} == {"default"}
    assert {user.key: user.role for user in setup.users}["admin"] == "platform_operator"


@pytest.mark.parametrize(
    ("users", "words"),
    [
        ('[[users]]\nkey = "x"\nsecret = "s"\nrole = "root"\n', "user x: unknown role 'root'; roles: trader, advisor, viewer"),
        ('[[users]]\nkey = "x"\nsecret = "s"\ntenant = "../up"\n', "user x: tenant must be 1 to 64 letters"),
        ('[[users]]\nkey = "x"\nsecret = "s"\ntenant = "firm-b"\naccounts = ["A1"]\n', "user x (tenant firm-b): accounts of another tenant: A1"),
    ],
)
def test_a_users_file_with_a_bad_role_tenant_or_another_tenant_s_account_is_refused(conf: Path, users: str, words: str) -> None:
    (conf / "users.toml").write_text(users)
    with pytest.raises(ConfigError, match=re.escape(words)):
        load_setup(conf / "server.toml")


def test_an_older_admin_role_is_read_as_the_platform_operator_and_logged(conf: Path) -> None:
    (conf / "users.toml").write_text('[[users]]\nkey = "ops"\nsecret = "s"\nrole = "admin"\n')
    with structlog.testing.capture_logs() as logs:
        setup = load_setup(conf / "server.toml")
    assert setup.users[0].role == "admin" and permissions.role(setup.users[0].role).name == "platform_operator"
    assert [(log["event"], log["write"]) for log in logs] == [("role renamed", 'role = "platform_operator"')]


def test_an_empty_file_is_the_defaults_and_binds_to_loopback(conf: Path) -> None:
    config = load_config(write(conf, ""))
    assert config == Config()
    assert config.server.host == config.batching.link_host == "127.0.0.1"
    assert [venue.name for venue in config.venues] == ["SIM"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[server]\nport = 1\n", "port"),  # a key the section does not have
        ("[gateway]\nmax_orders_per_frame = -1\n", "gateway.max_orders_per_frame must be > 0, not -1"),
        ("[journal]\ndurability = \"maybe\"\n", "journal.durability must be fsync, buffered or none"),
        ("[batching]\nlink_handshake_timeout_ms = 0\n", "batching.link_handshake_timeout_ms must be at least 1"),
        ("[queries]\norders_page_size = 2000\n", "orders_page_size <= max_orders_page"),
        ("[open]\nlate_orders = \"later\"\n", "open.late_orders must be reject or next"),
        ("[open]\nat = \"24:00\"\n", "open.at must be HH:MM"),
        ("[open]\nat = \"9.30\"\n", "open.at must be HH:MM"),
        ("[open]\ntimezone = \"Mars/Olympus\"\n", "is not a known time zone"),
        ("[topology]\naccount_shards = \"two\"\n", "Expected `int`"),
        ("[server\n", "server.toml"),  # not TOML
        ("[server]\ncrash_at = \"apply.before_send:1\"\n", "set from the environment (BROKERD_CRASH_AT), never from a file"),
    ],
)
def test_a_bad_value_is_a_config_error_naming_the_file_and_the_key(conf: Path, text: str, words: str) -> None:
    path = write(conf, text)
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert words in str(refused.value) and str(path) in str(refused.value)


def test_risk_decimals_become_fixed_point_and_percentages_fractions() -> None:
    risk = RiskSection(max_order_qty="250.5", max_order_notional="1000.00", price_band_pct="12.5", market_collar_pct="5")
    assert risk.max_order_qty_fixed == fixed.parse("250.5")
    assert risk.max_order_notional_fixed == 1000 * fixed.SCALE
    assert risk.price_band_fraction == fixed.parse("0.125")
    assert risk.market_collar_fraction == fixed.parse("0.05")


def test_every_gateway_limit_must_be_positive() -> None:
    for name in GatewaySection.__struct_fields__:
        with pytest.raises(ValueError, match=f"gateway.{name} must be > 0"):
            GatewaySection(**{name: 0})


def test_the_sections_are_frozen() -> None:
    with pytest.raises(AttributeError):
        ServerSection().host = "0.0.0.0"  # type: ignore[misc]


def test_queries_allow_the_page_size_equal_to_the_maximum_page() -> None:
    assert QueriesSection(orders_page_size=10, max_orders_page=10).orders_page_size == 10
    with pytest.raises(ValueError):
        QueriesSection(orders_page_size=0)


def test_a_venue_trades_its_symbols_or_every_symbol_with_a_star() -> None:
    assert VenueSection(name="SIM").trades("ANY")
    some = VenueSection(name="MM1", symbols=["IBM"])
    assert some.trades("IBM") and not some.trades("AAPL")


def test_the_drop_copy_listens_on_its_own_host_or_the_servers() -> None:
    server = ServerSection(host="10.1.2.3")
    assert DropCopySection().listen_host(server) == "10.1.2.3"
    assert DropCopySection(host="127.0.0.1").listen_host(server) == "127.0.0.1"


def test_admin_file_folders_default_under_the_data_dir_and_are_relative_to_it() -> None:
    assert AdminSection().import_root("/data") == Path("/data/imports")
    assert AdminSection().export_root("/data") == Path("/data/exports")
    assert AdminSection(import_dir="in", export_dir="/abs/out").import_root("/data") == Path("/data/in")
    assert AdminSection(export_dir="/abs/out").export_root("/data") == Path("/abs/out")


def test_open_accepts_an_empty_time_and_a_real_zone() -> None:
    assert OpenSection(at="", timezone="Asia/Tokyo").at == ""
    assert OpenSection(at="09:30").late_orders == "reject"


def test_journal_and_batching_accept_their_documented_choices() -> None:
    assert {JournalSection(durability=choice).durability for choice in ("fsync", "buffered", "none")} == {"fsync", "buffered", "none"}
    assert BatchingSection(link_handshake_timeout_ms=1).link_handshake_timeout_ms == 1


def test_a_fix_venue_s_session_file_is_resolved_beside_server_toml(conf: Path) -> None:
    setup = load_setup(conf / "server-fix.toml")
    (venue,) = setup.config.venues
    assert venue.kind == "fix" and Path(venue.session_config) == (conf / "fix" / "venue-MM1.cfg").resolve()
    assert Path(setup.config.drop_copy.session_config) == (conf / "fix" / "dropcopy.cfg").resolve()


@pytest.mark.parametrize(
    ("venue", "words"),
    [
        ('name = "MM1"\nkind = "fix"\n', "venue MM1: kind fix needs session_config"),
        ('name = "MM1"\nkind = "fix"\nsession_config = "fix/nowhere.cfg"\n', "venue MM1: session_config"),
        ('name = "X"\nkind = "carrier-pigeon"\n', "venue X: unknown kind 'carrier-pigeon'"),
    ],
)
def test_a_venue_that_cannot_be_reached_is_refused_at_load(conf: Path, venue: str, words: str) -> None:
    write(conf, "[[venues]]\n" + venue)
    with pytest.raises(ConfigError, match=words):
        load_setup(conf / "server.toml")


def test_an_enabled_drop_copy_needs_its_session_file(conf: Path) -> None:
    write(conf, '[drop_copy]\nenabled = true\nsession_config = "fix/missing.cfg"\n')
    with pytest.raises(ConfigError, match="drop_copy: session_config .* does not exist"):
        load_setup(conf / "server.toml")


def test_a_symbol_listed_twice_is_refused(conf: Path) -> None:
    instruments = (conf / "instruments.toml").read_text()
    first = instruments[instruments.index("[[instruments]]") : instruments.index("[[instruments]]", instruments.index("[[instruments]]") + 1)]
    (conf / "instruments.toml").write_text(instruments + "\n" + first)
    with pytest.raises(ConfigError, match="duplicate instrument symbol: IBM"):
        load_setup(conf / "server.toml")


def test_a_bad_instrument_is_a_config_error_naming_the_folder(conf: Path) -> None:
    (conf / "instruments.toml").write_text('[[instruments]]\nsymbol = "BAD"\nasset_class = "equity"\ntick_size = "0"\nreference_price = "1"\n')
    with pytest.raises(ConfigError, match="BAD: tick, increment and multiplier must be positive") as refused:
        load_setup(conf / "server.toml")
    assert str(conf) in str(refused.value)


def test_the_whole_config_round_trips_through_msgspec() -> None:
    config = Config(venues=[VenueSection(name="A", symbols=["IBM"]), VenueSection(name="B")])
    assert msgspec.json.decode(msgspec.json.encode(config), type=Config) == config


# --- per-tenant risk limits ([tenants.NAME.risk]) -------------------------------------------


def with_tenant(conf: Path, tenant: str = "firm-b") -> None:
    """The shipped conf plus a tenant ``tenant`` that owns account Z1 and user zed."""
    with (conf / "accounts.csv").open("a") as accounts:
        accounts.write("Z1,zed,1000.00,false,,\n")
    text = (conf / "accounts.csv").read_text().splitlines()
    header, rows = text[0] + ",tenant", [row + ("," + tenant if row.startswith("Z1,") else ",") for row in text[1:]]
    (conf / "accounts.csv").write_text("\n".join([header, *rows]) + "\n")
    with (conf / "users.toml").open("a") as users:
        users.write(f'\n[[users]]\nkey = "zed"\nsecret = "s"\ntenant = "{tenant}"\naccounts = ["Z1"]\n')


def test_a_tenant_s_risk_overrides_the_server_s_setting_by_setting(conf: Path) -> None:
    with_tenant(conf)
    server = (conf / "server.toml").read_text()
    (conf / "server.toml").write_text(server + '\n[tenants.firm-b.risk]\nmax_order_qty = "5"\nprice_band_pct = "2.5"\n')
    config = load_setup(conf / "server.toml").config
    firm_b, default = config.risk_of("firm-b"), config.risk_of("default")
    assert default == config.risk  # a tenant not named: the server's
    assert (firm_b.max_order_qty, firm_b.price_band_pct) == ("5", "2.5")
    assert (firm_b.max_order_notional, firm_b.market_collar_pct) == (config.risk.max_order_notional, config.risk.market_collar_pct)
    assert firm_b.max_order_qty_fixed == fixed.parse("5") and firm_b.price_band_fraction == fixed.parse("0.025")


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[tenants.firm-c.risk]\nmax_order_qty = "5"\n', "[tenants.firm-c]: unknown tenant 'firm-c' (no user or account belongs to it; tenants: default, firm-b)"),
        ('[tenants.firm-b.risk]\nmax_qty = "5"\n', "[tenants.firm-b]: Object contains unknown field `max_qty` - at `$.risk`"),
        ('[tenants.firm-b.risk]\nmax_client_order_id_length = 8\n', "unknown field `max_client_order_id_length`"),  # the gateway's, not a tenant's
        ('[tenants.firm-b.risk]\nmax_order_qty = "1e3"\n', "[tenants.firm-b]: risk.max_order_qty must be a decimal string, not '1e3' - at `$.risk`"),
        ('[tenants.firm-b.risk]\nmax_order_notional = "0"\n', "risk.max_order_notional must be > 0, not '0'"),
        ('[tenants.firm-b]\nlimits = 1\n', "[tenants.firm-b]: Object contains unknown field `limits`"),
        ('[tenants."../up".risk]\nmax_order_qty = "5"\n', "[tenants.../up] must be 1 to 64 letters"),
    ],
)
def test_a_tenant_section_for_an_unknown_tenant_or_field_or_with_a_bad_value_is_refused(conf: Path, text: str, words: str) -> None:
    with_tenant(conf)
    path = conf / "server.toml"
    path.write_text(path.read_text() + "\n" + text)
    with pytest.raises(ConfigError) as refused:
        load_setup(path)
    assert words in str(refused.value) and str(path) in str(refused.value)
