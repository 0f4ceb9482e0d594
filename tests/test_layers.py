"""The tree shows the data flow: imports run one way only,
cli -> backends -> triage | report -> rules -> parse -> sources -> the base modules (schema,
errors, times...). Each module's package has a rank; a module may import only modules of a
lower rank or of its own package, and triage and report never import each other."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "osloganalyze"
RANKS = {
    # the base: small modules every layer uses, themselves in order
    "__init__": 0, "errors": 0, "schema": 0, "durations": 0, "resources": 0, "output": 0,
    "times": 0.1, "query": 0.1, "patterns": 0.2, "redact": 0.2,
    "sources": 1, "es": 1,  # file access; the search server's client at the edge
    "parse": 2,
    "rules": 3, "fluentd": 3,  # fluentd renders the parser's patterns and ships findings it is handed
    "triage": 4, "report": 4,
    "backends": 5,
    "cli": 6, "__main__": 7,
}


def _layer(module: str) -> str:
    """'osloganalyze.triage.local' -> 'triage'; 'osloganalyze.schema' -> 'schema'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(relative.parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The osloganalyze modules that ``module`` imports (at the top or inside functions)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("osloganalyze"):
                continue
            names = [f"{target}.{alias.name}" for alias in node.names]
            found.update(name if name in known else target for name in names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("osloganalyze"))
    return found


def _against_the_flow() -> list[str]:
    modules = _modules()
    wrong = []
    for module, path in sorted(modules.items()):
        mine = _layer(module)
        for target in sorted(_imports(module, path, set(modules))):
            theirs = _layer(target)
            if theirs == mine or target == "osloganalyze":
                continue
            if RANKS[theirs] >= RANKS[mine]:
                wrong.append(f"{module} imports {target} ({mine} may not import {theirs})")
    return wrong


def test_every_package_has_a_rank():
    assert {_layer(m) for m in _modules()} <= set(RANKS)


def test_imports_run_one_way():
    assert _against_the_flow() == []


def test_the_check_catches_an_import_against_the_flow(tmp_path, monkeypatch):
    """The test above can fail: a report module importing triage, or sources importing parse."""
    for source, line in (("report", "from ..triage.view import build\n"), ("sources", "from ..parse import Stats\n")):
        fake = PACKAGE / source / f"_layer_probe_{source}.py"
        fake.write_text(line)
        try:
            assert any(f"_layer_probe_{source}" in problem for problem in _against_the_flow())
        finally:
            fake.unlink()


@pytest.mark.parametrize("name", ["sources.pool", "sources.grep", "sources.seek"])
def test_the_triage_grep_imports_little(name):
    """The grep forks from a small process (triage starts its search early): the modules it
    loads import no parser, rules, pandas or search client at the top."""
    path = PACKAGE / (name.replace(".", "/") + ".py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = {alias.name for n in top if isinstance(n, ast.Import) for alias in n.names}
    names |= {(n.module or "") for n in top if isinstance(n, ast.ImportFrom)}
    assert not names & {"pandas", "elasticsearch", "parse", "..parse", "rules", "..rules", "multiprocessing"}
