"""The Voitex-compatible REST face: each Voitex host is a path prefix of our HTTP server
(`/recording/`, `/contacts/`, `/notify/`, `/sms/`), so a client migrates by changing its base
URL. Thin: parse, call a service, shape the answer."""
