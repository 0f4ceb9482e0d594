"""One search server as osla uses it, Elasticsearch or OpenSearch, each through the client
library made for it (elasticsearch-py, opensearch-py).

Callers speak request bodies and a few operations (search, mget, msearch, bulk, refresh, index
templates, a retention policy); :class:`SearchClient` turns each into its library's call. Which
product it is comes from the server's own answer to ``GET /`` on connect (:func:`open_client`).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

ELASTICSEARCH = "elasticsearch"
OPENSEARCH = "opensearch"
TITLES = {ELASTICSEARCH: "Elasticsearch", OPENSEARCH: "OpenSearch"}


@dataclass(frozen=True)
class ServerInfo:
    product: str  # ELASTICSEARCH | OPENSEARCH
    version: str
    cluster_name: str

    @property
    def title(self) -> str:
        return f"{TITLES[self.product]} {self.version}"


class NoLifecyclePlugin(Exception):
    """The server has no index lifecycle feature (ILM, or OpenSearch's ISM plugin)."""


class SearchClient:
    """The operations osla needs, on either product. ``raw`` is the library's own client."""

    def __init__(self, raw: Any, info: ServerInfo):
        self.raw = raw
        self.info = info

    @property
    def product(self) -> str:
        return self.info.product

    @property
    def is_opensearch(self) -> bool:
        return self.info.product == OPENSEARCH

    def health(self, timeout: float) -> dict:
        if self.is_opensearch:
            return dict(self.raw.cluster.health(request_timeout=timeout))
        return dict(self.raw.options(request_timeout=timeout).cluster.health().body)

    def search(self, index: str, body: dict, **params: Any) -> dict:
        if self.is_opensearch:
            return self.raw.search(index=index, body=body, **params)
        return self.raw.search(index=index, **params, **body).body

    def scroll(self, index: str, body: dict, keep: str = "2m") -> Iterator[list[dict]]:
        """Every hit of a search, a page of ``body['size']`` at a time, from one snapshot of the
        indices (a scroll, cleared at the end), all shards or an error."""
        params = {"ignore_unavailable": True, "allow_no_indices": True, "allow_partial_search_results": False}
        scroll_id = None
        try:
            answer = self.search(index, body, scroll=keep, **params)
            while True:
                scroll_id = answer.get("_scroll_id") or scroll_id
                hits = answer["hits"]["hits"]
                if not hits:
                    return
                yield hits
                if scroll_id is None:
                    return
                answer = self.raw.scroll(scroll_id=scroll_id, scroll=keep)
                answer = answer if self.is_opensearch else answer.body
        finally:
            if scroll_id is not None:
                with contextlib.suppress(*self._api_errors()):
                    self.raw.clear_scroll(scroll_id=scroll_id)

    def mget(self, docs: list[dict]) -> dict:
        if self.is_opensearch:
            return self.raw.mget(body={"docs": docs})
        return self.raw.mget(docs=docs).body

    def msearch(self, searches: list[dict]) -> dict:
        if self.is_opensearch:
            return self.raw.msearch(body=searches)
        return self.raw.msearch(searches=searches).body

    def bulk(self, lines: list[bytes], filter_path: str) -> dict:
        if self.is_opensearch:
            return self.raw.bulk(body=b"\n".join(lines) + b"\n", filter_path=filter_path)
        return self.raw.bulk(operations=lines, filter_path=filter_path).body

    def refresh(self, index: str) -> None:
        self.raw.indices.refresh(index=index, ignore_unavailable=True, allow_no_indices=True)

    def mapping(self, index: str) -> dict:
        """Index name -> its mappings, for the indices matching ``index`` ({} when none)."""
        answer = self.raw.indices.get_mapping(index=index, ignore_unavailable=True, allow_no_indices=True)
        return dict(answer if self.is_opensearch else answer.body)

    def index_template(self, name: str) -> dict | None:
        """The composable index template NAME, or None."""
        try:
            found = self.raw.indices.get_index_template(name=name)["index_templates"]
        except self._not_found():
            return None
        return found[0]["index_template"] if found else None

    def put_index_template(self, name: str, template: dict) -> None:
        if self.is_opensearch:
            self.raw.indices.put_index_template(name=name, body=template)
        else:
            self.raw.indices.put_index_template(name=name, **template)

    def put_retention(self, name: str, pattern: str, days: int) -> None:
        """A policy deleting the indices matching ``pattern`` ``days`` after creation: ILM on
        Elasticsearch (the template names it), ISM on OpenSearch (the policy names the pattern).
        Idempotent; NoLifecyclePlugin when the server has neither."""
        status = None
        try:
            if self.is_opensearch:
                self._put_ism(name, pattern, days)
            else:
                self.raw.ilm.put_lifecycle(name=name, policy={
                    "phases": {"hot": {"actions": {}}, "delete": {"min_age": f"{days}d", "actions": {"delete": {}}}}})
            return
        except self._api_errors() as exc:
            status = http_status(exc)
            if status not in (400, 404, 405):
                raise
        raise NoLifecyclePlugin(status)

    def _put_ism(self, name: str, pattern: str, days: int) -> None:
        path = f"/_plugins/_ism/policies/{name}"
        policy = {"policy": {
            "description": f"osla: delete {pattern} {days} days after creation",
            "default_state": "hot",
            "states": [{"name": "hot", "actions": [],
                        "transitions": [{"state_name": "delete", "conditions": {"min_index_age": f"{days}d"}}]},
                       {"name": "delete", "actions": [{"delete": {}}], "transitions": []}],
            "ism_template": [{"index_patterns": [pattern], "priority": 100}]}}
        params: dict[str, Any] = {}
        try:  # a policy that exists is replaced in place (ISM refuses a plain PUT over it)
            current = self.raw.transport.perform_request("GET", path)
            params = {"if_seq_no": current["_seq_no"], "if_primary_term": current["_primary_term"]}
        except self._not_found():
            pass
        self.raw.transport.perform_request("PUT", path, body=policy, params=params)

    def _not_found(self) -> type[BaseException]:
        if self.is_opensearch:
            from opensearchpy import NotFoundError as OpenSearchNotFound
            return OpenSearchNotFound
        from elasticsearch import NotFoundError
        return NotFoundError

    def _api_errors(self) -> tuple[type[BaseException], ...]:
        if self.is_opensearch:
            from opensearchpy import TransportError
            return (TransportError,)
        from elasticsearch import ApiError
        return (ApiError,)


def http_status(exc: BaseException) -> int | None:
    """The HTTP status a client exception carries (either library), else None."""
    meta = getattr(exc, "meta", None)
    status = getattr(meta, "status", None) if meta is not None else getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def open_client(urls: list[str], options: dict[str, Any]) -> SearchClient:
    """A client for whichever server answers ``GET /`` at ``urls`` (elasticsearch-py options;
    translated for opensearch-py). Raises the libraries' exceptions, or UnknownServer."""
    from elasticsearch import ApiError, Elasticsearch, UnsupportedProductError

    client = Elasticsearch(urls, **options)
    try:
        try:
            body = dict(client.info().body)
        except ApiError as exc:
            if http_status(exc) != 405:
                raise
            # a node without the root endpoint (Elasticsearch's integ-test zip): its own node info
            nodes = client.nodes.info(node_id="_local", filter_path="cluster_name,nodes.*.version").body
            versions = [node.get("version") for node in (nodes.get("nodes") or {}).values()]
            body = {"cluster_name": nodes.get("cluster_name"), "version": {"number": versions[0] if versions else None}}
    except UnsupportedProductError as exc:
        body = exc.body if isinstance(exc.body, dict) else {}
        version: dict = body["version"] if isinstance(body.get("version"), dict) else {}
        if version.get("distribution") != OPENSEARCH:
            raise UnknownServer(str(body.get("tagline") or exc.message)[:200]) from None
        client.close()
        return SearchClient(_opensearch(urls, options), _info(OPENSEARCH, body))
    return SearchClient(client, _info(ELASTICSEARCH, body))


class UnknownServer(Exception):
    """The URL answered, but not as Elasticsearch or OpenSearch do."""


def _info(product: str, body: dict) -> ServerInfo:
    version: dict = body["version"] if isinstance(body.get("version"), dict) else {}
    return ServerInfo(product, str(version.get("number") or "?"), str(body.get("cluster_name") or "?"))


def _opensearch(urls: list[str], options: dict[str, Any]) -> Any:
    import orjson
    from opensearchpy import JSONSerializer, OpenSearch

    class OrjsonOpenSearchSerializer(JSONSerializer):
        """Answers parsed by orjson, as on the Elasticsearch side (pages of 10,000 events)."""

        def loads(self, s: Any) -> Any:
            return orjson.loads(s)

    translated: dict[str, Any] = {"timeout": options.get("request_timeout", 30), "max_retries": options.get("max_retries", 3),
                                  "retry_on_timeout": options.get("retry_on_timeout", True),
                                  "serializer": OrjsonOpenSearchSerializer()}
    if options.get("basic_auth"):
        translated["http_auth"] = tuple(options["basic_auth"])
    if options.get("api_key"):
        translated["headers"] = {"Authorization": f"ApiKey {options['api_key']}"}
    if any(url.startswith("https://") for url in urls):
        translated["use_ssl"] = True
        translated["verify_certs"] = True
        if options.get("ca_certs"):
            translated["ca_certs"] = options["ca_certs"]
    return OpenSearch(urls, **translated)
