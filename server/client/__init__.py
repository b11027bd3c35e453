"""The Python SDK (``sdk.py``), the trader command line (``cli.py``) and the admin shell (``shell.py``)."""

from server.client.sdk import BrokerClient, LoginError

__all__ = ["BrokerClient", "LoginError"]
