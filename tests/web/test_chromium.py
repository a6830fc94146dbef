"""End to end in headless Chromium: the served article page shows the dead link and its archive."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.web.conftest import Dashboard

CHROMIUM = (
    shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium chromium-driver)"
)


def chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_article_page_in_chromium_shows_dead_link_and_archive(
    dashboard: Dashboard, tmp_path: Path
) -> None:
    url = f"{dashboard.base}/articles/{dashboard.ids.article_a}"
    result = chromium(["--virtual-time-budget=3000", "--dump-dom", url], tmp_path / "profile")
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    # the browser parsed the page: the dead link's card, its text shown as text, its archive link
    assert 'data-health="dead"' in dom
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert 'href="https://gone.example/story"' in dom
    assert (
        'class="archive-link" href="https://web.archive.org/web/20180526093000/https://gone.example/story"'
        in dom
    )
    assert "The server says the page is gone" in dom
    # no script ran and none was injected: the DOM has no <script> element at all
    assert "<script" not in dom.lower()


def test_article_page_screenshot_is_a_png(dashboard: Dashboard, tmp_path: Path) -> None:
    shot = tmp_path / "page.png"
    url = f"{dashboard.base}/articles/{dashboard.ids.article_a}"
    result = chromium(
        ["--hide-scrollbars", "--window-size=412,900", f"--screenshot={shot}", url], tmp_path / "p"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
