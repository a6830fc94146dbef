"""The HTML report as Chromium lays it out: its stylesheet must not reshape the charts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.web.test_chromium import CHROMIUM, chromium

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium chromium-driver)"
)

GOLDEN = Path(__file__).parent / "golden" / "report.html"
# Appended to a copy of the report: writes what the browser laid out into the DOM.
PROBE = """<script>
const out = {
  years: [...document.querySelectorAll('svg.rot-chart rect')].map(r => [
    r.dataset.year, Number(r.getAttribute('height')), r.getBoundingClientRect().height]),
  health: [...document.querySelectorAll('svg.bar')].map(s => s.getBoundingClientRect().height),
};
document.body.setAttribute('data-probe', JSON.stringify(out));
</script>"""


def test_year_bars_are_as_tall_as_their_share_and_health_bars_stay_thin(
    tmp_path: Path,
) -> None:
    page = tmp_path / "report.html"
    html = GOLDEN.read_text()
    # The report forbids scripts (its Content-Security-Policy): the probe's copy lifts that.
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html, count=1)
    page.write_text(html.replace("</body>", PROBE + "</body>"))
    result = chromium(["--dump-dom", page.as_uri()], tmp_path / "profile")
    assert result.returncode == 0, result.stderr[-2000:]
    found = re.search(r'data-probe="([^"]*)"', result.stdout)
    assert found, result.stdout[-2000:]
    probe = json.loads(found.group(1).replace("&quot;", '"'))
    assert [year for year, _, _ in probe["years"]] == ["2019", "2021"]
    for _, drawn, laid_out in probe["years"]:  # a 10-px CSS height once overrode these
        assert laid_out == pytest.approx(drawn, abs=1.0)
    assert probe["health"] and all(h == pytest.approx(10, abs=0.5) for h in probe["health"])
