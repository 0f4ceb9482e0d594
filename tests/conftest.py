"""Test tiers. A test is *slow* when it needs the real-log corpus (found from what it uses, see
:func:`_corpus_users`), a server the suite starts (Elasticsearch, Keystone), a built wheel, or
is marked so; ``scripts/test -m "not slow"`` is the fast tier: no corpus, no server.

Without the corpus, the tests that need it are skipped with the reason; in CI (CI set) a
missing corpus stops the run instead, so that a green CI always means the corpus was read."""
import ast
import inspect
import os
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/corpus.py

from corpus import CORPUS  # noqa: E402

HAVE_CORPUS = (CORPUS / "SOURCES.md").is_file()
# the session's search nodes hold every server test's indices (the lab's, keystone's, the corpus):
# 512 MB tripped Elasticsearch's parent circuit breaker once the fault-injection lab was added
os.environ.setdefault("OSLA_ES_HEAP", "768m")
SERVER_FIXTURES = {"es_url", "secure_es", "keystone", "lab", "uforia_indexed", "indexed", "installed"}
_CORPUS_ROOTS = {"CORPUS", "log_files", "snippet_blocks"}  # what tests/corpus.py gives access through


def pytest_sessionstart(session):
    if not HAVE_CORPUS and os.environ.get("CI"):
        raise pytest.UsageError(f"the real-log corpus is not at {CORPUS} (set OSLA_CORPUS): CI must read it")
    # `osla report PATH` keeps a state store by default: the suite's goes to a folder of its own
    # (shared by its tests, so every local report also runs through the store), never /var/lib/osla
    import tempfile
    os.environ["OSLA_STATE_DIR"] = tempfile.mkdtemp(prefix="osla-test-state-")


def pytest_sessionfinish(session):
    state = os.environ.get("OSLA_STATE_DIR", "")
    if state.startswith(tempfile_root()):
        _remove(state)


def tempfile_root() -> str:
    import tempfile
    return os.path.join(tempfile.gettempdir(), "osla-test-state-")


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | \
        {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}


_MODULE_USERS: dict[str, set[str]] = {}


def _corpus_users(module) -> set[str]:
    """The module-level names of a test module that reach the corpus, directly or through
    another such name (constants like BUNDLE, helpers, fixtures)."""
    if module.__name__ not in _MODULE_USERS:
        tree = ast.parse(inspect.getsource(module))
        defined: dict[str, ast.AST] = {}
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined[node.name] = node
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for name in _names(target):
                        defined[name] = node
        users = set(_CORPUS_ROOTS)
        grown = True
        while grown:
            grown = False
            for name, node in defined.items():
                if name not in users and _names(node) & users:
                    users.add(name)
                    grown = True
        _MODULE_USERS[module.__name__] = users
    return _MODULE_USERS[module.__name__]


def _needs_corpus(item) -> bool:
    function = getattr(item, "function", None)
    if function is None:
        return False
    users = _corpus_users(item.module)
    used = _names(ast.parse(textwrap.dedent(inspect.getsource(function))))  # decorators and body
    return bool((used | set(item.fixturenames)) & users)


def pytest_collection_modifyitems(config, items):
    skip = pytest.mark.skip(reason=f"needs the real-log corpus at {CORPUS} (set OSLA_CORPUS)")
    for item in items:
        corpus = _needs_corpus(item)
        server = bool(set(item.fixturenames) & SERVER_FIXTURES)
        if corpus:
            item.add_marker("corpus")
            if not HAVE_CORPUS:
                item.add_marker(skip)
        if server:
            item.add_marker("server")
        if corpus or server:
            item.add_marker("slow")


SERVER_PRODUCTS = ("elasticsearch", "opensearch")


@pytest.fixture(scope="session", params=SERVER_PRODUCTS)
def es_url(request, tmp_path_factory):
    """A real search node (security off) for the whole session, stopped at the end: every test
    that takes it runs twice, on Elasticsearch and on OpenSearch."""
    from esnode import es_node

    node = es_node.Node(es_node.CACHE / "nodes" / f"test-{request.param}-{tmp_path_factory.getbasetemp().name}",
                        request.param)
    try:
        yield node.start()
    finally:
        node.stop()
        _remove(node.root)


@pytest.fixture(scope="session")
def secure_es(tmp_path_factory):
    """A second node with security on: TLS with a CA the test generated, a file-realm user.
    Elasticsearch only: OpenSearch's integ-test zip has no security plugin (not on Maven Central)."""
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


@pytest.fixture
def server_product(es_url) -> str:
    """elasticsearch | opensearch: which node this run of the test talks to."""
    from esnode import Http

    return Http(es_url).product()
