"""The tenant's server of the trigger flow: one small aiohttp process of its own, answering
every request at once, so its CPU is told apart from Asterisk's and the control plane's.

    python -m bench.webhook --port PORT --native-play PATH [--log FILE]

POST /platform answers what a Voitex integrator would (`play` a TTS prompt, `inputs` "2" to
the content branch); POST /native answers the native dialplan the same, naming the copy of
that prompt's file it plays (`{"type": "sound", "name": PATH}`: dialplan cannot render TTS).
Each request body is parsed as JSON, as a real server would. With --log, each answer is a
line `<unix ms as the answer is written> <call_id> <path>`: bench/run.py --measure reads
it to time webhook answer -> audio started against Asterisk's event timestamps (same clock).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from aiohttp import web

from bench import measure
from bench.flows import CONTENT_BRANCH, TRIGGER_OFFER


def _answers(native_play: str) -> dict[str, bytes]:
    inputs = {"2": CONTENT_BRANCH}
    return {"/platform": json.dumps({"play": [{"type": "tts", "text": TRIGGER_OFFER}], "inputs": inputs}).encode(),
            "/native": json.dumps({"play": [{"type": "sound", "name": native_play}], "inputs": inputs}).encode()}


def url(port: int, path: str) -> str:
    """Where a webhook on `port` answers `path` ("/platform", "/native"): known before it starts,
    as the IVRs that call it are written first."""
    return f"http://127.0.0.1:{port}{path}"


def make_app(native_play: str, log: IO[str] | None) -> web.Application:
    answers = _answers(native_play)

    async def handle(request: web.Request) -> web.StreamResponse:
        answer = answers.get(request.path)
        if answer is None:
            return web.Response(status=404, text="no such path")
        body = await request.json()
        response = web.Response(body=answer, content_type="application/json")
        # Stamped as the answer is written, not after: once it is on the socket the caller's side
        # may start its audio before this process runs again, and an answer stamped after its own
        # audio would be matched to the next one.
        answered_ms = time.time() * 1000
        await response.prepare(request)
        await response.write_eof()
        if log is not None:
            log.write(f"{answered_ms:.3f} {body.get('call_id')} {request.path}\n")
        return response

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--native-play", required=True,
                        help="the prompt file native dialplan plays, as Asterisk sees it")
    parser.add_argument("--log", type=Path, help="write a line per answer here (measuring runs only)")
    args = parser.parse_args(argv)
    try:
        import uvloop  # the control plane's loop too
        uvloop.install()
    except ImportError:
        pass
    log = args.log.open("a", buffering=1) if args.log else None  # line-buffered: read during the bench
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    web.run_app(make_app(args.native_play, log), host="127.0.0.1", port=args.port, access_log=None,
                print=None, handle_signals=False)


@dataclass
class Webhook:
    """bench/webhook.py running beside the bench: where it listens, its pid (for its CPU)."""

    proc: subprocess.Popen
    port: int
    log: Path | None

    @classmethod
    def start(cls, port: int, native_play: str, log: Path | None, output: Path) -> "Webhook":
        argv = [sys.executable, "-m", "bench.webhook", "--port", str(port), "--native-play", native_play]
        if log is not None:
            argv += ["--log", str(log)]
        with output.open("ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=out, env=os.environ.copy(), start_new_session=True)
        hook = cls(proc, port, log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"bench/webhook.py exited with {proc.returncode}: {output.read_text()[-1000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return hook
            except OSError:
                time.sleep(0.1)
        hook.stop()
        raise SystemExit("bench/webhook.py did not start listening within 20 s")

    def cpu_seconds(self) -> float:
        return measure.cpu_seconds(self.proc.pid)

    def answers(self, since: int = 0) -> tuple[dict[str, float], int]:
        """The answers logged from byte `since` on, by call id (unix ms), and where they end."""
        if self.log is None or not self.log.exists():
            return {}, since
        with self.log.open("rb") as f:
            f.seek(since)
            data = f.read()
        done = data.rfind(b"\n") + 1  # a line being written is read next time
        out = {}
        for line in data[:done].decode().splitlines():
            at, call_id, _path = line.split(" ", 2)
            out[call_id] = float(at)
        return out, since + done

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


if __name__ == "__main__":
    main()
