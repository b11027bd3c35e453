"""The domain: messages, ids, fixed-point numbers, enums, config. No Ray, LMDB, quickfix or sockets."""
