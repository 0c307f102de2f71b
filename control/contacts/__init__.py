"""Contacts, their phones and labels (Voitex's Contacts API), and the lookups calls make."""
