"""``osla rules list|show|test``: what the rules are, and a rule author's loop."""
from __future__ import annotations

import json
import sys

import click

from ..rules.model import Rule
from .common import Failure, loaded_rules, rules_option


@click.group("rules")
def rules_group():
    """The rules osla judges logs with (built in, plus --rules DIR).

    \b
    Examples:
      osla rules list
      osla rules show python-traceback
      osla rules test /etc/osla/rules
    """


@rules_group.command("list")
@rules_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per rule.")
def list_command(rules_dirs, as_json):
    """Every rule: id, category, severity, title.

    \b
    Example:
      osla rules list --rules /etc/osla/rules --json | jq -r .id
    """
    rules = loaded_rules(rules_dirs)
    if as_json:
        for rule in rules:
            click.echo(json.dumps(rule.summary()))
        return
    width = max(len(r.id) for r in rules)
    for rule in rules:
        click.echo(f"{rule.id:<{width}}  {rule.category:<14} {rule.severity:<8} {rule.title}")
    click.echo(f"{len(rules)} rules", err=True)


@rules_group.command("show")
@click.argument("rule_id")
@rules_option
@click.option("--json", "as_json", is_flag=True, help="The rule and its compiled Elasticsearch query as JSON.")
def show_command(rule_id, rules_dirs, as_json):
    """One rule in full, with the Elasticsearch query it compiles to.

    \b
    Example:
      osla rules show fernet-key-repository-unusable
    """
    from ..rules.engine import effective_condition
    from ..rules.to_elasticsearch import compile_query

    rules = {r.id: r for r in loaded_rules(rules_dirs)}
    rule = rules.get(rule_id)
    if rule is None:
        raise Failure(f"no rule {rule_id!r} (see osla rules list)")
    query = compile_query(effective_condition(rule))
    if as_json:
        click.echo(json.dumps(dict(rule.summary(), explain=rule.explain, remediation=rule.remediation,
                                   references=list(rule.references), supersedes=list(rule.supersedes),
                                   superseded_by=[r.id for r in rule.superseded_by],
                                   elasticsearch_query=query), indent=2))
        return
    _show(rule, query)


def _show(rule: Rule, query: dict) -> None:
    click.echo(f"{rule.id}: {rule.title}")
    click.echo(f"  category {rule.category}, severity {rule.severity}, from {rule.path}")
    if rule.services:
        click.echo(f"  services: {', '.join(rule.services)}")
    if rule.supersedes:
        click.echo(f"  supersedes: {', '.join(rule.supersedes)}")
    if rule.superseded_by:
        click.echo(f"  superseded by: {', '.join(r.id for r in rule.superseded_by)}")
    if rule.escalate_when:
        e = rule.escalate_when
        click.echo(f"  escalates to {e.category}/{e.severity} when {e.reason} (same {', '.join(e.same)})")
    if rule.threshold:
        click.echo(f"  reported only for bursts: {rule.threshold.text}")
    click.echo("\nWhat it means:\n  " + rule.explain)
    click.echo("\nWhat to do:\n" + "\n".join("  " + line for line in rule.remediation.splitlines()))
    if rule.references:
        click.echo("\nReferences:\n" + "\n".join(f"  {r}" for r in rule.references))
    click.echo(f"\nExamples: {len(rule.raise_examples)} must raise, {len(rule.not_raise_examples)} must not")
    click.echo("\nElasticsearch query:\n" + json.dumps(query, indent=2))


@rules_group.command("test")
@click.argument("directory", required=False, type=click.Path(file_okay=False))
@rules_option
@click.option("--rule", "only", multiple=True, help="Only this rule (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per example.")
def test_command(directory, rules_dirs, only, as_json):
    """Run every rule's examples: raise must raise, not_raise must not.

    DIRECTORY adds a folder of rule files (like --rules) and tests only its
    rules; without it every rule is tested. Exit 1 if any example fails.

    \b
    Examples:
      osla rules test
      osla rules test /etc/osla/rules
    """
    from ..rules.examples import run_examples

    dirs = tuple(rules_dirs) + ((directory,) if directory else ())
    rules = loaded_rules(dirs)
    selected = set(only) if only else None
    if directory:
        from pathlib import Path
        mine = {r.id for r in rules if Path(r.path).parent.resolve() == Path(directory).resolve()}
        selected = mine if selected is None else selected & mine
    unknown = (set(only) - {r.id for r in rules}) if only else set()
    if unknown:
        raise Failure(f"no rule {sorted(unknown)[0]!r} (see osla rules list)")
    outcomes = run_examples(rules, selected)
    failed = [o for o in outcomes if not o.ok]
    for o in outcomes:
        if as_json:
            click.echo(json.dumps(o.__dict__))
        elif not o.ok:
            click.echo(f"FAIL {o.rule} {o.kind}[{o.index}]: {o.problem}" + (f" ({o.source})" if o.source else ""))
    tested = len({o.rule for o in outcomes})
    click.echo(f"{len(outcomes) - len(failed)}/{len(outcomes)} examples pass ({tested} rules)", err=True)
    if failed:
        sys.exit(1)
