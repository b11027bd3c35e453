"""Secrets at rest: the master key (``masterkey.py``), sealed boxes (``sealed.py``, AES-GCM),
the sealed store file (``store.py``) and the vault of venue credentials (``vault.py``);
``brokerd secrets ...`` (``cli.py``). docs/configuration.md#secrets says how to set it up."""
