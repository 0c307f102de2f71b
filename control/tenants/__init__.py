"""Tenants: service functions over the store (no HTTP, no ARI)."""
