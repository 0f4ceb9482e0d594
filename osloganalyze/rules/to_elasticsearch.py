"""A condition tree as an Elasticsearch query (server-side search), event for event the same
as :mod:`.to_python`."""
from __future__ import annotations

from .. import schema
from .conditions import All, Any, Contains, Equals, Exists, Not, Range, Regex, StartsWith


def compile_query(node) -> dict:
    if isinstance(node, All):
        return {"bool": {"filter": [compile_query(p) for p in node.parts]}}
    if isinstance(node, Any):
        return {"bool": {"should": [compile_query(p) for p in node.parts], "minimum_should_match": 1}}
    if isinstance(node, Not):
        return {"bool": {"must_not": [compile_query(node.part)]}}
    if isinstance(node, Exists):
        return {"exists": {"field": node.field}}
    if isinstance(node, Range):
        return {"range": {node.field: dict(node.bounds)}}
    field = schema.exact_search(node.field)[0]
    if isinstance(node, Equals):
        if len(node.values) == 1:
            return {"term": {field: node.values[0]}}
        return {"terms": {field: list(node.values)}}
    if isinstance(node, Contains):
        queries = [{"wildcard": {field: {"value": f"*{_wildcard_escape(t)}*"}}} for t in node.texts]
        return queries[0] if len(queries) == 1 else {"bool": {"should": queries, "minimum_should_match": 1}}
    if isinstance(node, StartsWith):
        return {"prefix": {field: {"value": node.text}}}
    if isinstance(node, Regex):
        query = {"value": node.lucene, "flags": "ALL", "max_determinized_states": 100000}
        if node.ignore_case:
            query["case_insensitive"] = True
        return {"regexp": {field: query}}
    raise TypeError(f"unknown condition {node!r}")


def _wildcard_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?\\" else c for c in text)
