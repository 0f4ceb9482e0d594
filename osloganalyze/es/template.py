"""The composable index template for '<prefix>-*' (daily indices as Fluentd's logstash_format
writes them), built from the schema so every field has its type and none can conflict."""
from __future__ import annotations

from .. import __version__, schema
from .client import ELASTICSEARCH, NoLifecyclePlugin, SearchClient
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


def index_template(prefix: str, lifecycle: str | None = None, product: str = ELASTICSEARCH) -> dict:
    """The template body. Fields the schema does not know never cause a mapping conflict: on
    Elasticsearch they become runtime fields (searchable), on OpenSearch, which has no runtime
    fields, they are kept in each document's _source but not indexed (dynamic: false)."""
    settings: dict = {"index.mapping.total_fields.limit": 2000, "index.refresh_interval": "5s"}
    if lifecycle and product == ELASTICSEARCH:
        settings["index.lifecycle.name"] = lifecycle  # ISM policies name their indices themselves
    return {
        "index_patterns": [f"{prefix}-*"],
        "priority": 200,
        "version": TEMPLATE_VERSION,
        "_meta": {"managed_by": "osla", "osla_version": __version__, **({"lifecycle": lifecycle} if lifecycle else {})},
        "template": {
            "settings": settings,
            "mappings": {"dynamic": "runtime" if product == ELASTICSEARCH else False, "date_detection": False,
                         "properties": properties()},
        },
    }


def setup(client: SearchClient, prefix: str = "openstack", retention_days: int | None = None) -> dict:
    """Install (or replace: idempotent) the template, and a delete-after-N-days policy (ILM on
    Elasticsearch, ISM on OpenSearch)."""
    lifecycle = None
    if retention_days is not None:
        if retention_days < 1:
            raise EsError("--retention-days must be at least 1")
        lifecycle = f"{prefix}-retention"
        try:
            client.put_retention(lifecycle, f"{prefix}-*", retention_days)
        except NoLifecyclePlugin:
            feature = ("Index State Management plugin (opensearch-index-management)" if client.is_opensearch
                       else "index lifecycle management (ILM)")
            raise EsError(f"this {client.info.title} has no {feature}, so no retention was set; nothing was "
                          f"changed (run osla es setup without --retention-days, and delete old indices another "
                          f"way)") from None
    client.put_index_template(prefix, index_template(prefix, lifecycle, client.product))
    return {"server": client.info.title, "template": prefix, "index_patterns": [f"{prefix}-*"],
            "lifecycle": lifecycle, "version": TEMPLATE_VERSION}


def ensure(client: SearchClient, prefix: str = "openstack") -> str | None:
    """Install the template if PREFIX has none, or upgrade one an older osla installed (keeping its
    retention policy). Returns what was done ('installed', 'upgraded') or None."""
    current = client.index_template(prefix)
    if current is None:
        setup(client, prefix)
        return "installed"
    if current.get("_meta", {}).get("managed_by") != "osla" or current.get("version", 0) >= TEMPLATE_VERSION:
        return None  # someone else's template, or already current
    lifecycle = (current.get("_meta", {}).get("lifecycle")
                 or current.get("template", {}).get("settings", {}).get("index", {}).get("lifecycle", {}).get("name"))
    client.put_index_template(prefix, index_template(prefix, lifecycle, client.product))
    return "upgraded"
