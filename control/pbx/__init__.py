"""The Asterisk this platform owns: its secrets, its rendered configuration, its process."""
