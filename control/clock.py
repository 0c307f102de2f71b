from datetime import datetime, timezone


def now() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(at: datetime) -> datetime:
    """A time the database gave back: SQLite keeps no zone, and every time stored is UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)
