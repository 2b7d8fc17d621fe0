"""The static mirror: the public site as files, for nginx or a CDN when the app is down.

`flask --app app export DIR` renders every public URL through the app itself (so the
files hold exactly the bytes the app serves) and writes those that changed, each
atomically (temporary file, then rename). With ``--watch`` it keeps the mirror current:
it looks at the data version twice a second and rewrites within two seconds of any
change. docs/static-mirror.md has the nginx config that serves it.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask

from status.runtime import runtime

log = logging.getLogger(__name__)

FIXED_PATHS = (
    "/",
    "/history",
    "/favicon.svg",
    "/api/v2/summary.json",
    "/api/v2/status.json",
    "/api/v2/components.json",
    "/api/v2/incidents.json",
    "/api/v2/incidents/unresolved.json",
    "/api/v2/scheduled-maintenances.json",
    "/api/v2/scheduled-maintenances/upcoming.json",
    "/api/v2/scheduled-maintenances/active.json",
    "/history.atom",
    "/history.rss",
    "/maintenance.ics",
)
MAX_HISTORY_PAGES = 240  # twenty years of months


@dataclass
class ExportReport:
    written: list[str] = field(default_factory=list)  # files whose bytes changed
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)


def file_for(path: str) -> str:
    """Where a URL path lives in the mirror (see the nginx config in the docs)."""
    route, _, query = path.partition("?")
    if route == "/":
        return "index.html"
    if route == "/history" and query.startswith("page="):
        return f"history/page-{query.removeprefix('page=')}.html"
    name = route.lstrip("/")
    return name if "." in Path(name).name else name + ".html"


def public_paths(app: Flask) -> list[str]:
    """Every public URL the mirror holds, for the current snapshot."""
    snapshot = runtime(app).snapshot()
    paths = list(FIXED_PATHS)
    # The most recently changed first: after a change, its page is written first, not
    # after hundreds of unchanged ones (the two seconds --watch promises).
    changed = sorted(
        [(i.updated_at, f"/incidents/{i.id}") for i in snapshot.incidents]
        + [(m.updated_at, f"/maintenance/{m.id}") for m in snapshot.maintenances],
        key=lambda pair: pair[0],
        reverse=True,
    )
    paths += [path for _, path in changed]
    static = Path(app.static_folder or "")
    if static.is_dir():
        paths += [
            f"{app.static_url_path}/{p.relative_to(static).as_posix()}"
            for p in sorted(static.rglob("*"))
            if p.is_file()
        ]
    return paths


def export(app: Flask, directory: str | os.PathLike) -> ExportReport:
    """Write the mirror once; only files whose bytes changed are rewritten."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    report = ExportReport()
    wanted: set[str] = set()
    client = app.test_client()

    def fetch(path: str) -> bool:
        response = client.get(path, base_url=runtime(app).config.site.url)
        if response.status_code != 200:
            return False
        name = file_for(path)
        wanted.add(name)
        if _write_if_changed(root / name, response.get_data()):
            report.written.append(name)
        else:
            report.unchanged += 1
        return True

    for path in public_paths(app):
        fetch(path)
    for page in range(2, MAX_HISTORY_PAGES + 1):
        if not fetch(f"/history?page={page}"):
            break

    manifest = root / ".leitstand-mirror"
    previous = set(manifest.read_text().split("\n")) - {""} if manifest.exists() else set()
    for name in sorted(previous - wanted):  # e.g. a history page that no longer exists
        (root / name).unlink(missing_ok=True)
        report.removed.append(name)
    _write_if_changed(manifest, "\n".join(sorted(wanted)).encode())
    return report


def watch(app: Flask, directory: str | os.PathLike, stopping: threading.Event, poll: float = 0.5):
    """Export now, then again whenever the public data changed (or every minute)."""
    last = None
    while not stopping.is_set():
        snapshot = runtime(app).snapshot()
        key = (snapshot.version, snapshot.built_at, snapshot.database_ok)
        if key != last:
            try:
                report = export(app, directory)
                last = key
                if report.written or report.removed:
                    log.info(
                        "mirror: %d files written, %d removed",
                        len(report.written),
                        len(report.removed),
                    )
            except OSError:
                log.exception("mirror: could not write to %s", directory)
        stopping.wait(poll)


def _write_if_changed(target: Path, data: bytes) -> bool:
    try:
        if target.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True
