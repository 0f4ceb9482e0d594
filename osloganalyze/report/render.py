"""The report as text, as HTML (jinja2, autoescaped), with its charts."""
from __future__ import annotations

import base64

import jinja2

from .. import __version__
from ..output import map_text, printable_data
from ..redact import redact
from . import analyze
from .build import flagged, subject
from .charts import errors_chart
from .period import WINDOW

_ENV: dict = {}


def _template(name: str, html: bool) -> jinja2.Template:
    if name not in _ENV:
        env = jinja2.Environment(loader=jinja2.PackageLoader("osloganalyze", "report"),
                                 autoescape=html, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
        _ENV[name] = env.get_template(name)
    return _ENV[name]


def scrub(value):
    """Every text of the report with secrets redacted, whatever path it came by."""
    return map_text(value, redact)


def _context(report: dict) -> dict:
    return {"r": report, "flagged": flagged(report), "subject": subject(report), "version": __version__,
            "limits": {"spike_count": analyze.SPIKE_MIN_COUNT, "spike_z": analyze.SPIKE_MIN_Z,
                       "http_rate": f"{analyze.HTTP_5XX_RATE:.0%}", "window": WINDOW // 60}}


def text(report: dict) -> str:
    return _template("report.txt.j2", False).render(_context(printable_data(scrub(report))))


def charts(report: dict) -> dict[str, bytes]:
    """PNG per charted service."""
    return {service: errors_chart(service, data) for service, data in report.get("charts", {}).items()}


def html(report: dict, images: dict[str, str]) -> str:
    """``images``: service -> the src of its chart (a cid: in email, a data: URI in a file)."""
    return _template("report.html.j2", True).render(_context(scrub(report)), images=images)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()
