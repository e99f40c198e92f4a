"""Every Prometheus metric of photostream, defined once (``prometheus-client``).

One module so the names, labels and buckets are a contract an operator (and the Grafana
dashboard in ``operate/grafana/photostream.json``) can rely on: code that counts something
imports the metric from here instead of creating its own. Labels are bounded sets
(processor, topic, event type, route template, status, size class), never ids, so the
series count stays small however much traffic flows.

Each process exposes its own registry: the ingest service and the read API on their HTTP
port (``/metrics``, see :mod:`infra.metrics_http`), each processor process on
``PHOTOSTREAM_METRICS_PORT``.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

#: Seconds; from a cache hit (~1 ms) to a big photo render (~seconds) and a stuck call.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0, 30.0)
#: Bytes; a thumbnail-sized upload up to the 25 MB default limit and beyond.
SIZE_BUCKETS = (10_000, 100_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000,
                25_000_000, 100_000_000)

# --- stream processors (processors/runtime.py) -----------------------------------------
EVENTS_CONSUMED = Counter(
    "photostream_events_consumed", "Records polled from Kafka, by decoded type "
    "('invalid' if the record is not a valid event).", ["processor", "topic", "type"])
EVENTS_PROCESSED = Counter(
    "photostream_events_processed", "Events whose handler succeeded (effects durable "
    "once the batch commits).", ["processor", "topic", "type"])
EVENTS_FAILED = Counter(
    "photostream_events_failed", "Handler attempts that raised (transient or not); "
    "retried, then dead-lettered.", ["processor", "topic", "type"])
EVENTS_DEAD_LETTERED = Counter(
    "photostream_events_dead_lettered", "Records written to the dead-letter topic.",
    ["processor", "topic", "type"])
PROCESSING_SECONDS = Histogram(
    "photostream_processing_seconds", "Time to handle one event, retries included.",
    ["processor", "topic", "type"], buckets=LATENCY_BUCKETS)
BATCH_SECONDS = Histogram(
    "photostream_batch_seconds", "Time from poll to commit of one batch.",
    ["processor"], buckets=LATENCY_BUCKETS)
CONSUMER_LAG = Gauge(
    "photostream_consumer_lag", "Records behind the partition's end (high watermark) "
    "after the last commit.", ["processor", "topic", "partition"])
COMMITS = Counter(
    "photostream_commits", "Offset commits, by outcome (ok, skipped after a rebalance, "
    "failed).", ["processor", "outcome"])

# --- fan-out (processors/fanout.py) ----------------------------------------------------
FANOUT_DECISIONS = Counter(
    "photostream_fanout_decisions", "Posts planned, by push (to followers' timelines) or "
    "pull (read-time merge for celebrities).", ["decision"])
FANOUT_CHUNKS = Counter(
    "photostream_fanout_chunks", "Fan-out chunks published by the planner.", ["action"])
FANOUT_DELIVERIES = Counter(
    "photostream_fanout_deliveries", "Timeline entries written (add) or removed (remove) "
    "by fan-out workers, one per follower.", ["action"])

# --- media (processors/media) ----------------------------------------------------------
MEDIA_RENDER_SECONDS = Histogram(
    "photostream_media_render_seconds", "Time to render one upload's derivatives, by media "
    "kind and original size class.", ["kind", "size"], buckets=LATENCY_BUCKETS)

# --- ingest admission (producers/ingest/backlog.py) -----------------------------------
INGEST_BACKLOG = Gauge(
    "photostream_ingest_backlog", "Uploads accepted but not yet processed (the media "
    "group's committed lag on the upload topic), as this ingest process last read it.")
INGEST_REFUSED = Counter(
    "photostream_ingest_refused", "Uploads refused before acceptance (503 + Retry-After), "
    "by reason.", ["reason"])

# --- rate limits (infra/http/ratelimit.py) ---------------------------------------------
RATE_LIMITED = Counter(
    "photostream_rate_limited", "Writes refused with 429 (over a per-user or per-address "
    "limit), by action.", ["action"])
RATE_LIMIT_UNCHECKED = Counter(
    "photostream_rate_limit_unchecked", "Writes let through without a limit check because "
    "Redis did not answer (the limiter fails open), by action.", ["action"])

# --- HTTP services (infra/metrics_http.py) ---------------------------------------------
HTTP_REQUEST_SECONDS = Histogram(
    "photostream_http_request_seconds", "HTTP request latency, by route template and "
    "status.", ["service", "method", "route", "status"], buckets=LATENCY_BUCKETS)
HTTP_REQUEST_BYTES = Histogram(
    "photostream_http_request_bytes", "Request body bytes received (uploads), by route.",
    ["service", "method", "route"], buckets=SIZE_BUCKETS)
HTTP_IN_FLIGHT = Gauge(
    "photostream_http_in_flight", "Requests being served right now.", ["service"])
HTTP_SHED = Counter(
    "photostream_http_shed", "Requests refused at the door with 503 + Retry-After because "
    "the worker already had its maximum in flight (infra/http/admission.py).", ["service"])

# --- read API fail-safe (api/failsafe.py) -----------------------------------------------
API_DEGRADED_ANSWERS = Counter(
    "photostream_api_degraded_answers", "Read API answers given while a backend was "
    "unreachable, by backend, route template and outcome ('served': 200 from the other "
    "store or with a section missing, flagged by X-Photostream-Degraded; 'unavailable': "
    "503 + Retry-After).", ["backend", "route", "outcome"])
API_OVERLOADED = Counter(
    "photostream_api_overloaded", "Read API requests refused with 503 because the Redis "
    "connection pool was exhausted, by route template.", ["route"])


def size_class(width: int, height: int) -> str:
    """A bounded label for an original's size: render time grows with pixels."""
    megapixels = width * height / 1_000_000
    for limit, label in ((1, "<1MP"), (4, "1-4MP"), (12, "4-12MP"), (24, "12-24MP")):
        if megapixels < limit:
            return label
    return ">=24MP"
