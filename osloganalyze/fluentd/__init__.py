"""The Fluentd edge: send osla's own records (findings) to a Fluentd forward input."""
