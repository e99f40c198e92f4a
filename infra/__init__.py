"""The ground floor: settings, connections (and the event publisher), HTTP tokens and
problem+json, metrics, logging.

It imports only :mod:`schemas`; sinks, processors, the APIs, ingest and the operator's tools
(:mod:`operate`) build on it, and it knows nothing of them.
"""
