"""Transfers: where a tenant's calls may be sent (control/transfers/service.py)."""
