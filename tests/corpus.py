"""Access to ../shared/corpus for the tests (the corpus is read in place, never copied)."""
from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

CORPUS = Path(os.environ.get("OSLA_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus"))

# The log files of the corpus (not its CSV/JSON/README files): path -> non-blank line count is computed.
LOG_GLOBS = ("loghub/*.log", "ParisaKalaki-openstack-logs/*.log.gz", "os-loganalyze/*.txt", "os-loganalyze/*.gz",
             "os-log-merger-live-migration/*/var/log/*/*.log", "uforia-OpenStackForensics/var/log/*/*.log",
             "snippets/*.txt")


def log_files() -> list[Path]:
    files = []
    for pattern in LOG_GLOBS:
        files.extend(sorted(CORPUS.glob(pattern)))
    return files


def read_text(path: Path) -> str:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        return fh.read().decode("utf-8", "replace")


def snippet_blocks(name: str) -> dict[str, str]:
    """snippets/<name>: '#### BLOCK X | ...' headers split verbatim log excerpts; '#' lines are annotations."""
    blocks: dict[str, list[str]] = {}
    current = None
    for line in read_text(CORPUS / "snippets" / name).split("\n"):
        m = re.match(r"^#### BLOCK (\w+)", line)
        if m:
            current = m.group(1)
            blocks[current] = []
        elif line.startswith("#"):
            continue
        elif current is not None:
            blocks[current].append(line)
    return {k: "\n".join(v) for k, v in blocks.items()}
