"""The triage page and the report email's HTML in a real headless Chromium, at a desktop width
and at a phone's: no horizontal overflow, timestamps on one line, no script run (a log line
carrying a script and an event handler included), and screenshots kept ($OSLA_ARTIFACTS in CI)."""
import os
import shutil

import pytest
from browser import CHROMIUM, PWNED, measure, screenshot
from click.testing import CliRunner
from corpus import CORPUS

from osloganalyze.cli import main

SAMPLES = os.path.join(os.path.dirname(__file__), "..", "samples", "live-migration")
FAILED = "req-e4f91dbb-6b8f-4240-8a23-f424f1900e54"
INJECTED = (f"2015-10-29 10:51:11.650 4470 ERROR nova.api.openstack [{FAILED} None] "
            f"<script>window.{PWNED}=true</script><img src=x onerror=\"window.{PWNED}=true\"> "
            "a-very-long-token-without-any-space-" + "x" * 300)
WIDTHS = [1400, 390]  # a desktop's and a phone's CSS pixels

needs_chromium = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                                    reason="chromium not installed (scripts/test installs it)")


def osla(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def triage_page(tmp_path_factory):
    work = tmp_path_factory.mktemp("triage-page")
    tree = work / "tree"
    shutil.copytree(SAMPLES, tree)
    api_log = tree / "hp-ms-01-c29" / "var" / "log" / "nova" / "nova-api.log"
    lines = api_log.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("2015-10-29 10:51:11.649"))
    api_log.write_text("".join(lines[:at] + [INJECTED + "\n"] + lines[at:]))
    page = work / "triage.html"
    result = osla("triage", FAILED, tree, "--html", page)
    assert result.exit_code == 1 and page.is_file(), result.output
    return page


@pytest.fixture(scope="module")
def report_page(tmp_path_factory):
    page = tmp_path_factory.mktemp("report-page") / "report.html"
    result = osla("report", CORPUS / "uforia-OpenStackForensics", "--since", "2014-04-17", "--until", "2014-04-18",
                  "--baseline", "7d", "--no-state", "--kibana-url", "https://kibana.example.org:5601", "--html", page)
    assert result.exit_code == 1 and page.is_file(), result.output
    return page


@needs_chromium
@pytest.mark.parametrize("width", WIDTHS)
def test_the_triage_page_reads_well_in_a_browser(triage_page, width, tmp_path):
    facts = measure(triage_page, width, tmp_path, "td.time")
    shot = screenshot(triage_page, width, tmp_path)
    assert shot.stat().st_size > 10_000  # a page was drawn
    assert facts["width"] == width and facts["overflow"] <= 0 and facts["wide"] == [], facts
    assert facts["checked"] >= 10 and facts["wrapped"] == [], facts  # every timeline time on one line
    assert facts["scripts"] == 0 and facts["handlers"] == 0 and facts["pwned"] is False, facts
    assert "&lt;script&gt;window." in triage_page.read_text()  # the log text is shown, escaped


@needs_chromium
@pytest.mark.parametrize("width", WIDTHS)
def test_the_report_reads_well_in_a_browser(report_page, width, tmp_path):
    facts = measure(report_page, width, tmp_path, ".time")
    screenshot(report_page, width, tmp_path)
    assert facts["width"] == width and facts["overflow"] <= 0 and facts["wide"] == [], facts
    assert facts["checked"] >= 10 and facts["wrapped"] == [], facts
    assert facts["scripts"] == 0 and facts["handlers"] == 0 and facts["pwned"] is False, facts
