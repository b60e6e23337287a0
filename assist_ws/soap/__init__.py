"""Spyne SOAP services for merchants (thin @rpc methods), wire types and fault mapping."""

from .. import compat  # noqa: F401 - before Spyne: makes it import on every Python
