"""The simulated market maker: the default venue, a real in-process venue adapter."""
