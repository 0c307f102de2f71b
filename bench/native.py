"""The demo menu written as native dialplan, in the same Asterisk: the floor the platform is
measured against. Same prompts (the platform's own TTS files), same keys, same timeouts, and
each call's path kept so the bench checks it as it checks the platform's call records."""
from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from control.assets import DEMO_IVR
from control.media.tts import TtsCache
from control.pbx.config import layout
from control.settings import Settings

NATIVE_NUMBER = "8005550199"

PATHS_FILE = "bench-native-paths.txt"  # in the instance's log directory, which Asterisk owns

# `path` grows the way the platform's branch_data does ("0:1/0:2/900:" for 0:1, 0:2, 900).
# The hangup handler writes it with FILE(), in Asterisk's own thread: System() would fork per
# call, log files take warnings only, and AMI events would need a listener during the load.
# FILE()'s "u" names the line ending: without it FILE() reads the file to guess, and the
# first call finds no file to read.
DIALPLAN = """; Written by bench/native.py: the demo menu as native dialplan, for the load run's floor.
[voicectl-inbound](+)
exten => {number},1,Answer()
 same => n,Set(CHANNEL(hangup_handler_push)=bench-native-ended,s,1)
 same => n,Set(tries=0)
 same => n(menu),Read(key,{welcome},1,,1,{timeout})
 same => n,Set(path=${{path}}0:${{key}}/)
 same => n,GotoIf($["${{key}}" = "1"]?menu)
 same => n,GotoIf($["${{key}}" = "2"]?bye)
 same => n,Set(tries=$[${{tries}} + 1])
 same => n,GotoIf($[${{tries}} <= {retries}]?menu)
 same => n(bye),Set(path=${{path}}900:)
 same => n,Playback({goodbye})
 same => n,Hangup()

; However the call ends: one line "<channel id> <path>".
[bench-native-ended]
exten => s,1,Set(FILE({paths},,,al,u)=${{UNIQUEID}} ${{path}})
 same => n,Return()
"""


@dataclass(frozen=True)
class NativeMenu:
    number: str
    paths: Path  # on the host: the lines the calls' hangup handler appended


def read_paths(paths: Path) -> dict[str, tuple[list[dict[str, str]], bool]]:
    """Each native call that ended, by channel id: its path as branch_data, and True for
    ended, in the shape of the platform's call records so one check serves both."""
    if not paths.exists():
        return {}
    calls = {}
    for line in paths.read_text().splitlines():
        call_id, _, path = line.partition(" ")
        steps = [step.partition(":") for step in path.split("/") if step]
        calls[call_id] = ([{"branch": branch, "input": key} for branch, _, key in steps], True)
    return calls


def _demo_menu() -> tuple[str, str, int, int]:
    branches = yaml.safe_load(DEMO_IVR.read_text())["branches"]
    menu, goodbye = branches["0"], branches[branches["0"]["inputs"]["2"]]
    return menu["play"][0]["text"], goodbye["play"][0]["text"], int(menu["timeout"]), int(menu["retries"])


def install(settings: Settings) -> NativeMenu:
    """Render the demo's prompts, copy them where Asterisk reads files, and add the native
    extension to extensions_local.conf (which re-rendering leaves alone)."""
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
        timeout=timeout, retries=retries, paths=f"{where.seen_as}/log/{PATHS_FILE}"))
    return NativeMenu(NATIVE_NUMBER, where.host_dir / "log" / PATHS_FILE)
