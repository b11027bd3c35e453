"""The web page and the operators' HTTP endpoints, served by the first gateway (docs/web.md)."""
