"""Apache Cassandra 5.0, single node on loopback, run from Maven Central jars on Java 17.

No tarball and no Docker: Maven resolves ``cassandra-all`` and its runtime dependencies
(logback included) into the shared cache once, and we start ``CassandraDaemon`` with the
JVM flags Cassandra's own ``conf/jvm17-server.options`` and ``cassandra-env.sh`` would
pass. The config is sized for a 2-core dev box (1 GiB heap, small caches, one flush and
compaction thread) and tuned to reach "CQL answers" fast on a warm start.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from infra.connect.cassandra import cluster
from operate.stack.base import Service, StackError, Tool, port_in_use, run_checked
from operate.stack.versions import CASSANDRA_VERSION

RESOURCES = Path(__file__).resolve().parent / "resources"
POM_TEMPLATE = RESOURCES / "cassandra-pom.xml"
LOGBACK_TEMPLATE = RESOURCES / "cassandra-logback.xml"

# From Cassandra's conf/jvm17-server.options ("JPMS" section): Cassandra reaches into JDK
# internals (Unsafe, direct buffers, RMI/JMX, attach for jamm) and dies without these.
JVM17_MODULE_FLAGS: tuple[str, ...] = (
    "--add-exports", "java.base/jdk.internal.misc=ALL-UNNAMED",
    "--add-exports", "java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED",
    "--add-exports", "java.rmi/sun.rmi.registry=ALL-UNNAMED",
    "--add-exports", "java.rmi/sun.rmi.server=ALL-UNNAMED",
    "--add-exports", "java.sql/java.sql=ALL-UNNAMED",
    "--add-exports", "java.base/java.lang.ref=ALL-UNNAMED",
    "--add-exports", "jdk.unsupported/sun.misc=ALL-UNNAMED",
    "--add-exports", "jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED",
    "--add-exports", "jdk.attach/sun.tools.attach=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang.module=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.loader=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.ref=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.reflect=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.math=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.module=ALL-UNNAMED",
    "--add-opens", "java.base/jdk.internal.util.jar=ALL-UNNAMED",
    "--add-opens", "jdk.management/com.sun.management.internal=ALL-UNNAMED",
    "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens", "java.base/java.io=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens", "jdk.compiler/com.sun.tools.javac=ALL-UNNAMED",
    "--add-opens", "java.base/java.lang=ALL-UNNAMED",
    "--add-opens", "java.base/java.util=ALL-UNNAMED",
)

# Also from jvm17-server.options / jvm-server.options: G1 as Cassandra tunes it, and
# Netty allowed to build direct buffers through Unsafe (else it falls back to slower,
# MaxDirectMemorySize-hungry ByteBuffer.allocateDirect).
JVM_TUNING_FLAGS: tuple[str, ...] = (
    "-XX:+UseG1GC",
    "-XX:+ParallelRefProcEnabled",
    "-XX:MaxTenuringThreshold=1",
    "-XX:G1RSetUpdatingPauseTimePercent=5",
    "-XX:MaxGCPauseMillis=300",
    "-XX:InitiatingHeapOccupancyPercent=70",
    "-XX:+UseThreadPriorities",
    "-XX:+PerfDisableSharedMem",
    "-Xss256k",
    "-ea",
    "-da:net.openhft...",
    "-Djava.net.preferIPv4Stack=true",
    "-Djdk.attach.allowAttachSelf=true",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dio.netty.allocator.useCacheForAllThreads=true",
    "-Dio.netty.allocator.maxOrder=11",
)

# Off-heap stays modest so the whole stack fits in ~3 GiB: the chunk cache, networking
# buffers and Netty all allocate direct memory below this cap.
MAX_DIRECT_MEMORY = "256M"

# Cassandra mlockall()s (MCL_CURRENT) at start, which succeeds when run as root: every
# committed heap page becomes resident at once. A small initial heap keeps that (and the
# idle RSS) small; the heap still grows to cassandra_heap under load.
INITIAL_HEAP = "256M"

# How long spawn() waits for the new process to finish exec'ing the JVM launcher.
EXEC_GRACE_SECONDS = 2.0


@contextlib.contextmanager
def _quiet_driver() -> Iterator[None]:
    """The driver logs every refused connection (WARNING, and ERROR with a traceback for the
    control connection) while Cassandra boots: the probe's own error says enough."""
    logger = logging.getLogger("cassandra")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)


class CassandraService(Service):
    name = "cassandra"
    # The first boot creates the system keyspaces (~20 s); warm starts with the class
    # archive take ~10 s on two cores. The margin is for a box busy starting the others.
    startup_timeout = 240.0
    # SIGTERM drains (flushes memtables) before exiting; give it time rather than SIGKILL.
    stop_timeout = 60.0

    # -- layout -----------------------------------------------------------------------------

    @property
    def version_dir(self) -> Path:
        return self.cache_dir / CASSANDRA_VERSION

    @property
    def lib_dir(self) -> Path:
        return self.version_dir / "lib"

    @property
    def marker_path(self) -> Path:
        return self.version_dir / ".installed"

    @property
    def config_path(self) -> Path:
        return self.state_dir / "cassandra.yaml"

    @property
    def logback_path(self) -> Path:
        return self.state_dir / "logback.xml"

    @property
    def tmp_dir(self) -> Path:
        """JNA, Netty, Snappy and zstd unpack native libraries here; it must allow exec."""
        return self.state_dir / "tmp"

    # -- Service interface --------------------------------------------------------------------

    def tools(self) -> list[Tool]:
        return [
            Tool("java", "install a Java 17 runtime, e.g. 'sudo apt-get install -y "
                         "openjdk-17-jre-headless'"),
            Tool("mvn", "install Maven to fetch Cassandra's jars, e.g. 'sudo apt-get "
                        "install -y maven'"),
        ]

    def ports(self) -> dict[str, int]:
        stack = self.settings.stack
        return {
            "cql": stack.cassandra_port,
            "storage": stack.cassandra_storage_port,
            "jmx": stack.cassandra_jmx_port,
        }

    async def install(self) -> None:
        """Resolve the runtime classpath once per version (and per pom content)."""
        pom_text = POM_TEMPLATE.read_text().replace("@CASSANDRA_VERSION@", CASSANDRA_VERSION)
        if self._installed(pom_text):
            return
        pom_path = self.version_dir / "pom.xml"
        await asyncio.to_thread(self._reset_lib, pom_path, pom_text)
        await run_checked(
            ["mvn", "-B", "-f", str(pom_path), "dependency:copy-dependencies",
             "-DincludeScope=runtime", f"-DoutputDirectory={self.lib_dir}"],
            what=f"resolving Cassandra {CASSANDRA_VERSION} jars from Maven Central",
            log=self.settings.stack.state_dir / "logs" / "cassandra-install.log",
        )
        self._check_lib()
        self.marker_path.write_text(pom_text)

    def prepare(self) -> None:
        """Write cassandra.yaml and logback.xml; create data and tmp dirs."""
        for path in self._data_dirs().values():
            path.mkdir(parents=True, exist_ok=True)
        for path in (self.tmp_dir / "jna", self.state_dir / "triggers"):
            path.mkdir(parents=True, exist_ok=True)
        self._prune_cds()
        self.config_path.write_text(self._yaml(self._config()))
        shutil.copyfile(LOGBACK_TEMPLATE, self.logback_path)

    def command(self) -> list[str]:
        stack = self.settings.stack
        heap = stack.cassandra_heap
        return [
            shutil.which("java") or "java",
            f"-Xms{INITIAL_HEAP}", f"-Xmx{heap}", f"-XX:MaxDirectMemorySize={MAX_DIRECT_MEMORY}",
            *JVM_TUNING_FLAGS,
            *JVM17_MODULE_FLAGS,
            f"-javaagent:{self._jamm_jar()}",
            *self._class_data_sharing(),
            *self._system_properties(),
            "-cp", self._classpath(),
            "org.apache.cassandra.service.CassandraDaemon",
        ]

    async def stop(self) -> bool:
        """Stop, then keep the class archive the JVM wrote on exit only if the exit was
        graceful: a SIGKILL mid-dump leaves a truncated file the JVM would reject forever."""
        began = time.monotonic()
        stopped = await super().stop()
        dumped = self._cds_dump_path()
        if dumped.exists():
            if stopped and time.monotonic() - began < self.stop_timeout and dumped.stat().st_size:
                dumped.replace(self._cds_archive_path())
            else:
                dumped.unlink(missing_ok=True)
        return stopped

    def environment(self) -> dict[str, str]:
        # As cassandra-env.sh does: fewer glibc malloc arenas, less native memory bloat.
        return {"MALLOC_ARENA_MAX": "4"}

    async def probe(self) -> None:
        """A real CQL round trip, since the port opens before the schema is usable."""
        if not port_in_use(self.settings.stack.cassandra_port):
            raise StackError("cassandra: CQL port not open yet")
        version = await asyncio.to_thread(self._query_release_version)
        if not version:
            raise StackError("cassandra answered without a release_version")

    def endpoint(self) -> str:
        return f"cql://127.0.0.1:{self.settings.stack.cassandra_port}"

    # -- install helpers ----------------------------------------------------------------------

    def _installed(self, pom_text: str) -> bool:
        """The marker holds the pom it was built from, so editing the pom re-resolves."""
        try:
            return self.marker_path.read_text() == pom_text and self.lib_dir.is_dir()
        except OSError:
            return False

    def _reset_lib(self, pom_path: Path, pom_text: str) -> None:
        """Start from an empty lib dir so jars of an older, half-done resolve cannot linger."""
        self.marker_path.unlink(missing_ok=True)
        shutil.rmtree(self.lib_dir, ignore_errors=True)
        self.lib_dir.mkdir(parents=True)
        pom_path.write_text(pom_text)

    def _check_lib(self) -> None:
        """Fail the install, not the start, if Maven left out what the daemon needs."""
        for pattern in (f"cassandra-all-{CASSANDRA_VERSION}.jar", "logback-classic-*.jar",
                        "jamm-*.jar"):
            if not any(self.lib_dir.glob(pattern)):
                raise StackError(f"Cassandra install incomplete: no {pattern} in {self.lib_dir}; "
                                 f"delete {self.version_dir} and retry")

    def _jamm_jar(self) -> Path:
        """jamm measures object sizes for memtable accounting; it must run as an agent."""
        jars = sorted(self.lib_dir.glob("jamm-*.jar"))
        return jars[-1] if jars else self.lib_dir / "jamm.jar"

    def _classpath(self) -> str:
        """Sorted jars, not ``lib/*``: the class archive is only valid for the same order."""
        return ":".join(str(jar) for jar in sorted(self.lib_dir.glob("*.jar")))

    # -- class data sharing -------------------------------------------------------------------

    def _cds_key(self) -> str:
        """The archive fits one JVM build, jar set and heap layout; a change means a new file."""
        java = Path(shutil.which("java") or "java").resolve()
        try:
            stat = java.stat()
            java_id = f"{java}:{stat.st_size}:{stat.st_mtime_ns}"
        except OSError:
            java_id = str(java)
        parts = (java_id, self._classpath(), self.settings.stack.cassandra_heap, INITIAL_HEAP)
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]

    def _cds_archive_path(self) -> Path:
        return self.state_dir / "cds" / f"cassandra-{CASSANDRA_VERSION}-{self._cds_key()}.jsa"

    def _cds_dump_path(self) -> Path:
        return self._cds_archive_path().with_suffix(".dump")

    def _prune_cds(self) -> None:
        """Drop archives for another JVM/heap, and a dump from a run not ended by stop()."""
        current = self._cds_archive_path()
        current.parent.mkdir(parents=True, exist_ok=True)
        for path in current.parent.iterdir():
            if path != current:
                path.unlink(missing_ok=True)

    def _class_data_sharing(self) -> list[str]:
        """AppCDS: the first run records the ~10k classes Cassandra loads and dumps them on
        exit; later starts map that archive instead of parsing jars (~7 s less on 2 cores).
        The jamm agent needs AllowArchivingWithJavaAgent (it transforms no classes)."""
        archive = self._cds_archive_path()
        use = (f"-XX:SharedArchiveFile={archive}" if archive.exists()
               else f"-XX:ArchiveClassesAtExit={self._cds_dump_path()}")
        return ["-XX:+UnlockDiagnosticVMOptions", "-XX:+AllowArchivingWithJavaAgent",
                "-Xlog:cds=error", use]

    # -- configuration ------------------------------------------------------------------------

    def _data_dirs(self) -> dict[str, Path]:
        return {
            "data": self.data_dir / "data",
            "commitlog": self.data_dir / "commitlog",
            "saved_caches": self.data_dir / "saved_caches",
            "hints": self.data_dir / "hints",
            "cdc_raw": self.data_dir / "cdc_raw",
        }

    def _config(self) -> dict[str, Any]:
        """cassandra.yaml (5.0 key names), merged from the parts below."""
        return {**self._cluster_config(), **self._storage_config(), **self._sizing_config()}

    def _cluster_config(self) -> dict[str, Any]:
        """One node that is its own seed: no bootstrap, no peers, no auth on loopback."""
        stack = self.settings.stack
        return {
            "cluster_name": "photostream",
            "num_tokens": 16,
            "allocate_tokens_for_local_replication_factor": 1,
            "partitioner": "org.apache.cassandra.dht.Murmur3Partitioner",
            "auto_bootstrap": False,
            "listen_address": "127.0.0.1",
            "rpc_address": "127.0.0.1",
            "storage_port": stack.cassandra_storage_port,
            "native_transport_port": stack.cassandra_port,
            "start_native_transport": True,
            "seed_provider": [{
                "class_name": "org.apache.cassandra.locator.SimpleSeedProvider",
                "parameters": [{"seeds": f"127.0.0.1:{stack.cassandra_storage_port}"}],
            }],
            "endpoint_snitch": "SimpleSnitch",
            "authenticator": "AllowAllAuthenticator",
            "authorizer": "AllowAllAuthorizer",
            "role_manager": "CassandraRoleManager",
            "network_authorizer": "AllowAllNetworkAuthorizer",
            # A fresh 5.0-only cluster: no need to keep 4.x-compatible sstables/messaging.
            "storage_compatibility_mode": "NONE",
        }

    def _storage_config(self) -> dict[str, Any]:
        """Everything on disk lives under the per-clone state dir."""
        dirs = self._data_dirs()
        return {
            "data_file_directories": [str(dirs["data"])],
            "commitlog_directory": str(dirs["commitlog"]),
            "saved_caches_directory": str(dirs["saved_caches"]),
            "hints_directory": str(dirs["hints"]),
            "cdc_raw_directory": str(dirs["cdc_raw"]),
            "commitlog_sync": "periodic",
            "commitlog_sync_period": "10000ms",
            "commitlog_segment_size": "32MiB",
            "disk_failure_policy": "stop",
            "commit_failure_policy": "stop",
            # Dev data: snapshots on DROP/TRUNCATE only fill the disk during test runs.
            "auto_snapshot": False,
            "snapshot_before_compaction": False,
            "incremental_backups": False,
            "cdc_enabled": False,
        }

    def _sizing_config(self) -> dict[str, Any]:
        """Small caches and thread pools for a 2-core box that also runs Kafka and MinIO."""
        return {
            "memtable_allocation_type": "heap_buffers",
            "memtable_heap_space": "128MiB",
            "memtable_offheap_space": "64MiB",
            "memtable_flush_writers": 1,
            "key_cache_size": "16MiB",
            "row_cache_size": "0MiB",
            "counter_cache_size": "4MiB",
            "file_cache_size": "32MiB",
            "networking_cache_size": "32MiB",
            "index_summary_capacity": "16MiB",
            "concurrent_reads": 8,
            "concurrent_writes": 8,
            "concurrent_counter_writes": 4,
            "concurrent_materialized_view_writes": 2,
            "concurrent_compactors": 1,
            "compaction_throughput": "64MiB/s",
            "native_transport_max_threads": 32,
            "materialized_views_enabled": False,
            "sasi_indexes_enabled": False,
            "transient_replication_enabled": False,
            "user_defined_functions_enabled": False,
        }

    @staticmethod
    def _yaml(config: dict[str, Any]) -> str:
        """YAML is a superset of JSON: one ``key: <json>`` line each, with no YAML library."""
        header = "# Written by operate/stack/cassandra.py on every start; edit that file instead.\n"
        return header + "".join(f"{key}: {json.dumps(value)}\n" for key, value in config.items())

    def _system_properties(self) -> list[str]:
        """Where config and scratch files are, and start-up waits a single node can skip."""
        stack = self.settings.stack
        return [
            f"-Dcassandra.config={self.config_path.resolve().as_uri()}",
            "-Dcassandra-foreground=yes",
            f"-Dcassandra.storagedir={self.data_dir}",
            f"-Dcassandra.logdir={self.settings.stack.state_dir / 'logs'}",
            f"-Dcassandra.triggers_dir={self.state_dir / 'triggers'}",
            f"-Dlogback.configurationFile={self.logback_path}",
            f"-Djna.tmpdir={self.tmp_dir / 'jna'}",
            f"-Djava.io.tmpdir={self.tmp_dir}",
            # JMX bound to loopback only, without authentication (as cassandra-env.sh's
            # LOCAL_JMX=yes), so nodetool works and nothing is exposed.
            f"-Dcassandra.jmx.local.port={stack.cassandra_jmx_port}",
            "-Dcom.sun.management.jmxremote.authenticate=false",
            # Nobody else to gossip with: do not wait for gossip or ring settling.
            "-Dcassandra.skip_wait_for_gossip_to_settle=0",
            "-Dcassandra.ring_delay_ms=1000",
            "-Dcassandra.superuser_setup_delay_ms=0",
            # Skip measuring the per-row memtable overhead (100k sample rows, ~2.5 s on two
            # cores): 180 bytes is what 5.0 measures on 64-bit HotSpot; it only sizes flushes.
            "-Dcassandra.memtable.row_overhead_size=180",
        ]

    # -- probe helpers ------------------------------------------------------------------------

    def _query_release_version(self) -> str:
        """Blocking driver work (run in a thread); always shuts the Cluster down."""
        settings = dataclasses.replace(
            self.settings,
            cassandra=dataclasses.replace(
                self.settings.cassandra,
                contact_points=("127.0.0.1",),
                port=self.settings.stack.cassandra_port,
            ),
        )
        with _quiet_driver():
            probe_cluster = cluster(settings)
            try:
                session = probe_cluster.connect()
                row = session.execute("SELECT release_version FROM system.local").one()
            finally:
                probe_cluster.shutdown()
        return str(row["release_version"]) if row else ""
