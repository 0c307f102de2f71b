"""The demo menu written as native dialplan, in the same Asterisk: the floor the platform is
measured against. Same prompts (the platform's own TTS files), same keys, same timeouts."""
from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import yaml

from control.media.tts import TtsCache
from control.pbx.config import layout
from control.settings import REPO_ROOT, Settings

DEMO_IVR = REPO_ROOT / "examples" / "demo-ivr.yaml"
NATIVE_NUMBER = "8005550199"

DIALPLAN = """; Written by bench/native.py: the demo menu as native dialplan, for the load run's floor.
[voicectl-inbound](+)
exten => {number},1,Answer()
 same => n,Set(tries=0)
 same => n(menu),Read(key,{welcome},1,,1,{timeout})
 same => n,GotoIf($["${{key}}" = "1"]?menu)
 same => n,GotoIf($["${{key}}" = "2"]?bye)
 same => n,Set(tries=$[${{tries}} + 1])
 same => n,GotoIf($[${{tries}} <= {retries}]?menu)
 same => n(bye),Playback({goodbye})
 same => n,Hangup()
"""


def _demo_menu() -> tuple[str, str, int, int]:
    branches = yaml.safe_load(DEMO_IVR.read_text())["branches"]
    menu, goodbye = branches["0"], branches[branches["0"]["inputs"]["2"]]
    return menu["play"][0]["text"], goodbye["play"][0]["text"], int(menu["timeout"]), int(menu["retries"])


def install(settings: Settings) -> str:
    """Render the demo's prompts, copy them where Asterisk reads files, and add the native
    extension to extensions_local.conf (which re-rendering leaves alone). Returns its number."""
    welcome_text, goodbye_text, timeout, retries = _demo_menu()
    tts = TtsCache(settings.media_dir / "tts")

    async def render() -> list[Path]:
        return [tts.path(await tts.ensure(text)) for text in (welcome_text, goodbye_text)]

    welcome, goodbye = asyncio.run(render())
    where = layout(settings)
    media = where.host_dir / "media" / "bench"
    media.mkdir(parents=True, exist_ok=True)
    for name, source in (("welcome", welcome), ("goodbye", goodbye)):
        shutil.copyfile(source, media / f"{name}.wav")
    seen = f"{where.seen_as}/media/bench"
    etc = where.host_dir / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "extensions_local.conf").write_text(DIALPLAN.format(
        number=NATIVE_NUMBER, welcome=f"{seen}/welcome", goodbye=f"{seen}/goodbye",
        timeout=timeout, retries=retries))
    return NATIVE_NUMBER
