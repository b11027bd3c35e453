"""The admin shell's rendering of replies (``server/client/render.py``)."""

from __future__ import annotations

from typing import Any

from server.client.render import render as render_reply


def render(result: Any) -> list[str]:
    return render_reply({"type": "admin", "ok": True, "result": result}, as_json=False).splitlines()


def test_a_nested_result_renders_as_aligned_keys_with_lists_of_records_as_tables() -> None:
    result = {
        "account": {
            "account": "A1",
            "cash": "99954.92",
            "positions": [{"symbol": "IBM", "qty": "0.3"}, {"symbol": "AAPL", "qty": "12", "avg_price": "190.00"}],
            "killed": False,
            "tags": [],
        }
    }
    assert render(result) == [
        "account:",
        "  account:   A1",
        "  cash:      99954.92",
        "  positions:",
        "    symbol  qty  avg_price",
        "    IBM     0.3  -",
        "    AAPL    12   190.00",
        "  killed:    false",
        "  tags:      (none)",
    ]


def test_a_table_leaves_out_the_columns_empty_in_every_row() -> None:
    orders = [{"order_id": "a-1", "stop_price": None, "reason": None}, {"order_id": "a-2", "stop_price": None, "reason": "halted"}]
    assert render({"orders": orders}) == ["orders:", "  order_id  reason", "  a-1       -", "  a-2       halted"]


def test_lists_of_plain_values_stay_on_one_line_and_nested_cells_are_compact() -> None:
    assert render({"killed": ["A1", "B1"], "canceled": 4}) == ["killed:   A1, B1", "canceled: 4"]
    assert render({"orders": [{"id": "o-1", "legs": {"qty": "1"}}]}) == ["orders:", "  id   legs", '  o-1  {"qty": "1"}']


def test_a_result_with_nothing_but_ok_renders_ok() -> None:
    assert render({"ok": True}) == ["ok"]
    assert render({"ok": False, "reason": "busy"}) == ["ok:     false", "reason: busy"]


def test_status_keeps_its_own_layout() -> None:
    result = {"ok": True, "ws_port": 8765, "halted": ["IBM"], "actors": [{"name": "account-0", "applied": 3, "errors": 0}]}
    assert render(result) == ["ws port 8765   halted: IBM", "  account-0                applied=3  errors=0"]
    result |= {"killed": ["A1"], "import_dir": "/d/imports", "export_dir": "/d/exports"}
    assert render(result) == [
        "ws port 8765   halted: IBM   killed: A1",
        "import dir /d/imports   export dir /d/exports",
        "  account-0                applied=3  errors=0",
    ]


def test_an_error_reply_renders_its_code_and_message() -> None:
    assert render_reply({"type": "error", "code": "forbidden", "message": "admin only"}, as_json=False) == "error (forbidden): admin only"
