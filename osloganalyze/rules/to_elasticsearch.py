"""A condition tree as an Elasticsearch query (server-side search), event for event the same
as :mod:`.to_python`."""
from __future__ import annotations

from .. import schema
from .conditions import All, Any, Contains, Equals, Exists, Not, Range, Regex, StartsWith
from .lucene import alternatives, literal, union

MAX_REGEX_LENGTH = 1000  # index.max_regex_length's default: a longer regexp query fails


def compile_query(node) -> dict:
    if isinstance(node, All):
        return {"bool": {"filter": [compile_query(p) for p in node.parts]}}
    if isinstance(node, Any):
        return _any(_merged(node.parts))
    if isinstance(node, Not):
        return {"bool": {"must_not": [compile_query(node.part)]}}
    if isinstance(node, Exists):
        return {"exists": {"field": node.field}}
    if isinstance(node, Range):
        return {"range": {node.field: dict(node.bounds)}}
    field = schema.exact_field(node.field)[0]
    if isinstance(node, Equals):
        if len(node.values) == 1:
            return {"term": {field: node.values[0]}}
        return {"terms": {field: list(node.values)}}
    if isinstance(node, Contains):
        if len(node.texts) > 1:
            return _any([_regexp(field, False, chunk) for chunk in _chunks(list(_alternatives(node)))])
        return {"wildcard": {field: {"value": f"*{_wildcard_escape(node.texts[0])}*"}}}
    if isinstance(node, StartsWith):
        return {"prefix": {field: {"value": node.text}}}
    if isinstance(node, Regex):
        return _regexp(field, node.ignore_case, _alternatives(node))
    raise TypeError(f"unknown condition {node!r}")


def _any(queries: list[dict]) -> dict:
    return queries[0] if len(queries) == 1 else {"bool": {"should": queries, "minimum_should_match": 1}}


def _merged(parts) -> list[dict]:
    """The queries of an Any's parts, the text conditions on one field (and one case rule)
    merged into one regexp: each wildcard or regexp query walks the field's whole term
    dictionary, so ten of them cost ten walks where one merged query costs one."""
    groups: dict[tuple, list] = {}
    for part in parts:
        key = _text_key(part)
        if key is not None:
            groups.setdefault(key, []).append(part)
    queries, done = [], set()
    for part in parts:
        key = _text_key(part)
        if key is None or len(groups[key]) == 1:
            queries.append(compile_query(part))
        elif key not in done:
            done.add(key)
            for chunk in _chunks([alt for p in groups[key] for alt in _alternatives(p)]):
                queries.append(_regexp(key[0], key[1], chunk))
    return queries


def _text_key(part) -> tuple | None:
    """(field searched, case-insensitive) of a text condition, else None."""
    if not isinstance(part, (Contains, StartsWith, Regex)):
        return None
    return schema.exact_field(part.field)[0], isinstance(part, Regex) and part.ignore_case


def _chunks(alts: list) -> list[list]:
    """``alts`` in runs whose union stays within Elasticsearch's regexp length limit."""
    chunks: list[list] = [[]]
    for alt in alts:
        if chunks[-1] and len(union(chunks[-1] + [alt])) > MAX_REGEX_LENGTH:
            chunks.append([])
        chunks[-1].append(alt)
    return chunks


def _alternatives(node) -> tuple:
    if isinstance(node, Contains):
        return tuple(literal(text) for text in node.texts)
    if isinstance(node, StartsWith):
        return (literal(node.text, at_start=True),)
    return alternatives(node.pattern)


def _regexp(field: str, ignore_case: bool, alts) -> dict:
    query = {"value": union(alts), "flags": "ALL", "max_determinized_states": 100000}
    if ignore_case:
        query["case_insensitive"] = True
    return {"regexp": {field: query}}


def _wildcard_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?\\" else c for c in text)
