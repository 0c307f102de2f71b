"""The field types of the face's request models: how a value arrives (a form's text, JSON's
number or array, a saved multipart file) is read here once, and each type's limits are the
ones the services enforce, so /openapi.json states what is checked."""
from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainValidator, WithJsonSchema

from control.api.voitex.fields import Upload
from control.flow.play import MAX_RECORDING_NUMBER

MAX_INT32 = 2**31 - 1  # label numbers and ids: the database's int4


def _whole_number(value: object, maximum: int) -> int:
    """A positive whole number as a path, a form (text) or JSON (a number) gives it."""
    number = value.strip() if isinstance(value, str) else value if isinstance(value, int) and \
        not isinstance(value, bool) else None
    if isinstance(number, str):
        number = int(number) if number.isascii() and number.isdigit() and len(number) <= 12 else None
    if number is None or not 1 <= number <= maximum:
        raise ValueError(f"must be a whole number from 1 to {maximum}")
    return number


def whole_number(maximum: int) -> Any:
    return Annotated[int, Field(ge=1, le=maximum), BeforeValidator(partial(_whole_number, maximum=maximum))]


WholeNumber = whole_number(MAX_INT32)
# Albums and sort numbers: what IVR documents may name (control/flow/play.py).
RecordingNumber = whole_number(MAX_RECORDING_NUMBER)
# Optional: absent or left empty in a form ("sort_number=") is None.
MaybeRecordingNumber = Annotated[RecordingNumber | None, BeforeValidator(lambda v: None if v == "" else v)]


def _upload(value: object) -> Upload:
    if isinstance(value, Upload):
        return value
    raise ValueError("must be a file sent as multipart form-data")


# A file field: what fields.py saved of a multipart part; in the document, a binary string.
UploadFile = Annotated[Upload, PlainValidator(_upload), WithJsonSchema({"type": "string", "format": "binary"})]


def _one_text(value: object) -> str | None:
    """A text field: a form's value, or JSON's string or whole number (a phone sent as 7325550184)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        raise ValueError("must be given once")
    raise ValueError("must be text")


def _text_list(value: object) -> str | None:
    """A comma-separated list ("2,3,7"), also as a JSON array or a repeated form field."""
    if isinstance(value, list):
        return ",".join(_one_text(item) or "" for item in value)
    return _one_text(value)


Text = Annotated[str | None, BeforeValidator(_one_text)]
TextList = Annotated[str | None, BeforeValidator(_text_list)]
