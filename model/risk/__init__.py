"""Portfolio risk, the pure parts: price history (bars, loading and checking history files,
the demo history), the measures (numpy, on arrays) and the post-order limit checks.

Floats live here and only here: positions and cash stay fixed-point ints everywhere else,
and are turned into floats inside the measures (``docs/risk.md``)."""
