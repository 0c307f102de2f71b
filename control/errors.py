"""Domain errors the services raise; each face renders them in its own error shape."""
from __future__ import annotations


class ServiceError(Exception):
    pass


class NotFound(ServiceError):
    pass


class Conflict(ServiceError):
    pass


class Unreadable(ServiceError):
    """A file of the platform's own (secrets, trunk passwords) that is damaged: said, never
    overwritten, since what it held may be needed to mend it."""


class Invalid(ServiceError):
    """Bad input; `errors` lists every problem found, each as 'where: what is wrong'."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors
