"""Load runs over real SIP: the platform's IVR next to the same flow as native dialplan."""
