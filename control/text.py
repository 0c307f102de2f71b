"""Checks shared by every name an operator gives and the platform shows back (tenant names,
recording names): text that prints as what it is, on one line, within its column."""
from __future__ import annotations

import unicodedata

# Cc: C0/C1 controls (NUL, ESC, newline, DEL). Cf: format characters (bidi overrides and
# isolates U+202A-202E/U+2066-2069, zero-width joiners and spaces, the BOM). Zl/Zp: the line
# and paragraph separators U+2028/U+2029. Cs: lone surrogates (not text; cannot be encoded).
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def display_text_problem(text: str, what: str, max_chars: int) -> str | None:
    """None when `text` (as stored: the caller strips it first) may be stored and shown, or
    the problem as 'what: ...' (the shape of control.errors.Invalid's entries): empty after
    strip, over max_chars, or holding a control, format, separator or surrogate character."""
    if not text.strip():
        return f"{what}: must not be empty"
    if len(text) > max_chars:
        return f"{what}: must be at most {max_chars} characters (this one has {len(text)})"
    if (char := refused_char(text)) is not None:
        return f"{what}: must not contain control or formatting characters (U+{ord(char):04X})"
    return None


def is_refused(char: str) -> bool:
    """A control, format, separator or surrogate character (REFUSED_CATEGORIES)."""
    return unicodedata.category(char) in REFUSED_CATEGORIES


def refused_char(text: str, allowed: str = "") -> str | None:
    """The first character of text that is refused (is_refused) and not in `allowed` (a
    multi-line field allows "\n\t"), or None."""
    return next((char for char in text if is_refused(char) and char not in allowed), None)


def escape_unshown(value: object) -> str:
    """str(value) with every character a terminal could act on or that could reorder or break
    the line (the categories display_text_problem refuses) written as a Python escape (\\x1b,
    \\u202e): for printing what others wrote (webhook answers, callers' names) as it is."""
    text = str(value)
    if text.isprintable():  # the common case; no character isprintable() passes is refused
        return text
    return "".join(_escape(char) if is_refused(char) else char for char in text)


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
