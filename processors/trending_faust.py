"""SPIKE: the trending window on faust-streaming, to measure whether it is reliable here.

Two agents, as faust requires for a table keyed by something other than the source key:
``photos`` (media.processed, keyed by photo) re-keys each hashtag hit by tag onto an
internal topic; ``tags`` updates two hourly tumbling tables kept 24 h (each with its
changelog topic): ``tag_hits`` (+= 1 per hit, the faust idiom) and ``tag_photos`` (the
distinct photo ids, so a redelivered hit adds nothing). Every update is mirrored to Redis
as an absolute score (ZADD) under ``trendspike:{<hour>}:tags``.

Run: ``python -m processors.trending_faust worker -l info --without-web``.
Env: ``SPIKE_APP`` (app id / group), ``SPIKE_EOS=1`` (processing_guarantee=exactly_once).
"""

from __future__ import annotations

import os
from datetime import timedelta

import faust

from infra.connect import redis as redis_connect
from infra.settings import get_settings
from schemas.envelope import InvalidEvent, decode
from schemas.media import PhotoProcessed
from schemas.topics import MEDIA_PROCESSED
from sinks.search_terms import hashtags

HOUR = 3600

settings = get_settings()
app = faust.App(
    os.environ.get("SPIKE_APP", "photostream-trending-spike"),
    broker="kafka://" + ",".join(settings.kafka.bootstrap_servers),
    store="memory://",
    topic_partitions=12,
    web_enabled=False,
    datadir="/tmp/trending-spike/data",
    consumer_auto_offset_reset="earliest",
    processing_guarantee="exactly_once" if os.environ.get("SPIKE_EOS") else "at_least_once",
)


class TagHit(faust.Record, serializer="json"):
    tag: str
    photo_id: int
    at: float


source = app.topic(MEDIA_PROCESSED.name, value_serializer="raw", key_serializer="raw")
hits_topic = app.topic(app.conf.id + "-hits", key_type=str, value_type=TagHit, partitions=12, internal=True)

tag_hits = app.Table("tag_hits", default=int, partitions=12).tumbling(
    HOUR, expires=timedelta(hours=24)).relative_to_field(TagHit.at)
tag_photos = app.Table("tag_photos", default=list, partitions=12).tumbling(
    HOUR, expires=timedelta(hours=24)).relative_to_field(TagHit.at)

redis = redis_connect.client(settings)


@app.agent(source)
async def photos(stream: faust.StreamT) -> None:
    async for event in stream.events():
        try:
            decoded = decode(event.value)
        except InvalidEvent:
            continue
        p = decoded.payload
        if not isinstance(p, PhotoProcessed):
            continue
        tags = hashtags(p.caption, p.title)
        if any(t.startswith("spikeboom") for t in tags):
            raise RuntimeError(f"spike: agent raises on photo {p.photo_id}")
        at = decoded.occurred_at.timestamp()
        for tag in tags:
            await hits_topic.send(key=tag, value=TagHit(tag=tag, photo_id=p.photo_id, at=at))


@app.agent(hits_topic)
async def tags(stream: faust.StreamT) -> None:
    async for hit in stream:
        tag_hits[hit.tag] += 1
        seen = tag_photos[hit.tag].value()
        if hit.photo_id not in seen:
            tag_photos[hit.tag] = [*seen, hit.photo_id]
        hour = int(hit.at // HOUR)
        distinct = len(tag_photos[hit.tag].value())
        await redis.zadd(f"trendspike:{{{hour}}}:tags", {hit.tag: distinct})
        await redis.zadd(f"trendspike:{{{hour}}}:hits", {hit.tag: tag_hits[hit.tag].value()})


if __name__ == "__main__":
    app.main()
