import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/corpus.py

from corpus import CORPUS  # noqa: E402


def pytest_sessionstart(session):
    if not (CORPUS / "SOURCES.md").is_file():
        raise pytest.UsageError(f"the real-log corpus is not at {CORPUS} (set OSLA_CORPUS): most tests need it")
