"""The album library: recordings numbered by album and sort, per tenant, kept as 8 kHz mono
WAV files in the data directory."""
