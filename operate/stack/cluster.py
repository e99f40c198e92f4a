"""A local *cluster*: 3 Kafka brokers, 3 Cassandra nodes, a 6-node Redis Cluster, MinIO.

Why: the services claim to run unchanged against real clusters (host lists, replication
factors, hash-tagged Redis keys). This starts the real distributed engines on loopback,
from the same cached artifacts as the single-node stack, so that claim is tested, and
node loss can be tried. It lives beside the single-node stack, never on its ports or in
its state dir (``.stack-cluster/``), so both can run at once.

The one description of the cluster is :func:`cluster_environment` (``PHOTOSTREAM_*``
variables): the launcher builds its settings from it, and ``photostream stack env
--cluster`` prints it, so every service and test pointed at those variables talks to
exactly what was started.

Sizing for a 2-core dev box: small heaps, Cassandra nodes started one after the other
(a node joins a ring that already answers), Kafka brokers together (the KRaft quorum
needs two voters before any broker is ready).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
from cassandra.policies import WhiteListRoundRobinPolicy

from infra.settings import STATE_HOME, Settings
from operate.stack.base import Service, StackError, port_in_use, rss_bytes, run_checked
from operate.stack.cassandra import CassandraService, _quiet_driver
from operate.stack.kafka import KafkaService
from operate.stack.manager import StartReport, UpReport, describe, finish_up, stop_all
from operate.stack.minio import MinioService
from operate.stack.redis import RedisService

KAFKA_NODES = 3
KAFKA_BROKER_BASE = 19092  # broker n: 19092 + 2(n-1); its controller the port after it
CASSANDRA_NODES = 3
CASSANDRA_HOSTS = tuple(f"127.0.0.{n + 2}" for n in range(CASSANDRA_NODES))  # .2, .3, .4
CASSANDRA_CQL_PORT = 19042  # the same port on each node's own address
CASSANDRA_STORAGE_PORT = 17000
CASSANDRA_JMX_BASE = 17199  # JMX binds 127.0.0.1, so one port per node
REDIS_BASE = 17001  # 17001..17006; the cluster bus is port + 10000
REDIS_NODES = 6
REDIS_REPLICAS = 1
MINIO_PORT = 19000
# Failure detection (and so replica promotion) after this long: short for the tests.
REDIS_NODE_TIMEOUT_MS = 2000


def kafka_ports(n: int) -> tuple[int, int]:
    """(broker, controller) port of broker ``n`` (1-based)."""
    broker = KAFKA_BROKER_BASE + 2 * (n - 1)
    return broker, broker + 1


def redis_ports() -> list[int]:
    return [REDIS_BASE + i for i in range(REDIS_NODES)]


def cluster_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``PHOTOSTREAM_*`` variables that point every process at the local cluster.

    ``PHOTOSTREAM_CLUSTER_STATE_DIR`` moves its state dir (default ``.stack-cluster``).
    """
    env = os.environ if environ is None else environ
    state = env.get("PHOTOSTREAM_CLUSTER_STATE_DIR", str(STATE_HOME / ".stack-cluster"))
    brokers = ",".join(f"127.0.0.1:{kafka_ports(n)[0]}" for n in range(1, KAFKA_NODES + 1))
    return {
        "PHOTOSTREAM_STATE_DIR": state,
        "PHOTOSTREAM_KAFKA_BOOTSTRAP": brokers,
        "PHOTOSTREAM_KAFKA_PORT": str(kafka_ports(1)[0]),
        "PHOTOSTREAM_KAFKA_CONTROLLER_PORT": str(kafka_ports(1)[1]),
        "PHOTOSTREAM_KAFKA_REPLICATION_FACTOR": "3",
        "PHOTOSTREAM_KAFKA_MIN_INSYNC_REPLICAS": "2",
        "PHOTOSTREAM_KAFKA_HEAP": "384M",
        "PHOTOSTREAM_CASSANDRA_HOSTS": ",".join(CASSANDRA_HOSTS),
        "PHOTOSTREAM_CASSANDRA_PORT": str(CASSANDRA_CQL_PORT),
        "PHOTOSTREAM_CASSANDRA_STORAGE_PORT": str(CASSANDRA_STORAGE_PORT),
        "PHOTOSTREAM_CASSANDRA_JMX_PORT": str(CASSANDRA_JMX_BASE),
        "PHOTOSTREAM_CASSANDRA_REPLICATION_FACTOR": "3",
        "PHOTOSTREAM_CASSANDRA_CONSISTENCY": "LOCAL_QUORUM",
        "PHOTOSTREAM_CASSANDRA_HEAP": "640M",
        "PHOTOSTREAM_MINIO_PORT": str(MINIO_PORT),
        "PHOTOSTREAM_MINIO_CONSOLE_PORT": str(MINIO_PORT + 1),
        "PHOTOSTREAM_S3_ENDPOINT": f"127.0.0.1:{MINIO_PORT}",
        "PHOTOSTREAM_REDIS_PORT": str(REDIS_BASE),
        "PHOTOSTREAM_REDIS_URL": f"redis://127.0.0.1:{REDIS_BASE}/0",
        "PHOTOSTREAM_REDIS_CLUSTER": "true",
        # Processes of the single-node stack may hold the default service ports.
        "PHOTOSTREAM_INGEST_PORT": "18081",
        "PHOTOSTREAM_API_PORT": "18082",
        "PHOTOSTREAM_METRICS_PORT": "19400",
    }


def cluster_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings for the local cluster: the caller's environment with the cluster on top."""
    env = dict(os.environ if environ is None else environ)
    return Settings.from_env({**env, **cluster_environment(env)})


def _with_stack(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, stack=dataclasses.replace(settings.stack, **changes))


# -- Kafka ------------------------------------------------------------------------------------


class KafkaNode(KafkaService):
    """One broker+controller of a 3-voter KRaft quorum; internal topics at RF 3, ISR 2."""

    def __init__(self, settings: Settings, node: int) -> None:
        broker, controller = kafka_ports(node)
        own = dataclasses.replace(settings.kafka, bootstrap_servers=(f"127.0.0.1:{broker}",))
        super().__init__(dataclasses.replace(
            _with_stack(settings, kafka_port=broker, kafka_controller_port=controller),
            kafka=own))
        self.node = node
        self.name = f"kafka-{node}"
        self.cluster_settings = settings

    @property
    def cache_dir(self) -> Path:
        return self.settings.stack.cache_dir / "kafka"

    def cluster_id(self) -> str:
        """One id for all three data dirs, kept in the cluster's state dir."""
        path = self.settings.stack.state_dir / "kafka-cluster.id"
        if not path.exists():
            from operate.stack.kafka import new_cluster_id

            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(new_cluster_id() + "\n")
        return path.read_text().strip()

    def server_properties(self) -> str:
        base = super().server_properties().splitlines()
        voters = ",".join(f"{n}@127.0.0.1:{kafka_ports(n)[1]}" for n in range(1, KAFKA_NODES + 1))
        rf = str(self.cluster_settings.kafka.replication_factor)
        isr = str(self.cluster_settings.kafka.min_insync_replicas)
        overrides = {
            "node.id": str(self.node),
            "controller.quorum.voters": voters,
            "offsets.topic.replication.factor": rf,
            "transaction.state.log.replication.factor": rf,
            "transaction.state.log.min.isr": isr,
            "share.coordinator.state.topic.replication.factor": rf,
            "share.coordinator.state.topic.min.isr": isr,
            "default.replication.factor": rf,
            "min.insync.replicas": isr,
            # A replica that stops fetching leaves the ISR after 10 s (default 30 s), so
            # acks=all writes resume soon after a broker dies.
            "replica.lag.time.max.ms": "10000",
            "num.io.threads": "2",
            "background.threads": "2",
        }
        lines = []
        for line in base:
            key = line.split("=", 1)[0]
            lines.append(f"{key}={overrides.pop(key)}" if key in overrides else line)
        lines += [f"{k}={v}" for k, v in overrides.items()]
        return "\n".join(lines) + "\n"


# -- Cassandra --------------------------------------------------------------------------------


class CassandraNode(CassandraService):
    """One node on its own loopback address; node 1 is the seed the others join."""

    def __init__(self, settings: Settings, node: int) -> None:
        super().__init__(_with_stack(settings, cassandra_jmx_port=CASSANDRA_JMX_BASE + node - 1))
        self.node = node
        self.name = f"cassandra-{node}"
        self.address = CASSANDRA_HOSTS[node - 1]

    @property
    def host(self) -> str:
        return self.address

    @property
    def cache_dir(self) -> Path:
        return self.settings.stack.cache_dir / "cassandra"

    def ports(self) -> dict[str, int]:
        # JMX listens on 127.0.0.1 with one port per node; checked there by start-up.
        return {"cql": self.settings.stack.cassandra_port,
                "storage": self.settings.stack.cassandra_storage_port}

    def _cluster_config(self) -> dict[str, Any]:
        config = super()._cluster_config()
        seed = f"{CASSANDRA_HOSTS[0]}:{self.settings.stack.cassandra_storage_port}"
        config.update({
            "listen_address": self.address,
            "rpc_address": self.address,
            "seed_provider": [{
                "class_name": "org.apache.cassandra.locator.SimpleSeedProvider",
                "parameters": [{"seeds": seed}],
            }],
            # A fresh, empty ring: nothing to stream, so joining nodes skip bootstrap.
            "auto_bootstrap": False,
            "allocate_tokens_for_local_replication_factor": 3,
            # Hints replay what a stopped node missed once it is back (3 h default).
            "hinted_handoff_enabled": True,
        })
        return config

    def _system_properties(self) -> list[str]:
        # Gossip must settle across nodes; keep the single-node shortcuts out. The role
        # setup task reschedules itself after this delay while a peer is still down: at 0
        # (the single-node value) the first node spins a core and logs ~40k lines/s until
        # the last node has started.
        props = [p for p in super()._system_properties()
                 if not p.startswith(("-Dcassandra.skip_wait_for_gossip_to_settle",
                                      "-Dcassandra.ring_delay_ms",
                                      "-Dcassandra.superuser_setup_delay_ms"))]
        return [*props, "-Dcassandra.skip_wait_for_gossip_to_settle=0",
                "-Dcassandra.ring_delay_ms=5000", "-Dcassandra.superuser_setup_delay_ms=2000"]

    async def probe(self) -> None:
        if not port_in_use(self.settings.stack.cassandra_port, self.address):
            raise StackError(f"{self.name}: CQL port not open yet")
        await asyncio.to_thread(self._query_node)

    def _query_node(self) -> None:
        with _quiet_driver():
            probe = only_node(self.address, self.settings.stack.cassandra_port)
            try:
                session = probe.connect()
                row = session.execute("SELECT release_version FROM system.local").one()
                peers = len(list(session.execute("SELECT peer FROM system.peers_v2")))
            finally:
                probe.shutdown()
        if not row:
            raise StackError(f"{self.name} answered without a release_version")
        if peers < self.node - 1:
            raise StackError(f"{self.name} sees {peers} peers, expected {self.node - 1}")

    def endpoint(self) -> str:
        return f"cql://{self.address}:{self.settings.stack.cassandra_port}"


def only_node(address: str, port: int) -> Cluster:
    """A driver talking to ``address`` alone: its own answer, not the ring's."""
    profile = ExecutionProfile(load_balancing_policy=WhiteListRoundRobinPolicy([address]))
    return Cluster([address], port=port, protocol_version=5, connect_timeout=5,
                   execution_profiles={EXEC_PROFILE_DEFAULT: profile})


# -- Redis Cluster ----------------------------------------------------------------------------


class RedisNode(RedisService):
    """One cluster-enabled redis-server; :func:`form_redis_cluster` joins the six."""

    startup_timeout = 30.0

    def __init__(self, settings: Settings, port: int) -> None:
        super().__init__(_with_stack(settings, redis_port=port))
        self.name = f"redis-{port}"

    def ports(self) -> dict[str, int]:
        port = self.settings.stack.redis_port
        return {"client": port, "bus": port + 10000}

    def command(self) -> list[str]:
        return [*super().command(),
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(self.data_dir / "nodes.conf"),
                "--cluster-node-timeout", str(REDIS_NODE_TIMEOUT_MS),
                # A replica may be promoted however long its master link was down.
                "--cluster-replica-validity-factor", "0"]

    def endpoint(self) -> str:
        return f"127.0.0.1:{self.settings.stack.redis_port}"


async def redis_cluster_state(port: int) -> dict[str, str]:
    """``CLUSTER INFO`` of one node, as a dict."""
    client = aioredis.Redis(port=port, socket_timeout=2, decode_responses=True)
    try:
        raw = await client.execute_command("CLUSTER INFO")
    finally:
        await client.aclose()
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    return dict(line.split(":", 1) for line in str(raw).splitlines() if ":" in line)


async def form_redis_cluster(settings: Settings, timeout: float = 60.0) -> bool:
    """Create the cluster once (3 masters + 3 replicas), then wait until it says ok.

    Returns True if it was created now. A restarted node finds its peers in nodes.conf.
    """
    ports = redis_ports()
    created = False
    info = await redis_cluster_state(ports[0])
    if int(info.get("cluster_known_nodes", "1")) < len(ports):
        redis_cli = shutil.which("redis-cli") or "redis-cli"
        await run_checked(
            [redis_cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
             "--cluster-replicas", str(REDIS_REPLICAS), "--cluster-yes"],
            what="redis-cli --cluster create",
            log=settings.stack.state_dir / "logs" / "redis-cluster-create.log",
        )
        created = True
    deadline = time.monotonic() + timeout
    while True:
        states = [await redis_cluster_state(p) for p in ports]
        if all(s.get("cluster_state") == "ok" for s in states):
            return created
        if time.monotonic() > deadline:
            raise StackError(f"redis cluster not ok after {timeout:.0f}s: "
                             f"{[s.get('cluster_state') for s in states]}")
        await asyncio.sleep(0.5)


# -- the cluster as a whole -------------------------------------------------------------------


def kafka_nodes(settings: Settings) -> list[KafkaNode]:
    return [KafkaNode(settings, n) for n in range(1, KAFKA_NODES + 1)]


def cassandra_nodes(settings: Settings) -> list[CassandraNode]:
    return [CassandraNode(settings, n) for n in range(1, CASSANDRA_NODES + 1)]


def redis_nodes(settings: Settings) -> list[RedisNode]:
    return [RedisNode(settings, port) for port in redis_ports()]


def services(settings: Settings) -> list[Service]:
    """Every server of the cluster, in listing order."""
    return [*kafka_nodes(settings), *cassandra_nodes(settings), MinioService(settings),
            *redis_nodes(settings)]


def by_name(settings: Settings, name: str) -> Service:
    for svc in services(settings):
        if svc.name == name:
            return svc
    raise StackError(f"no cluster node named {name!r}; "
                     f"nodes: {', '.join(s.name for s in services(settings))}")


async def _start_all(svcs: list[Service]) -> list[StartReport]:
    """Start together, then wait for each (a KRaft quorum forms only with peers up)."""
    began = time.monotonic()
    started = [await svc.start() for svc in svcs]
    reports = []
    for svc, was_started in zip(svcs, started, strict=True):
        await svc.wait_ready()
        reports.append(StartReport(name=svc.name, endpoint=svc.endpoint(), started=was_started,
                                   seconds=time.monotonic() - began, rss_bytes=svc.memory()))
    return reports


async def _start_in_turn(svcs: list[Service]) -> list[StartReport]:
    """One after the other: each Cassandra node joins a ring that already answers."""
    reports = []
    for svc in svcs:
        began = time.monotonic()
        was_started = await svc.start()
        await svc.wait_ready()
        reports.append(StartReport(name=svc.name, endpoint=svc.endpoint(), started=was_started,
                                   seconds=time.monotonic() - began, rss_bytes=svc.memory()))
    return reports


async def _start_redis(settings: Settings) -> list[StartReport]:
    reports = await _start_all(list(redis_nodes(settings)))
    await form_redis_cluster(settings)
    return reports


async def up(settings: Settings, *, init: bool = True) -> UpReport:
    """Start the cluster (idempotent: running nodes are left alone), then the schema."""
    began = time.monotonic()
    parts = await asyncio.gather(
        _start_all(list(kafka_nodes(settings))),
        _start_in_turn(list(cassandra_nodes(settings))),
        _start_all([MinioService(settings)]),
        _start_redis(settings),
        return_exceptions=True,
    )
    errors = [p for p in parts if isinstance(p, BaseException)]
    if errors:
        raise StackError("cluster did not come up:\n" + "\n".join(str(e) for e in errors))
    report = UpReport(services=[r for part in parts if isinstance(part, list) for r in part])
    return await finish_up(settings, report, began, init=init)


async def down(settings: Settings) -> list[str]:
    """Stop every node we started (recorded in .stack-cluster pid files)."""
    return await stop_all(services(settings))


def status(settings: Settings) -> list[tuple[str, int | None, str, int]]:
    return describe(services(settings))


def total_rss(settings: Settings) -> int:
    return sum(rss_bytes(pid) for _, pid, _, _ in status(settings) if pid)


async def reset(settings: Settings) -> None:
    await down(settings)
    with contextlib.suppress(OSError):
        shutil.rmtree(settings.stack.state_dir)
