"""What a document is allowed to say can be spoken: accepted edge-case texts go through the
real TTS cache (espeak-ng and sox, which `make test` installs) into non-empty WAV files."""
from __future__ import annotations

import wave
from pathlib import Path

from control.flow.document import parse_ivr
from control.flow.play import MAX_TTS_CHARS
from control.media.tts import TtsCache

SENTENCE = "Press one for sales, two for support. "
EDGE_TEXTS = [
    (SENTENCE * (MAX_TTS_CHARS // len(SENTENCE) + 1))[:MAX_TTS_CHARS],  # the longest allowed
    "-v en-gb --help",  # leading '-': must reach espeak-ng as text, not as an option
    "--",
    "Grüße aus Köln, ¿qué tal? Ελληνικά, кириллица, 日本語",
    "He said \"it's\" `fine` $HOME; rm -rf / & echo 'x' | cat",
    "line one\nline two\r\n\tindented",
    "a",
]


async def test_every_accepted_edge_case_text_renders_to_a_wav(tmp_path: Path) -> None:
    doc = {"branches": {"0": {"type": "content", "play": [{"type": "tts", "text": t} for t in EDGE_TEXTS]}}}
    items = parse_ivr(doc).branches["0"].play  # accepted first: this is what plays
    assert [i.value for i in items] == EDGE_TEXTS and len(EDGE_TEXTS[0]) == MAX_TTS_CHARS
    cache = TtsCache(tmp_path / "tts")
    for item in items:
        wav = cache.path(await cache.ensure(item.value))
        with wave.open(str(wav)) as audio:
            assert audio.getframerate() == 8000 and audio.getnframes() > 0, item.value
