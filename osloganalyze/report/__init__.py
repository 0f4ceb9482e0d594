"""The nightly report: what is new, what spiked, which tracebacks recur.

Flow: a source (local tree: :mod:`.local`; Elasticsearch aggregations: :mod:`.remote`) fills one
:class:`~.tally.Tally` of small aggregated tables for the report period and the baseline before
it; :mod:`.analyze` turns those into sections with pandas; :mod:`.charts`, :mod:`.render` and
:mod:`.mail` make the HTML/text email.
"""
