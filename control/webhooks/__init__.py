"""Webhooks the platform sends to tenants' servers: where they may go (policy), how they are
signed (signing), and the client that sends them (client)."""
