"""Audio the platform serves to Asterisk over HTTP: TTS renders and (later) recordings."""
