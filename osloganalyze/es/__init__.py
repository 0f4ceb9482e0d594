"""Elasticsearch (and OpenSearch) at the edge: connection, index template, ingest."""
