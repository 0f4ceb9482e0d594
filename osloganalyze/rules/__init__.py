"""events -> rules -> findings: rules as data (``rules/*.yaml``), compiled to Python predicates
and Elasticsearch queries, run by :mod:`.engine`, grouped into findings by :mod:`.findings`."""
from .model import Rule, RuleError, load_rules

__all__ = ["Rule", "RuleError", "load_rules"]
