"""The config of a running process, reloaded when its file changes."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime

from status.config.loader import ConfigError, load_config
from status.config.models import Config

# The name this logger had before the config module became a package: log lines print it
# (%(name)s), and log levels are set by it.
log = logging.getLogger("status.config")


class ConfigHolder:
    """The current config of a running process; reloads keep the last good one."""

    def __init__(self, path: str | os.PathLike, environ: Mapping[str, str] | None = None):
        self.path = str(path)
        self._environ = environ
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()
        self.current: Config = load_config(path, environ)
        self.last_error: str | None = None
        self.loaded_at: datetime = datetime.now(UTC)

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def changed_on_disk(self) -> bool:
        """True when the file's (mtime_ns, size) differ from the last (attempted) load."""
        return self._file_stamp() != self._stamp

    def reload(self) -> bool:
        """Re-read the file; on any problem keep the current config and say why."""
        with self._lock:
            self._stamp = self._file_stamp()
            try:
                config = load_config(self.path, self._environ)
            except ConfigError as exc:
                self.last_error = str(exc)
                log.error(
                    "config reload refused, keeping the last good config: %s",
                    str(exc).replace("\n", "; "),
                )
                return False
            self.current, self.last_error, self.loaded_at = config, None, datetime.now(UTC)
        log.info("config reloaded from %s: %d components", self.path, len(config.components))
        return True
