"""Pre-trade risk limits as the account shard holds them (``model/limits.py``), and an
account's tenant as the shard keeps it."""

from __future__ import annotations

from model.limits import RiskLimits as RiskLimits  # re-exported: the shard's parts take them from here
from model.limits import tenant_limits as tenant_limits
from model.permissions import DEFAULT_TENANT


def tenant_of(tenant: str) -> str:
    """An account's tenant as the shard keeps it: ``""`` (an ``OpenAccount`` journaled before
    tenants existed) is the default tenant."""
    return tenant or DEFAULT_TENANT
