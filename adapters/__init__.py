"""Venue adapters: one interface, spoken by the simulated venue and by FIX venues."""
