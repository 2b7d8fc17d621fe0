"""What a command refuses, in words for the person who asked, naming the field."""

from __future__ import annotations


class OpsError(Exception):
    """A command that cannot be done as asked. The web surfaces map ``code`` to an HTTP
    status (invalid 400/422, not_found 404, conflict 409, forbidden 403); the CLI prints
    the message and exits 1."""

    code = "invalid"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class Invalid(OpsError):
    code = "invalid"


class NotFound(OpsError):
    code = "not_found"


class Conflict(OpsError):
    code = "conflict"
