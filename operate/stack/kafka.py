"""Apache Kafka as one KRaft node (broker and controller in one JVM) on loopback.

The jars come from Maven Central through a small pom (``resources/kafka-pom.xml``), not
from the release tarball: Maven is already a stack prerequisite (Cassandra comes the same
way), its local repository is shared by every clone, and the version pin lives in
``versions.py`` like every other server's. There is no ZooKeeper: the same process is
the single voter of the metadata quorum, so ``up`` starts one JVM.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import shutil
import subprocess
import uuid
from pathlib import Path

from infra.connect import kafka as kafka_connect
from operate.stack.base import Service, StackError, Tool, port_in_use, run_checked, tail_lines
from operate.stack.versions import KAFKA_VERSION

RESOURCES = Path(__file__).resolve().parent / "resources"
POM_TEMPLATE = RESOURCES / "kafka-pom.xml"
LOG4J_CONFIG = RESOURCES / "kafka-log4j2.xml"
MAIN_CLASS = "kafka.Kafka"
# Logged by the JVM only after the whole class-data archive (header last) is on disk.
CDS_DONE = "Written dynamic archive"
STORAGE_TOOL = "kafka.tools.StorageTool"


def new_cluster_id() -> str:
    """A random cluster id in Kafka's own format (URL-safe base64 of 16 bytes, no padding).

    Kafka refuses ids that start with '-' (they look like options on a command line), so
    draw again in that case, as ``kafka-storage.sh random-uuid`` does.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


class KafkaService(Service):
    name = "kafka"
    startup_timeout = 90.0
    # A clean shutdown flushes segments and writes the clean-shutdown marker, which spares
    # the next start a log recovery; give it time before base.stop() resorts to SIGKILL.
    stop_timeout = 45.0

    # -- paths ----------------------------------------------------------------------------

    @property
    def install_dir(self) -> Path:
        """Per-version cache, outside the clone, so every clone and every re-clone reuses it."""
        return self.cache_dir / KAFKA_VERSION

    @property
    def lib_dir(self) -> Path:
        return self.install_dir / "lib"

    @property
    def marker(self) -> Path:
        """Written only after Maven succeeded, so a half-copied lib/ is never trusted."""
        return self.install_dir / ".installed"

    @property
    def config_path(self) -> Path:
        return self.state_dir / "server.properties"

    @property
    def cluster_id_path(self) -> Path:
        return self.state_dir / "cluster.id"

    @property
    def cds_archive(self) -> Path:
        """Class-data-sharing archive of the broker's classes: halves JVM start-up.

        Named after the Kafka version and the java binary, because an archive only fits
        the exact JDK and classpath that wrote it; a new name means a fresh dump.
        """
        java = Path(os.path.realpath(self.java()))
        stamp = f"{java}:{java.stat().st_mtime_ns if java.exists() else 0}"
        key = hashlib.sha256(stamp.encode()).hexdigest()[:8]
        return self.state_dir / "cds" / f"kafka-{KAFKA_VERSION}-{key}.jsa"

    # -- Service interface ----------------------------------------------------------------

    def tools(self) -> list[Tool]:
        return [
            Tool("java", "install a Java 17+ runtime (Debian: 'sudo apt-get install -y "
                         "openjdk-17-jre-headless'); Kafka 4 needs Java 17 for the broker"),
            Tool("mvn", "install Apache Maven (Debian: 'sudo apt-get install -y maven'); it "
                        "fetches Kafka's jars from Maven Central into ~/.m2 on first start"),
        ]

    def ports(self) -> dict[str, int]:
        stack = self.settings.stack
        return {"broker": stack.kafka_port, "controller": stack.kafka_controller_port}

    async def install(self) -> None:
        """Copy Kafka's runtime jars into the shared cache once per version."""
        if self.marker.exists():
            return
        self.install_dir.mkdir(parents=True, exist_ok=True)
        pom = self.install_dir / "pom.xml"
        pom.write_text(POM_TEMPLATE.read_text().replace("@KAFKA_VERSION@", KAFKA_VERSION))
        # A previous failed run may have left a partial or mixed-version lib/; start clean.
        shutil.rmtree(self.lib_dir, ignore_errors=True)
        await run_checked(
            ["mvn", "-B", "-f", str(pom), "dependency:copy-dependencies",
             "-DincludeScope=runtime", f"-DoutputDirectory={self.lib_dir}"],
            what=f"fetching Kafka {KAFKA_VERSION} from Maven Central",
            log=self.install_dir / "install.log",
        )
        self.marker.write_text(f"{KAFKA_VERSION}\n")

    def prepare(self) -> None:
        """Write the config on every start (so settings changes apply); format storage once."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.server_properties())
        self.promote_cds_archive()
        if not (self.data_dir / "meta.properties").exists():
            self.format_storage()

    def command(self) -> list[str]:
        heap = self.settings.stack.kafka_heap
        return [
            self.java(),
            f"-Xms{heap}", f"-Xmx{heap}",
            # Kafka's own defaults (kafka-run-class.sh): short G1 pauses for a latency-bound
            # broker; page cache, not heap, holds the log data.
            "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35", "-XX:+ExplicitGCInvokesConcurrent",
            "-XX:MaxInlineLevel=15", "-Djava.awt.headless=true",
            *self.cds_options(),
            *self.jvm_common(),
            MAIN_CLASS, str(self.config_path),
        ]

    async def probe(self) -> None:
        """A metadata round trip: the broker only serves requests once it is unfenced."""
        port = self.settings.stack.kafka_port
        if not port_in_use(port):
            # Checked first so start-up doesn't flood the console with aiokafka's
            # "Unable connect" errors, one per probe, while the JVM is still booting.
            raise StackError(f"kafka broker port {port} is not listening yet")
        admin = kafka_connect.admin(self.settings)
        try:
            async with asyncio.timeout(5):
                await admin.start()
                cluster = await admin.describe_cluster()
        finally:
            await admin.close()
        if not cluster.get("brokers"):
            raise StackError("kafka answered metadata but lists no broker yet")

    def endpoint(self) -> str:
        return f"127.0.0.1:{self.settings.stack.kafka_port}"

    # -- helpers --------------------------------------------------------------------------

    def java(self) -> str:
        """Absolute path, so base.pid() can recognise our process by its 'java' basename."""
        return shutil.which("java") or "java"

    def jvm_common(self) -> list[str]:
        """Options shared by the broker and the storage formatter."""
        return [
            f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
            "-cp", f"{self.lib_dir}/*",
        ]

    def cds_options(self) -> list[str]:
        """Use the class-data archive if we have one; otherwise dump one when this JVM exits.

        The dump goes to a side file that prepare() promotes only if the JVM logged that
        it finished: a truncated archive crashes the JVM (SIGBUS) instead of being skipped.
        """
        archive = self.cds_archive
        if archive.exists():
            return [f"-XX:SharedArchiveFile={archive}"]
        part = archive.with_suffix(".part")
        return [
            f"-XX:ArchiveClassesAtExit={part}",
            # The dump warns once per class it skips: keep that out of kafka.log.
            "-Xlog:cds*=off",
            f"-Xlog:cds+dynamic=info:file={part.with_suffix('.log')}",
        ]

    def promote_cds_archive(self) -> None:
        """Turn the previous run's finished dump into the archive; drop an unfinished one."""
        part = self.cds_archive.with_suffix(".part")
        dump_log = part.with_suffix(".log")
        finished = dump_log.exists() and CDS_DONE in dump_log.read_text(errors="replace")
        if part.exists() and finished:
            part.replace(self.cds_archive)
        part.unlink(missing_ok=True)
        dump_log.unlink(missing_ok=True)
        self.cds_archive.parent.mkdir(parents=True, exist_ok=True)

    def cluster_id(self) -> str:
        """The id the data dir was formatted with; persisted so a re-format never differs."""
        if self.cluster_id_path.exists():
            return self.cluster_id_path.read_text().strip()
        cluster_id = new_cluster_id()
        self.cluster_id_path.write_text(cluster_id + "\n")
        return cluster_id

    def format_storage(self) -> None:
        """Write meta.properties and the bootstrap metadata, as ``kafka-storage.sh format``.

        No ``--standalone``: the quorum is the static ``controller.quorum.voters`` list in
        server.properties. Runs in prepare(), i.e. in a worker thread, hence blocking.
        """
        log = self.settings.stack.state_dir / "logs" / "kafka-format.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        args = [self.java(), "-Xmx256M", *self.jvm_common(), STORAGE_TOOL, "format",
                "-t", self.cluster_id(), "-c", str(self.config_path)]
        with log.open("ab") as out:
            code = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=out,
                                  stderr=subprocess.STDOUT, check=False).returncode
        if code != 0:
            raise StackError(f"formatting Kafka storage in {self.data_dir} failed (exit {code}); "
                             f"last lines of {log}:\n{tail_lines(log, 15)}")

    def server_properties(self) -> str:
        """A single-node KRaft config sized for a laptop: one replica, small buffers."""
        stack = self.settings.stack
        broker, controller = stack.kafka_port, stack.kafka_controller_port
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{controller}",
            "listeners": f"PLAINTEXT://127.0.0.1:{broker},CONTROLLER://127.0.0.1:{controller}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{broker}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.data_dir),
            # One broker: every internal topic gets one replica, or it is never created.
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            # Fewer internal partitions: faster first group join, fewer files and threads.
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.num.partitions": "10",
            "num.partitions": "1",
            # Topics are created by `photostream bootstrap` from the catalogue, never by a typo.
            "auto.create.topics.enable": "false",
            "delete.topic.enable": "true",
            # Tests and the CLI start consumers one at a time; don't wait 3 s for more.
            "group.initial.rebalance.delay.ms": "0",
            # Two cores: small thread pools, small cleaner buffer (default 128 MB of heap).
            "num.network.threads": "2",
            "num.io.threads": "4",
            "num.recovery.threads.per.data.dir": "1",
            "background.threads": "4",
            "log.cleaner.threads": "1",
            "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
            # Local data is disposable: keep three days, in 64 MB segments so it can go.
            "log.retention.hours": "72",
            "log.segment.bytes": str(64 * 1024 * 1024),
            "log.retention.check.interval.ms": "300000",
            "socket.request.max.bytes": str(100 * 1024 * 1024),
        }
        lines = ["# Written by operate/stack/kafka.py on every start; edit that file instead."]
        lines += [f"{key}={value}" for key, value in props.items()]
        return "\n".join(lines) + "\n"
