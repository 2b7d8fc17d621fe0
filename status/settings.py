"""Deployment settings from the environment (DESIGN §7); the config file is separate."""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Mapping
from pathlib import Path

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class SettingsError(Exception):
    """A deployment setting is missing or wrong; the message names the variable."""


def from_environ(environ: Mapping[str, str], instance_path: str) -> dict:
    """Flask config keys read from ``environ``; nothing here has a secret default."""
    settings = {
        "DATABASE_URL": environ.get("DATABASE_URL")
        or f"sqlite:///{Path(instance_path) / 'leitstand.db'}",
        "STATUS_CONFIG": environ.get("STATUS_CONFIG", "status.yaml"),
        "LOG_LEVEL": _log_level(environ.get("LOG_LEVEL", "INFO")),
    }
    secret = environ.get("SECRET_KEY") or _read_secret_file(environ.get("SECRET_KEY_FILE"))
    if secret:
        settings["SECRET_KEY"] = secret
    return settings


def _log_level(value: str) -> str:
    if value.upper() not in LOG_LEVELS:
        raise SettingsError(f"LOG_LEVEL: must be one of {', '.join(LOG_LEVELS)}, not {value!r}")
    return value.upper()


def _read_secret_file(path: str | None) -> str | None:
    if not path:
        return None
    try:
        return Path(path).read_text().strip() or None
    except OSError as exc:
        raise SettingsError(f"SECRET_KEY_FILE: cannot read {path}: {exc.strerror}") from exc


def config_hint(path: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """What to set when the default config file is not there (a newcomer's first command)."""
    if environ.get("STATUS_CONFIG") or Path(path).exists():
        return None
    return (
        "set STATUS_CONFIG to your config file (make run uses status.example.yaml, and "
        "leaves its settings in .flaskenv for the flask commands run here)"
    )


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
    """``HOST`` and ``PORT``, checked before anything else reads them (the example config
    expands ``${PORT}`` too, and would blame its own YAML for a bad value)."""
    port = environ.get("PORT", "8080")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(f"PORT: not a port number: {port!r} (use 1 to 65535, e.g. 8080)")
    return environ.get("HOST", "127.0.0.1"), int(port)


def cannot_listen(host: str, port: int, error: OSError) -> str:
    """One line saying why ``host:port`` cannot be listened on, and what to set instead."""
    if error.errno == errno.EADDRINUSE:
        free = _free_port_after(host, port)
        example = f"PORT={free}" if free else "PORT=<another port>"
        return f"port {port} is in use (by another server?); set {example} or another free port"
    if error.errno == errno.EACCES:
        return f"port {port}: permission denied; set PORT to 1024 or above (e.g. PORT=8080)"
    reason = error.strerror or str(error)
    return f"cannot listen on {host}:{port}: {reason}; set HOST to an address of this machine"


def _free_port_after(host: str, port: int, tries: int = 20) -> int | None:
    for candidate in range(port + 1, min(port + 1 + tries, 65536)):
        with socket.socket() as probe:
            try:
                probe.bind((host, candidate))
            except OSError:
                continue
            return candidate
    return None
