"""web stage: the dashboard, JSON API, /metrics and /healthz (read-only unless a token is set).

- `create_app(db, settings, *, clock=...) -> FastAPI`
- `run_dashboard(db, settings)`: blocking, for `linkwatch serve`
- `await serve_dashboard(db, settings, stop_event)`: inside a running event loop
- `start_dashboard(db, settings, stop_event)` / `await stop_dashboard(task, stop_event)`: what
  `linkwatch run` does when web.enabled
"""

from __future__ import annotations

from service.web.app import create_app
from service.web.server import (
    bind_socket,
    run_dashboard,
    serve_dashboard,
    start_dashboard,
    stop_dashboard,
)

__all__ = [
    "bind_socket",
    "create_app",
    "run_dashboard",
    "serve_dashboard",
    "start_dashboard",
    "stop_dashboard",
]
