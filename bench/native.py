"""The bench's flows written as native dialplan, in the same Asterisk: the floor the platform is
measured against. Same prompts (the platform's own TTS files), same keys, same timeouts, and
each call's path kept so the bench checks it as it checks the platform's call records.

The trigger flow's webhook is called with `CURL()` (func_curl) and its answer read with
`JSON_DECODE()` (func_json), both loaded by the rendered modules.conf (autoload)."""
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

from bench.flows import (CONTENT_BRANCH, NATIVE_MENU_NUMBER, NATIVE_TRIGGER_NUMBER, TRIGGER_CONTENT,
                         TRIGGER_HOOK_TIMEOUT_S, TRIGGER_KEY_TIMEOUT_S, TRIGGER_MENU, TRIGGER_MENU_RETRIES,
                         TRIGGER_MENU_TIMEOUT_S, TRIGGER_OFFER, branch_data)

NATIVE_NUMBER = NATIVE_MENU_NUMBER

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


# The trigger flow: the menu (key 1) leads to the webhook, called with CURL() in the channel's
# own thread, with Voitex's request fields built in dialplan (unsigned: dialplan has no HMAC).
# The answer is read with JSON_DECODE(): its first play item (a file, since dialplan cannot
# render TTS) plays with its inputs active (Read() stops it at the first key); the key is
# looked up in `inputs`. The same waits as the platform's trigger flow (bench/flows.py's
# TRIGGER_*). <<name>> marks what install() fills in: the dialplan is all ${} and {}.
TRIGGER_DIALPLAN = """
; Written by bench/native.py: the trigger flow as native dialplan (CURL() to the bench webhook).
[voicectl-inbound](+)
exten => <<number>>,1,Answer()
 same => n,Set(CHANNEL(hangup_handler_push)=bench-native-ended,s,1)
 same => n,Set(tries=0)
 same => n(menu),Read(key,<<menu>>,1,,1,<<timeout>>)
 same => n,Set(path=${path}0:${key}/)
 same => n,GotoIf($["${key}" = "1"]?trigger)
 same => n,Set(tries=$[${tries} + 1])
 same => n,GotoIf($[${tries} <= <<retries>>]?menu)
 same => n,Goto(bye)
 same => n(trigger),Set(CURLOPT(httpheader)=Content-Type: application/json)
 same => n,Set(CURLOPT(httptimeout)=<<hook_timeout>>)
 same => n,Set(answer=${CURL(<<url>>,{"call_id":"${UNIQUEID}","cid":"${CALLERID(num)}","cnam":"${CALLERID(name)}","contact_info":null,"date_time":"${STRFTIME(${EPOCH},UTC,%Y-%m-%d %H:%M:%S)}","did":"${EXTEN}","branch_data":[{"branch":"0","input":"1"}],"payment_info":[],"variables":[{}]})})
 same => n,Set(offer=${JSON_DECODE(answer,play.0.name)})
 same => n,GotoIf($["${offer}" = ""]?noroute)
 same => n,Read(key,${offer},1,,1,<<key_timeout>>)
 same => n,GotoIf($["${key}" = ""]?noroute)
 same => n,Set(next=${JSON_DECODE(answer,inputs.${key})})
 same => n,GotoIf($["${next}" != "<<content_branch>>"]?noroute)
 same => n,Set(path=${path}10:${key}/<<content_branch>>:/)
 same => n,Playback(<<content>>)
 same => n,Goto(bye)
 same => n(noroute),Set(path=${path}10:/)
 same => n(bye),Set(path=${path}900:)
 same => n,Hangup()
"""


@dataclass(frozen=True)
class NativeMenu:
    number: str
    paths: Path  # on the host: the lines the calls' hangup handler appended
    trigger_number: str | None = None  # with a webhook: the trigger flow's number
    offer: str | None = None  # the prompt the webhook's answer names, as Asterisk sees it


def read_paths(paths: Path) -> dict[str, tuple[list[dict[str, str]], bool]]:
    """Each native call that ended, by channel id: its path as branch_data, and True for
    ended, in the shape of the platform's call records so one check serves both."""
    if not paths.exists():
        return {}
    calls = {}
    for line in paths.read_text().splitlines():
        call_id, _, path = line.partition(" ")
        calls[call_id] = (branch_data(path), True)
    return calls


def _demo_menu() -> tuple[str, str, int, int]:
    branches = yaml.safe_load(DEMO_IVR.read_text())["branches"]
    menu, goodbye = branches["0"], branches[branches["0"]["inputs"]["2"]]
    return menu["play"][0]["text"], goodbye["play"][0]["text"], int(menu["timeout"]), int(menu["retries"])


def install(settings: Settings, hook_url: str | None = None) -> NativeMenu:
    """Render the prompts, copy them where Asterisk reads files, and add the native extensions
    to extensions_local.conf (which re-rendering leaves alone): the demo menu always, the
    trigger flow when there is a webhook (`hook_url`: where its requests go)."""
    welcome_text, goodbye_text, timeout, retries = _demo_menu()
    texts = {"welcome": welcome_text, "goodbye": goodbye_text}
    if hook_url:
        texts.update({"trigger-menu": TRIGGER_MENU, "trigger-offer": TRIGGER_OFFER, "trigger-content": TRIGGER_CONTENT})
    tts = TtsCache(settings.media_dir / "tts")

    async def render() -> list[Path]:
        return [tts.path(await tts.ensure(text)) for text in texts.values()]

    rendered = dict(zip(texts, asyncio.run(render())))
    where = layout(settings)
    media = where.host_dir / "media" / "bench"
    media.mkdir(parents=True, exist_ok=True)
    for name, source in rendered.items():
        shutil.copyfile(source, media / f"{name}.wav")
    seen = f"{where.seen_as}/media/bench"
    etc = where.host_dir / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    text = DIALPLAN.format(number=NATIVE_NUMBER, welcome=f"{seen}/welcome", goodbye=f"{seen}/goodbye",
                           timeout=timeout, retries=retries, paths=f"{where.seen_as}/log/{PATHS_FILE}")
    if hook_url:
        fill = {"number": NATIVE_TRIGGER_NUMBER, "menu": f"{seen}/trigger-menu",
                "timeout": str(TRIGGER_MENU_TIMEOUT_S), "retries": str(TRIGGER_MENU_RETRIES), "url": hook_url,
                "hook_timeout": str(TRIGGER_HOOK_TIMEOUT_S), "key_timeout": str(TRIGGER_KEY_TIMEOUT_S),
                "content_branch": CONTENT_BRANCH, "content": f"{seen}/trigger-content"}
        trigger = TRIGGER_DIALPLAN
        for key, value in fill.items():
            trigger = trigger.replace(f"<<{key}>>", value)
        text += trigger
    (etc / "extensions_local.conf").write_text(text)
    return NativeMenu(NATIVE_NUMBER, where.host_dir / "log" / PATHS_FILE,
                      NATIVE_TRIGGER_NUMBER if hook_url else None, f"{seen}/trigger-offer" if hook_url else None)
