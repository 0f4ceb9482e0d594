"""osla's HTML pages in a real headless Chromium (Debian's chromium package): what a person would
notice, measured in the page as the browser laid it out, and screenshots.

The page is loaded in an iframe of a small measuring page (same file:// origin with
--allow-file-access-from-files), whose script reads the layout and writes it into its own DOM,
which --dump-dom prints. The page itself runs no script: its own <script> elements are counted,
and a marker a script injected through log text would set is checked."""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PWNED = "__osla_pwned"  # what an injected script would set on the page's window

_MEASURE = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="page" src="%(src)s" style="width:%(width)spx;height:4000px;border:0"></iframe>
<script>
document.getElementById("page").addEventListener("load", () => {
  const frame = document.getElementById("page"), d = frame.contentDocument;
  const lines = (element) => {  // line boxes of an element's text as laid out
    const range = d.createRange(); range.selectNodeContents(element);
    const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
    return tops.size;
  };
  const wrapped = [...d.querySelectorAll(%(nowrap)s)].filter((e) => e.textContent.trim() && lines(e) > 1)
    .map((e) => e.textContent.trim()).slice(0, 5);
  const result = {
    width: d.documentElement.clientWidth,
    overflow: d.documentElement.scrollWidth - d.documentElement.clientWidth,
    wide: [...d.body.querySelectorAll("*")].filter((e) => e.getBoundingClientRect().right >
          d.documentElement.clientWidth + 1).map((e) => e.tagName + "." + e.className).slice(0, 5),
    scripts: d.scripts.length, handlers: d.querySelectorAll("[onload],[onerror],[onclick]").length,
    pwned: frame.contentWindow.%(pwned)s === true, wrapped: wrapped,
    checked: d.querySelectorAll(%(nowrap)s).length,
  };
  document.body.setAttribute("data-result", JSON.stringify(result));
});
</script></body></html>"""


def measure(page: Path, width: int, work: Path, nowrap: str) -> dict:
    """Layout facts of ``page`` at ``width`` CSS pixels; ``nowrap``: a CSS selector of elements
    whose text must stay on one line (timestamps)."""
    probe = work / f"measure-{page.stem}-{width}.html"
    probe.write_text(_MEASURE % {"src": page.resolve().as_uri(), "width": width, "nowrap": json.dumps(nowrap),
                                 "pwned": PWNED})
    dom = _chromium(work, "--dump-dom", probe.resolve().as_uri())
    found = re.search(r'data-result="([^"]*)"', dom)
    assert found, f"the measuring page wrote no result: {dom[-500:]}"
    return json.loads(html.unescape(found.group(1)))


def screenshot(page: Path, width: int, work: Path) -> Path:
    """A PNG of the page at ``width`` px, kept in $OSLA_ARTIFACTS (CI keeps it) or ``work``."""
    folder = Path(os.environ.get("OSLA_ARTIFACTS") or work) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{page.stem}-{width}px.png"
    _chromium(work, f"--screenshot={target}", f"--window-size={width},2400", page.resolve().as_uri())
    return target


def _chromium(work: Path, *args: str) -> str:
    assert CHROMIUM, "chromium is not installed (scripts/test installs Debian's chromium)"
    proc = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--allow-file-access-from-files", "--virtual-time-budget=5000",
                           f"--user-data-dir={work / 'chromium-profile'}", *args],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout
