"""The web surfaces, one sub-package (and blueprint) each:

- :mod:`status.web.public`: the status page, Statuspage v2, feeds and calendar, the
  fast path and the static mirror; anonymous, cached, the same for everyone;
- :mod:`status.web.machine`: ``/healthz``, ``/metrics``, ``/ping/<token>``;
- :mod:`status.web.api_v1`: ``/api/v1``, the ops REST API (bearer tokens, OpenAPI);
- :mod:`status.web.console`: ``/console``, the ops console (sessions, CSRF, roles).

Security every surface shares (headers now; CSRF, sessions, tokens, roles with the
ops issue) lives in :mod:`status.web.security`; the request's language in
:mod:`status.web.language`.
"""

from __future__ import annotations

from flask import Flask

from status.web import api_v1, console, language, machine, public, security


def init_app(app: Flask) -> None:
    language.init_app(app)
    security.init_app(app)
    public.init_app(app)
    machine.init_app(app)
    api_v1.init_app(app)
    console.init_app(app)
    public.install_fast_path(app)  # last: wraps the finished WSGI app
