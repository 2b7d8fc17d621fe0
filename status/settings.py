"""Deployment settings from the environment (DESIGN §7); the config file is separate."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


class SettingsError(Exception):
    """A deployment setting is missing or wrong; the message names the variable."""


def from_environ(environ: Mapping[str, str], instance_path: str) -> dict:
    """Flask config keys read from ``environ``; nothing here has a secret default."""
    settings = {
        "DATABASE_URL": environ.get("DATABASE_URL")
        or f"sqlite:///{Path(instance_path) / 'leitstand.db'}",
        "STATUS_CONFIG": environ.get("STATUS_CONFIG", "status.yaml"),
        "LOG_LEVEL": environ.get("LOG_LEVEL", "INFO").upper(),
    }
    secret = environ.get("SECRET_KEY") or _read_secret_file(environ.get("SECRET_KEY_FILE"))
    if secret:
        settings["SECRET_KEY"] = secret
    return settings


def _read_secret_file(path: str | None) -> str | None:
    if not path:
        return None
    try:
        return Path(path).read_text().strip() or None
    except OSError as exc:
        raise SettingsError(f"SECRET_KEY_FILE: cannot read {path}: {exc.strerror}") from exc


def require_secret_key(config: Mapping) -> None:
    """Sessions, CSRF and subscriber links are signed with it: refuse to run without."""
    secret = config.get("SECRET_KEY")
    if not secret:
        raise SettingsError(
            "SECRET_KEY is not set: set SECRET_KEY (or SECRET_KEY_FILE) to a long random "
            'value, e.g. python -c "import secrets; print(secrets.token_urlsafe(48))"'
        )
    if len(secret) < 32:
        raise SettingsError("SECRET_KEY is too short: use at least 32 random characters")


def listen_address(environ: Mapping[str, str] = os.environ) -> tuple[str, int]:
    port = environ.get("PORT", "8080")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(f"PORT: not a port number: {port!r}")
    return environ.get("HOST", "127.0.0.1"), int(port)
