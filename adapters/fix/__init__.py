"""FIX 4.4 connectivity (quickfix): the venue adapter for market makers and brokers, the
drop copy to clearing, and a market-maker simulator to test against."""
