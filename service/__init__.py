"""linkwatch: a self-hosted link-rot and archive monitor."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("linkwatch")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

PROJECT_URL = "https://github.com/linkwatch/linkwatch"
