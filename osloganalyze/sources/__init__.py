"""Where events come from: local log trees (the embedded default)."""
