"""Spyne SOAP services for merchants (thin @rpc methods), wire types and fault mapping."""
