"""The composable index template for '<prefix>-*' (daily indices as Fluentd's logstash_format
writes them), built from the schema so every field has its type and none can conflict."""
from __future__ import annotations

from .. import __version__, schema
from .connection import EsError

TEMPLATE_VERSION = 2

_MAPPING: dict[str, dict] = {
    "keyword": {"type": "keyword", "ignore_above": schema.KEYWORD_LIMIT},
    "text": {"type": "text"},
    "long": {"type": "long"},
    "date": {"type": "date"},
    "ip": {"type": "ip"},
    "raw": {"type": "keyword", "index": False, "doc_values": False},  # kept for display, not searched
}
_EXACT_TEXT_MAPPING: dict = {"type": "text", "fields": {
    schema.EXACT_SUBFIELD: {"type": "keyword", "ignore_above": schema.TEXT_KEYWORD_LIMIT}}}


def properties() -> dict:
    """Nested mapping properties for every schema field (dotted names become objects)."""
    root: dict = {}
    for name, field in schema.FIELDS.items():
        mapping = _EXACT_TEXT_MAPPING if field.exact else _MAPPING[field.type]
        node = root
        *parents, leaf = name.split(".")
        for part in parents:
            node = node.setdefault(part, {"properties": {}})["properties"]
        node[leaf] = dict(mapping)
    return root


def index_template(prefix: str, lifecycle: str | None = None) -> dict:
    settings = {"index.mapping.total_fields.limit": 2000, "index.refresh_interval": "5s"}
    if lifecycle:
        settings["index.lifecycle.name"] = lifecycle
    return {
        "index_patterns": [f"{prefix}-*"],
        "priority": 200,
        "version": TEMPLATE_VERSION,
        "_meta": {"managed_by": "osla", "osla_version": __version__},
        "template": {
            "settings": settings,
            # unknown fields become runtime fields: searchable, never a mapping conflict
            "mappings": {"dynamic": "runtime", "date_detection": False, "properties": properties()},
        },
    }


def setup(client, prefix: str = "openstack", retention_days: int | None = None) -> dict:
    """Install (or replace: idempotent) the template, and a delete-after-N-days ILM policy."""
    from elasticsearch import ApiError

    lifecycle = None
    if retention_days is not None:
        if retention_days < 1:
            raise EsError("--retention-days must be at least 1")
        lifecycle = f"{prefix}-retention"
        policy = {"phases": {"hot": {"actions": {}},
                             "delete": {"min_age": f"{retention_days}d", "actions": {"delete": {}}}}}
        try:
            client.ilm.put_lifecycle(name=lifecycle, policy=policy)
        except ApiError as exc:
            if exc.meta.status in (400, 404, 405):
                raise EsError("this server has no index lifecycle management (ILM), so no retention was set "
                              "(OpenSearch uses ISM policies instead); nothing was changed") from None
            raise
    client.indices.put_index_template(name=prefix, **index_template(prefix, lifecycle))
    return {"template": prefix, "index_patterns": [f"{prefix}-*"], "lifecycle": lifecycle,
            "version": TEMPLATE_VERSION}


def ensure(client, prefix: str = "openstack") -> str | None:
    """Install the template if PREFIX has none, or upgrade one an older osla installed (keeping its
    retention policy). Returns what was done ('installed', 'upgraded') or None."""
    from elasticsearch import NotFoundError

    try:
        found = client.indices.get_index_template(name=prefix)["index_templates"]
    except NotFoundError:
        found = []
    if not found:
        setup(client, prefix)
        return "installed"
    current = found[0]["index_template"]
    if current.get("_meta", {}).get("managed_by") != "osla" or current.get("version", 0) >= TEMPLATE_VERSION:
        return None  # someone else's template, or already current
    lifecycle = current.get("template", {}).get("settings", {}).get("index", {}).get("lifecycle", {}).get("name")
    client.indices.put_index_template(name=prefix, **index_template(prefix, lifecycle))
    return "upgraded"
