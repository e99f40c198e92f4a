"""Killing and reviving nodes of the local cluster, and asking who leads what."""

from __future__ import annotations

import os
import signal
from collections import Counter

import redis.asyncio as aioredis

from infra.connect import kafka
from infra.settings import Settings
from operate.stack import cluster
from operate.stack.base import Service


def sigkill(node: Service) -> None:
    pid = node.pid()
    assert pid is not None, f"{node.name} is not running"
    os.killpg(pid, signal.SIGKILL)


async def revive(node: Service) -> None:
    await node.start()
    await node.wait_ready()


async def partitions(settings: Settings, topic: str) -> list[dict[str, object]]:
    admin = kafka.admin(settings)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return list(described[0]["partitions"])


async def busiest_leader(settings: Settings, topic: str) -> int:
    """The broker id leading the most partitions of ``topic``."""
    leaders = Counter(int(str(p["leader"])) for p in await partitions(settings, topic))
    return leaders.most_common(1)[0][0]


async def fully_replicated(settings: Settings, topic: str) -> bool:
    return all(len(p["isr"]) == 3 for p in await partitions(settings, topic))  # type: ignore[arg-type]


async def redis_master_of(key: str) -> int:
    """Port of the Redis master that owns ``key``'s slot now."""
    for port in cluster.redis_ports():
        client = aioredis.Redis(port=port, socket_timeout=2, decode_responses=True)
        try:
            slot = int(await client.execute_command("CLUSTER KEYSLOT", key))
            nodes = await client.execute_command("CLUSTER NODES")
        except (OSError, aioredis.RedisError):
            continue
        finally:
            await client.aclose()
        for address, node in nodes.items():  # redis-py parses CLUSTER NODES to a dict
            flags = str(node["flags"])
            if "master" not in flags or "fail" in flags:
                continue
            for lo, *hi in node["slots"]:
                if int(lo) <= slot <= int(hi[0] if hi else lo):
                    return int(str(address).rsplit(":", 1)[1].split("@")[0])
    raise AssertionError(f"no master owns the slot of {key}")


async def redis_role(port: int) -> str:
    client = aioredis.Redis(port=port, socket_timeout=2, decode_responses=True)
    try:
        return str((await client.execute_command("ROLE"))[0])
    finally:
        await client.aclose()
