"""``osla fluentd render|check`` and ``osla pipeline check``: Fluentd at the edge."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .common import Failure, es_client, es_options, former_name, renamed, say
from .types import HOST_PORT


@click.group("fluentd", short_help="Fluentd configs that ship the logs, and their checks.")
def fluentd_group():
    """Fluentd configs that ship OpenStack logs to Elasticsearch/OpenSearch.

    \b
    Examples:
      osla fluentd render --inventory inventory.yaml --out /etc/fluent/osla
      osla fluentd check /etc/fluent/osla
    """


@fluentd_group.command("render", short_help="Write Fluentd configs for the inventory's nodes.")
@click.option("--inventory", "inventory_file", type=click.Path(dir_okay=False),
              help="Inventory YAML: backend, nodes and their services (start from: osla fluentd example-inventory).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Directory to write the configs to.")
@click.option("--mode", type=click.Choice(["sidecar", "host"]), default="sidecar", show_default=True,
              help="One config per component (a sidecar per service), or one per node.")
@click.option("--discover", "discover_root", type=click.Path(file_okay=False),
              help="Ship what is found here (e.g. /var/log on this node) instead of the inventory's nodes.")
@click.option("--node", help="Node name with --discover (default: this host's name).")
def render_command(inventory_file, out, mode, discover_root, node):
    """Write Fluentd configs (0600) for the inventory's nodes, or for what --discover finds.

    \b
    Examples:
      osla fluentd render --inventory inventory.yaml --out /etc/fluent/osla
      osla fluentd render --inventory inventory.yaml --discover /var/log --mode host --out /etc/fluent/osla
    """
    from ..fluentd import inventory as inv
    from ..fluentd.render import render, write

    if not inventory_file:
        raise Failure("give --inventory FILE: the backend (hosts, user, password_from) and the nodes; with "
                      "--discover DIR the services come from this node (osla does not guess where logs go)")
    try:
        inventory = inv.load(inventory_file, require_nodes=not discover_root) if inventory_file else None
        if discover_root:
            found = inv.discover(discover_root, inventory.backend if inventory else None, node)
            if inventory:
                found.index_prefix, found.timezone = inventory.index_prefix, inventory.timezone
                found.keep_secrets, found.state_dir = inventory.keep_secrets, inventory.state_dir
                found.buffer, found.forward = inventory.buffer, inventory.forward
                found.source = f"{inventory_file} + {found.source}"
            inventory = found
        written = write(render(inventory, mode), out)
    except OSError as exc:
        raise Failure(f"cannot write {out}: {exc.strerror or exc}") from None
    for path in written:
        click.echo(path)
    configs = [path for path in written if path.endswith(".conf")]
    plugin = f"; run fluentd with -p {Path(out) / 'plugin'} (osla's filter plugins)"
    click.echo(f"{len(configs)} configs for {len(inventory.nodes)} nodes ({mode} mode){plugin}", err=True)
    if inventory.skipped:
        say("note", "not shipped, no oslo.log records in their *.log files (the configs parse oslo.log): "
                    + ", ".join(inventory.skipped))


@fluentd_group.command("example-inventory", short_help="Print an example inventory to start from.")
def example_inventory_command():
    """Print an example inventory (backend, nodes, services) to start from.

    \b
    Example:
      osla fluentd example-inventory > inventory.yaml
    """
    from ..resources import data_dir

    click.echo((data_dir("samples") / "fluentd-inventory.yaml").read_text(encoding="utf-8"), nl=False)


@fluentd_group.command("check", short_help="Check rendered configs: dry-run and every regexp.")
@click.argument("directory", type=click.Path(exists=True))
@click.option("--fluentd", "fluentd_bin", type=click.Path(dir_okay=False), help="fluentd executable (default: on PATH).")
@click.option("--ruby", "ruby_bin", type=click.Path(dir_okay=False), help="ruby executable (default: on PATH).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: every file and its problems.")
def check_command(directory, fluentd_bin, ruby_bin, as_json):
    """Check rendered configs: fluentd --dry-run where fluentd is installed, and every regexp
    in Ruby (Onigmo) against osla's Python parser on golden lines. Exit 1 on any problem.
    A file is "ok" only when the dry-run passed too; "PART" when only its regexps could be
    checked (no fluentd: give --fluentd).

    \b
    Example:
      osla fluentd check /etc/fluent/osla --fluentd /opt/fluent/bin/fluentd
    """
    from ..fluentd.check import check_dir

    reports, notes = check_dir(directory, fluentd_bin, ruby_bin)
    failed = [r for r in reports if r.problems]
    if as_json:
        click.echo(json.dumps({"files": [r.__dict__ for r in reports], "notes": notes}))
    else:
        for report in reports:
            state = "FAIL" if report.problems else ("ok" if report.dry_run == "passed" else "PART")
            click.echo(f"{state:<5}{report.path}: {report.regexps} regexps, dry-run {report.dry_run}")
            for problem in report.problems:
                click.echo(f"      {problem}")
    for note in notes:
        say("note", note)
    if failed or any("no ruby" in n for n in notes):
        sys.exit(1)


@click.group("pipeline")
def pipeline_group():
    """The whole shipping path, end to end.

    \b
    Example:
      osla pipeline check --forward 127.0.0.1:24224 --es https://es:9200
    """


@pipeline_group.command("check", short_help="Send a canary through Fluentd to the server; print the latency.")
@click.option("--forward", "address", type=HOST_PORT, metavar="HOST:PORT",
              help="Fluentd's forward input (the configs' <source> @type forward).  [required]")
@former_name("--fluentd", "address", type=HOST_PORT)
@es_options
@click.option("--prefix", default="openstack", show_default=True, help="Index prefix the configs ship into.")
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for the canary.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def pipeline_check_command(address, address_former, es_urls, es_user, es_password, es_ca, es_api_key, config_file,
                           prefix, timeout, as_json):
    """Send a canary through Fluentd into Elasticsearch or OpenSearch; print the latency, or the hop that failed.

    \b
    Example:
      osla pipeline check --forward 127.0.0.1:24224 --es https://es:9200 --timeout 30
    """
    from ..es.connection import server_errors
    from ..fluentd.pipeline import check

    address = renamed(address, address_former, "--fluentd", "--forward")
    if address is None:
        raise Failure("give --forward HOST:PORT: Fluentd's forward input (127.0.0.1:24224 in osla's configs)")

    client, settings = es_client(es_urls, es_user, es_password, es_ca, es_api_key, config_file)
    with server_errors(settings):
        result = check(address, client, prefix, timeout)
    if as_json:
        click.echo(json.dumps(result.__dict__))
    if not result.ok:
        raise Failure(f"pipeline broken at {result.hop}: {result.detail}")
    if not as_json:
        click.echo(f"canary {result.canary_id} reached {client.info.title} in {result.latency_s:.2f} s "
                   f"({result.detail})")
