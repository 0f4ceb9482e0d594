"""Wheel build hook: compiles the per-line modules with mypyc, as black ships its own.

The sources stay plain Python (the editable install, the tests and any machine without a C
compiler run them as they are); a wheel built where mypyc and a C compiler work carries the
compiled modules too, which Python imports first. Pure Python instead, with one warning line,
when OSLA_PURE_PYTHON=1 is set or the compilation fails.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# The modules every log line goes through (redact: every event osla parse writes; the report's
# counting and the rule engine's loop: every event osla report reads); compiling them makes
# `osla parse` and `osla report` faster (benchmarks/README.md). report/period.py is not among
# them: its frozen dataclass, compiled, cannot be unpickled (the report's workers send it back).
COMPILED = ("osloganalyze/parse/lines.py", "osloganalyze/parse/records.py", "osloganalyze/parse/timestamps.py",
            "osloganalyze/redact.py", "osloganalyze/sources/local.py", "osloganalyze/parse/__init__.py",
            "osloganalyze/report/tally.py", "osloganalyze/report/local.py",
            "osloganalyze/rules/signature.py", "osloganalyze/rules/findings.py", "osloganalyze/rules/engine.py")


class CompileParser(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel" or version != "standard" or os.environ.get("OSLA_PURE_PYTHON"):
            return
        self._scratch = tempfile.mkdtemp(prefix="osla-mypyc-")
        try:
            built = _compile(Path(self.root), Path(self._scratch))
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure leaves a working pure-Python wheel
            if isinstance(exc, SystemExit):  # mypyc exits on a type error, after printing it
                reason = "type errors"
            else:
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
            self.app.display_warning(f"osla: parser not compiled ({reason}); the wheel is pure Python")
            return
        for path, inside in built:
            build_data["force_include"][str(path)] = inside
        build_data["pure_python"] = False
        build_data["infer_tag"] = True  # cp311-cp311-linux_x86_64: the compiled modules fit one Python

    def finalize(self, version: str, build_data: dict, artifact_path: str) -> None:
        shutil.rmtree(getattr(self, "_scratch", ""), ignore_errors=True)


def _compile(root: Path, scratch: Path) -> list[tuple[Path, str]]:
    """Compile COMPILED; (built file, its path inside the wheel) for each extension module."""
    from mypyc.build import mypycify
    from setuptools import Distribution

    lib = scratch / "lib"
    here = os.getcwd()
    os.chdir(root)  # mypyc names the modules from the paths, relative to the project
    try:
        options = ["--ignore-missing-imports", "--follow-imports=silent", "--cache-dir", str(scratch / "mypy-cache")]
        extensions = mypycify([*options, *COMPILED], opt_level="3", target_dir=str(scratch / "c"))
        dist = Distribution({"name": "osloganalyze-compiled", "ext_modules": extensions})
        dist.script_name = "hatch_build.py"
        dist.script_args = ["build_ext", "--build-lib", str(lib), "--build-temp", str(scratch / "temp")]
        dist.parse_command_line()
        dist.run_commands()
    finally:
        os.chdir(here)
    built = [(path, path.relative_to(lib).as_posix()) for path in lib.rglob("*") if path.suffix in (".so", ".pyd")]
    if len(built) < len(COMPILED):
        raise RuntimeError(f"mypyc built {len(built)} modules of {len(COMPILED)}")
    return built
