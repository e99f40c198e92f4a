"""``photostream topics ...`` and ``photostream deadletters ...``: Kafka for operators.

Thin printing over ``operate/ops/``: ``topics list`` (catalogue vs cluster), ``topics lag``,
``topics reset-offsets`` (rewind one idle group), ``topics diff|apply`` (the catalogue as
code), ``topics describe TOPIC``, ``deadletters list|show|replay``.
Kafka failures become one line (``OpsError``) instead of a traceback.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Awaitable, Callable
from datetime import UTC
from typing import Any

from aiokafka.errors import KafkaError

from infra.settings import Settings
from operate.ops import OpsError
from operate.ops.catalogue import CatalogueDiff, apply, diff
from operate.ops.deadletters import (
    DeadLetterRef,
    Filter,
    Replayed,
    StoredDeadLetter,
    get_dead_letter,
    list_dead_letters,
    replay,
    select,
    show_bytes,
)
from operate.ops.lag import consumer_lag
from operate.ops.replay import Target, parse_target, reset_offsets
from operate.ops.table import duration_ms, render
from operate.ops.topics import TopicDescription, describe_topic, topic_reports
from schemas.deadletter import DeadLetter
from schemas.topics import DEADLETTERS, PREFIX

Handler = Callable[[argparse.Namespace, Settings], Awaitable[int]]


def kafka_errors(handler: Handler) -> Handler:
    """Report an unexpected Kafka client error as one line, like every other CLI error."""

    @functools.wraps(handler)
    async def wrapped(args: argparse.Namespace, settings: Settings) -> int:
        try:
            return await handler(args, settings)
        except KafkaError as exc:
            raise OpsError(f"Kafka: {type(exc).__name__}: {' '.join(str(exc).split())}"
                           ) from None

    return wrapped


def register(sub: Any) -> None:
    topics = sub.add_parser("topics", help="Kafka topics and consumer groups")
    actions = topics.add_subparsers(dest="action", required=True)
    p = actions.add_parser("list", help="catalogue topics vs the cluster")
    p.set_defaults(handler=cmd_list)
    p = actions.add_parser("lag", help="consumer lag per group (default: every processor)")
    p.add_argument("groups", nargs="*", metavar="GROUP",
                   help="group or processor name (media = photostream-media)")
    p.add_argument("--partitions", action="store_true", help="one row per partition")
    p.set_defaults(handler=cmd_lag)
    p = actions.add_parser("reset-offsets",
                           help="move an idle group's committed offsets on one topic")
    p.add_argument("group", metavar="GROUP")
    p.add_argument("--topic", required=True)
    to = p.add_mutually_exclusive_group(required=True)
    to.add_argument("--to-datetime", metavar="ISO", help="e.g. 2024-05-01T12:00:00Z")
    to.add_argument("--to-earliest", action="store_true")
    to.add_argument("--to-latest", action="store_true")
    p.add_argument("--dry-run", action="store_true", help="show the moves, commit nothing")
    p.set_defaults(handler=cmd_reset)
    p = actions.add_parser("diff", help="drift from schemas/topics.py (exit 1 if any)")
    p.set_defaults(handler=cmd_diff)
    p = actions.add_parser("apply", help="create/raise/fix topics to match the catalogue "
                                         "(never shrinks or deletes)")
    p.set_defaults(handler=cmd_apply)
    p = actions.add_parser("describe", help="one topic: catalogue entry, partitions, configs")
    p.add_argument("topic", metavar="TOPIC", help="full name, or without photostream.")
    p.set_defaults(handler=cmd_describe)

    dead = sub.add_parser("deadletters", help=f"inspect and replay {DEADLETTERS.name}")
    actions = dead.add_subparsers(dest="action", required=True)
    p = actions.add_parser("list", help="newest dead letters, optionally filtered")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--processor", help="media or photostream-media")
    p.add_argument("--topic", help="original topic (likes or photostream.likes)")
    p.add_argument("--error-type", help="e.g. InvalidEvent")
    p.set_defaults(handler=cmd_dl_list)
    p = actions.add_parser("show", help="one dead letter, decoded")
    p.add_argument("ref", metavar="PARTITION:OFFSET")
    p.set_defaults(handler=cmd_dl_show)
    p = actions.add_parser("replay", help="re-publish originals to their topics")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("refs", nargs="*", default=[], metavar="PARTITION:OFFSET")
    which.add_argument("--all-from-processor", metavar="P")
    p.add_argument("--dry-run", action="store_true", help="show what would be sent")
    p.set_defaults(handler=cmd_dl_replay)


@kafka_errors
async def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    reports = await topic_reports(settings)
    print(render(
        ["topic", "partitions", "rf", "cleanup", "retention", "records", "appended", "status"],
        [[r.name, r.partitions, r.replication_factor, r.cleanup_policy,
          duration_ms(r.retention_ms), r.records, r.end_offsets, r.status] for r in reports]))
    bad = [r for r in reports if r.problems]
    print(f"\n{len(reports)} topics, {len(bad)} with problems")
    return 0


def _print_diff(result: CatalogueDiff, verb: str) -> None:
    for drift in result.drifts:
        print(f"{verb} {drift}")
    for warning in result.warnings:
        print(f"warning: {warning} (not changed by apply)")


@kafka_errors
async def cmd_diff(args: argparse.Namespace, settings: Settings) -> int:
    result = await diff(settings)
    _print_diff(result, "drift:")
    if result.clean:
        print("no drift: every topic matches schemas/topics.py")
        return 0
    print(f"\n{len(result.drifts)} difference(s) in {len(result.topics())} topic(s); "
          f"`photostream topics apply` fixes them")
    return 1


@kafka_errors
async def cmd_apply(args: argparse.Namespace, settings: Settings) -> int:
    result = await apply(settings)
    _print_diff(result, "fixed:")
    print("nothing to change" if result.clean
          else f"\napplied {len(result.drifts)} change(s) to {len(result.topics())} topic(s)")
    return 0


def full_name(name: str) -> str:
    return name if name.startswith(PREFIX) or name.startswith("__") else PREFIX + name


def _describe(d: TopicDescription) -> str:
    lines = [f"topic       {d.name}"]
    if d.catalogue is None:
        lines.append("catalogue   (not in schemas/topics.py)")
    else:
        c = d.catalogue
        lines += [f"catalogue   key={c.key or '-'} partitions={c.partitions} "
                  f"cleanup={c.cleanup_policy} retention={duration_ms(c.retention_ms)}",
                  f"events      {', '.join(c.event_types) or '-'}",
                  f"about       {c.description}"]
    configs = " ".join(f"{k}={v}" for k, v in d.dynamic_configs.items()) or "(broker defaults)"
    lines += [f"configs     {configs}",
              f"drift       {'; '.join(d.drift) or 'none'}", ""]
    lines.append(render(["partition", "leader", "replicas", "isr", "log start", "end"],
                        [[p.partition, p.leader, ",".join(map(str, p.replicas)),
                          ",".join(map(str, p.isr)), p.log_start, p.end]
                         for p in d.partitions]))
    return "\n".join(lines)


@kafka_errors
async def cmd_describe(args: argparse.Namespace, settings: Settings) -> int:
    print(_describe(await describe_topic(settings, full_name(args.topic))))
    return 0


@kafka_errors
async def cmd_lag(args: argparse.Namespace, settings: Settings) -> int:
    groups = await consumer_lag(settings, args.groups or None)
    if args.partitions:
        rows: list[list[str | int | None]] = [
            [g.group, p.topic, p.partition, p.committed, p.end, p.lag]
            for g in groups for p in g.partitions]
        print(render(["group", "topic", "partition", "committed", "end", "lag"], rows))
    else:
        print(render(
            ["group", "state", "members", "topic", "lag"],
            [[g.group, g.state.state, g.state.members, topic, lag]
             for g in groups for topic, lag in (g.topic_lag() or {"-": 0}).items()]))
    print()
    print(render(["group", "total lag"], [[g.group, g.total_lag] for g in groups]))
    return 0


@kafka_errors
async def cmd_reset(args: argparse.Namespace, settings: Settings) -> int:
    to: Target = ("earliest" if args.to_earliest else "latest" if args.to_latest
                  else parse_target(args.to_datetime))
    plan = await reset_offsets(settings, args.group, args.topic, to, dry_run=args.dry_run)
    print(render(["partition", "committed", "new offset", "delta"],
                 [[m.partition, m.current, m.target, m.delta] for m in plan.moves]))
    where = to if isinstance(to, str) else to.astimezone(UTC).isoformat()
    verb = "would move (dry run, nothing committed)" if not plan.applied else "moved"
    print(f"\n{verb}: {plan.group} on {plan.topic} to {where}")
    return 0


def _error(letter: DeadLetter, width: int = 70) -> str:
    kind = letter.error_type.rsplit(".", 1)[-1]
    text = f"{kind}: {letter.error}" if kind else letter.error
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def _key(key: bytes | None) -> str:
    text = show_bytes(key)
    return text if len(text) <= 24 else text[:23] + "…"


@kafka_errors
async def cmd_dl_list(args: argparse.Namespace, settings: Settings) -> int:
    where = Filter(processor=args.processor, topic=args.topic, error_type=args.error_type)
    listing = await list_dead_letters(settings, limit=args.limit, where=where)
    print(render(
        ["ref", "dead-lettered at", "processor", "original", "key", "error"],
        [[str(s.ref), s.appended_at.strftime("%Y-%m-%d %H:%M:%S"), s.letter.processor,
          f"{s.letter.topic}[{s.letter.partition}]@{s.letter.offset}", _key(s.letter.key),
          _error(s.letter)] for s in listing.letters]))
    print(f"\n{len(listing.letters)} shown (newest first) of {listing.scanned} in "
          f"{DEADLETTERS.name}; `photostream deadletters show REF` for one")
    if listing.undecodable:
        refs = ", ".join(map(str, listing.undecodable[:5]))
        print(f"warning: {len(listing.undecodable)} record(s) are not valid dead letters: {refs}")
    return 0


def _show(stored: StoredDeadLetter) -> str:
    letter = stored.letter
    headers = ", ".join(f"{n}={show_bytes(v)}" for n, v in letter.headers) or "(none)"
    value = letter.value
    kind = "null" if value is None else (
        "UTF-8" if not show_bytes(value).startswith("base64:") else "binary, base64")
    rows = [
        ("dead letter", f"{stored.ref} ({DEADLETTERS.name}), written "
                        f"{stored.appended_at.isoformat()}"),
        ("original", f"{letter.topic}[{letter.partition}]@{letter.offset}"),
        ("processor", letter.processor),
        ("error type", letter.error_type or "-"),
        ("error", letter.error),
        ("failed", f"{letter.attempts} attempt(s), first {letter.first_failed_at.isoformat()}, "
                   f"last {letter.last_failed_at.isoformat()}"),
        ("key", show_bytes(letter.key)),
        ("headers", headers),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k.ljust(width)}  {v}" for k, v in rows]
    size = 0 if value is None else len(value)
    lines += [f"value ({size} bytes, {kind}):", show_bytes(value)]
    return "\n".join(lines)


@kafka_errors
async def cmd_dl_show(args: argparse.Namespace, settings: Settings) -> int:
    print(_show(await get_dead_letter(settings, DeadLetterRef.parse(args.ref))))
    return 0


def _replayed_rows(done: list[Replayed]) -> list[list[str | int | None]]:
    return [[str(r.source.ref), r.topic, r.partition, r.offset, _key(r.source.letter.key),
             0 if r.source.letter.value is None else len(r.source.letter.value)]
            for r in done]


@kafka_errors
async def cmd_dl_replay(args: argparse.Namespace, settings: Settings) -> int:
    refs = [DeadLetterRef.parse(r) for r in args.refs]
    chosen = await select(settings, refs, processor=args.all_from_processor)
    if not chosen:
        raise OpsError(f"no dead letters of processor {args.all_from_processor}")
    done = await replay(settings, chosen, dry_run=args.dry_run)
    print(render(["dead letter", "to topic", "partition", "new offset", "key", "bytes"],
                 _replayed_rows(done)))
    if args.dry_run:
        print(f"\ndry run: {len(done)} dead letter(s) would be replayed; nothing was sent")
    else:
        print(f"\nreplayed {len(done)} dead letter(s), each with header "
              f"photostream-replayed-from: deadletters/<partition>/<offset>; "
              f"the dead letters themselves are kept")
    return 0
