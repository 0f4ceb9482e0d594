"""A triage as text for a terminal (colour only on a terminal) or as one self-contained HTML page."""
from __future__ import annotations

from importlib import resources

import click

from ..output import printable_data

_LEVEL_COLOURS = {"CRITICAL": "red", "ERROR": "red", "WARNING": "yellow", "AUDIT": "cyan", "TRACE": "red"}
_VERDICT_COLOURS = {"bug": "red", "config": "yellow", "infrastructure": "magenta"}


def text(view: dict, colour: bool) -> str:
    """The triage for a terminal: every log text with its control characters escaped (a log
    line must not retitle the window, write the clipboard or overwrite what is shown)."""
    view = printable_data(view)

    def style(value, **kwargs):
        return click.style(value, **kwargs) if colour else value

    out: list[str] = []
    verdict = view["verdict"]
    if verdict:
        out.append(style(f"Verdict: {verdict['text']}", fg=_VERDICT_COLOURS[verdict["category"]], bold=True))
        if verdict.get("see_also"):
            out.append(style(f"  see also: {verdict['see_also']}", fg="yellow"))
        if verdict.get("linked"):
            out.append(style(f"  note: {verdict['linked']}", fg="yellow"))
    else:
        out.append(style("Verdict: no rule matched these events (no traceback, no 5xx, no known failure)", bold=True))
    summary = view["summary"]
    out.append(f"{summary['events']} events, {summary['requests']} requests, services: "
               f"{', '.join(summary['services'])}; hosts: {', '.join(summary['hosts'])}; "
               f"window {view['window']['since']} .. {view['window']['until']}")
    for limit in view["limits"]:
        out.append(style(f"note: {limit}", fg="yellow"))
    unread = view.get("read_errors") or []
    for error in unread[:5]:
        out.append(style(f"note: not read: {error}", fg="yellow"))
    if len(unread) > 5:
        out.append(style(f"note: {len(unread) - 5} more files not read (see --json)", fg="yellow"))
    for skipped in (view.get("skipped") or [])[:5]:
        out.append(style(f"note: {skipped}", fg="yellow"))
    if view["findings"]:
        out.append("")
        out.append(style("Findings", bold=True))
        for f in view["findings"]:
            esc = f" (escalated: {f['escalation']})" if f["escalated"] else ""
            out.append(f"  {f['severity']:<8} {f['category']:<14} {f['rule']}{esc}: {f['signature']}")
            out.append(f"           what to do: {f['remediation'].splitlines()[0]}")
    if view["nearby_errors"]:
        out.append("")
        out.append(style("Errors close in time, not linked by any id", bold=True))
        for row in view["nearby_errors"]:
            marks = " [" + ", ".join(row["rules"]) + "]" if row["rules"] else ""
            out.append(f"  {(row['time'] or '-')[11:23]:<12} {row['host'] or '-':<14} {row['service'] or '-':<18} "
                       f"{row['level']:<8} {row['message']}{marks}")
    out.append("")
    out.append(style("Followed", bold=True))
    for f in view["followed"]:
        out.append(f"  hop {f['hop']} {f['kind']:<8} {f['id']}  {f['reason']}")
    out.append("")
    out.append(style("Requests", bold=True))
    for root in view["requests"]:
        _node(out, root, 1, style)
    out.append("")
    out.append(style("Timeline", bold=True))
    for row in view["timeline"]:
        if row["gap_s"]:
            out.append(style(f"  ... {row['gap_s']:.1f} s later", dim=True))
        level = row["level"] or "-"
        marks = style(" [" + ", ".join(row["rules"]) + "]", fg="red", bold=True) if row["rules"] else ""
        first, *rest = (row["message"] or "").split("\n")
        out.append(f"  {(row['time'] or '-')[11:23]:<12} {row['host'] or '-':<14} {row['service'] or '-':<18} "
                   f"{style(f'{level:<8}', fg=_LEVEL_COLOURS.get(level))} {first}{marks}")
        for line in rest:
            out.append(" " * 6 + line)
        if row["stack_trace"]:
            for line in row["stack_trace"].split("\n"):
                out.append(style(" " * 6 + line, fg="red" if colour else None))
    return "\n".join(out) + "\n"


def _node(out: list, node: dict, depth: int, style) -> None:
    http = "; ".join(f"{h['method'] or ''} {h['url'] or ''} -> {h['status']}"
                     + (f" in {h['duration_ms']:.0f} ms" if h["duration_ms"] is not None else "") for h in node["http"])
    level = node["worst_level"] or "-"
    span = f"{node['span_ms'] / 1000:.1f} s" if node["span_ms"] is not None else "-"
    out.append(f"{'  ' * depth}{node['request_id']}  {', '.join(node['services'])} on {', '.join(node['hosts'])}, "
               f"{node['events']} events over {span}, worst {style(level, fg=_LEVEL_COLOURS.get(level))}"
               + (f"; {http}" if http else ""))
    for child in node["children"]:
        _node(out, child, depth + 1, style)


def html(view: dict) -> str:
    """One page, no external assets; jinja2 autoescaping escapes every log text."""
    import jinja2

    template = resources.files("osloganalyze.triage").joinpath("triage.html.j2").read_text(encoding="utf-8")
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return environment.from_string(template).render(view=view)
