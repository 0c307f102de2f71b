"""Telephony adapters: ARI (the Stasis app), AMI (health), and the inbound call handler."""
