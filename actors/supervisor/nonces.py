"""The login nonces every gateway spends at one place, so that a signed login replayed on
another gateway is refused (docs/scale.md, "Several gateways").

Why the supervisor: it is the one actor every gateway already reaches and that the
topology has once; a login asks it only after the gateway has checked the signature
(``server/gateway/access.py``, ``signed``), so only the holder of a key's secret, or a
replayer of a captured login, costs it a call. Soft state: a nonce is refused by the
window on ``ts`` once it is older than that (``[gateway] login_window_ms``), so nonces need
keeping for twice the window only.
"""

from __future__ import annotations

from collections import OrderedDict


class NonceBook:
    """Guarantees: ``spend`` answers True once per ``(key, nonce)`` within ``2 × window_ms``
    of its first spending; entries older are forgotten, oldest first."""

    def __init__(self, window_ms: int) -> None:
        self.keep_ms = 2 * window_ms
        self.spent: OrderedDict[tuple[str, str], int] = OrderedDict()  # in the order spent

    def spend(self, key: str, nonce: str, now_ms: int) -> bool:
        """True: the nonce was unspent for ``key`` and is spent now; False: spent before."""
        spent = self.spent
        horizon = now_ms - self.keep_ms
        while spent:
            first = next(iter(spent.values()))
            if first >= horizon:
                break
            spent.popitem(last=False)
        entry = (key, nonce)
        if entry in spent:
            return False
        spent[entry] = now_ms
        return True
