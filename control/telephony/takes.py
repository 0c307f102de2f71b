"""What a recording of the caller comes to (telephony/call.py records): how long its checks
wait, and the Take its end makes. Pure: no requests, no clock."""
from __future__ import annotations

from typing import Any, Collection

from control.flow.channel import Take, TakeEnd

RECORDING_EVENTS = ("RecordingStarted", "RecordingFinished", "RecordingFailed")
# A recording with no RecordingFinished by max_seconds plus this margin (counted from its
# RecordingStarted, or from the request, beep included, when that was missed) is checked with
# Asterisk, and again every RECORDING_CHECK_S: a missed event must not keep the caller waiting.
RECORDING_MARGIN_S = 5.0
RECORDING_CHECK_S = 5.0
# After a hang-up mid-recording, how long its RecordingFinished is waited for (Asterisk may send
# it after the channel's StasisEnd, or not at all) before Asterisk is asked for the recording.
RECORDING_AFTER_HANGUP_S = 1.0
LIVE_STATES = ("queued", "recording", "paused")


def seconds(recording: dict[str, Any]) -> float | None:
    """A LiveRecording's length as Asterisk counts it (whole seconds, and not the file's: a
    recording silence ended, trimmed to 0.2 s, was said to last 1), when it says."""
    duration = recording.get("duration")
    return float(duration) if isinstance(duration, (int, float)) and not isinstance(duration, bool) else None


def take(end: dict[str, Any] | None, name: str, *, max_seconds: float, silence_seconds: float | None,
         terminate_on: str | None, elapsed: float, digits: Collection[str]) -> Take:
    """The take a recording's end (its RecordingFinished or RecordingFailed event, or what a
    check found instead) makes, `elapsed` seconds after it started, `digits` pressed during it."""
    end = end or {}
    recording = end.get("recording", {})
    if end.get("type") == "RecordingFailed":
        return Take(name, None, "failed", str(recording.get("cause") or "Asterisk gave no cause"))
    ended_by: TakeEnd
    if terminate_on is not None and terminate_on in digits:
        ended_by = "key"
    elif silence_seconds is not None and elapsed < max_seconds - 0.5:
        ended_by = "silence"
    else:
        ended_by = "max"
    return Take(name, seconds(recording), ended_by)


def after_hang_up(end: dict[str, Any] | None, name: str) -> Take:
    """The take of a recording the caller hung up during. Only a finish's length is believed: a
    hang-up may be reported as a failure with none."""
    end = end or {}
    return Take(name, seconds(end.get("recording", {})) if end.get("type") == "RecordingFinished" else None, "hangup")
