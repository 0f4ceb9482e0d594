"""osloganalyze (osla): log centralization and troubleshooting for OpenStack clouds."""

__version__ = "0.2.0.dev11"
