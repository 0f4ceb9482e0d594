import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/corpus.py

from corpus import CORPUS  # noqa: E402


def pytest_sessionstart(session):
    if not (CORPUS / "SOURCES.md").is_file():
        raise pytest.UsageError(f"the real-log corpus is not at {CORPUS} (set OSLA_CORPUS): most tests need it")


@pytest.fixture(scope="session")
def es_url(tmp_path_factory):
    """A real Elasticsearch node (security off) for the whole session, stopped at the end."""
    from esnode import es_node

    node = es_node.Node(es_node.CACHE / "nodes" / f"test-{tmp_path_factory.getbasetemp().name}")
    try:
        yield node.start()
    finally:
        node.stop()
        _remove(node.root)


@pytest.fixture(scope="session")
def secure_es(tmp_path_factory):
    """A second node with security on: TLS with a CA the test generated, a file-realm user."""
    from esnode import es_node, make_certs

    certs = make_certs(tmp_path_factory.mktemp("certs"))
    secure = dict(certs, user="osla", password="s3cret-Pa55word")
    node = es_node.Node(es_node.CACHE / "nodes" / f"secure-{tmp_path_factory.getbasetemp().name}")
    try:
        yield dict(secure, url=node.start(secure=secure))
    finally:
        node.stop()
        _remove(node.root)


def _remove(path):
    import shutil
    shutil.rmtree(path, ignore_errors=True)
