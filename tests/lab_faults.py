"""Faults injected into a running OpenStack service, the ways the fault-injection literature does
(an exception raised inside a function, a wrong return value, a call missing a parameter, a
process killed), for the lab in :mod:`openstack_lab`. Imported by the service's WSGI entry
point after its application is built; never by osla.

Each named function is wrapped once at start-up. A wrapper reads the plan file (JSON, written by
the test before a request, removed after it) on every call and acts only when the plan names
its function. The wrapper's code carries the function's own file, name and first line, so the
traceback a fault leaves shows the fault inside that function, as a real bug's would."""
from __future__ import annotations

import builtins
import functools
import importlib
import inspect
import json
import os
import signal

PLAN = os.environ.get("OSLA_FAULT_PLAN", "")


def _plan() -> dict | None:
    try:
        with open(PLAN) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _exception(spec: str) -> type[BaseException]:
    """'KeyError' (a builtin) or 'package.module:Name'."""
    if ":" not in spec:
        return getattr(builtins, spec)
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def _resolve(target: str):
    """(owner, attribute name) of 'package.module:Class.method' or 'package.module:function'."""
    module, _, path = target.partition(":")
    owner = importlib.import_module(module)
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    return owner, name


def _wrap(target: str) -> None:
    owner, name = _resolve(target)
    raw = inspect.getattr_static(owner, name)
    kind = type(raw) if isinstance(raw, (staticmethod, classmethod)) else None
    original = raw.__func__ if kind else raw
    real = inspect.unwrap(original)

    def faulty(*args, **kwargs):
        plan = _plan()
        if not plan or plan.get("target") != target:
            return original(*args, **kwargs)
        mode = plan["mode"]
        if mode == "raise":
            raise _exception(plan["exception"])(plan.get("message", ""))
        if mode == "return":
            return plan.get("value")
        if mode == "drop-argument":  # the function itself, past its decorators, called one argument short
            if plan.get("argument") in kwargs:
                kwargs.pop(plan["argument"])
            else:
                args = args[:-1]
            return real(*args, **kwargs)
        if mode == "kill":  # the worker dies mid-request, as on a segfault or the OOM killer
            os.kill(os.getpid(), signal.SIGKILL)
        raise ValueError(f"unknown fault mode {mode!r}")

    code = real.__code__
    faulty.__code__ = faulty.__code__.replace(co_filename=code.co_filename, co_name=code.co_name,
                                              co_qualname=code.co_qualname, co_firstlineno=code.co_firstlineno)
    wrapper = functools.wraps(original)(faulty)
    setattr(owner, name, kind(wrapper) if kind else wrapper)


def install(targets: list[str]) -> None:
    for target in targets:
        _wrap(target)
