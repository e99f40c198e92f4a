"""What every server of the local stack has in common: a process we start, watch and stop.

A concrete service says four things: which tools and ports it needs, how to fetch its
artifacts into the shared cache (``install``), how to lay out its config and data in
the per-clone state dir (``prepare``), the command that runs it, and one real request
that proves it is ready (``probe``). This class does the rest the same way for all of
them: pid files, logs, port checks, graceful stop, and readable errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from infra.settings import Settings


class StackError(RuntimeError):
    """A stack problem an operator can fix; ``str()`` is one line saying what and how."""


@dataclass(frozen=True)
class Tool:
    """An executable a service needs on PATH, and how to get it if it is missing."""

    command: str
    hint: str


def require_tools(tools: list[Tool]) -> None:
    for tool in tools:
        if shutil.which(tool.command) is None:
            raise StackError(f"'{tool.command}' not found on PATH: {tool.hint}")


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def port_bindable(port: int, host: str = "0.0.0.0") -> bool:
    """True if a server could bind ``port`` now (as servers do, with SO_REUSEADDR).

    Stricter than "nobody answers on it": a process that is exiting may have stopped
    accepting while its listening socket is still bound, and a JVM starting then fails
    with "port already in use".
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now, the kernel's pick, for a server we start (the
    demo's services, benchmarks, tests). Another process could take it before the caller
    binds: rare enough for these uses."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid``, from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _state(stat_path: Path) -> str | None:
    try:
        return stat_path.read_text().rsplit(") ", 1)[1][:1]
    except (OSError, IndexError):
        return None


def process_gone(pid: int) -> bool:
    """True once ``pid`` has exited and released its resources.

    A zombie *leader* is not enough: when a multi-threaded process (a JVM) exits, its
    main thread can be a zombie while other threads still run and hold its sockets,
    which is how ``up`` right after ``down`` found Cassandra's JMX port taken. So every
    thread must be gone (or a zombie).
    """
    state = _state(Path(f"/proc/{pid}/stat"))
    if state is None:
        return True
    if state not in ("Z", "X"):
        return False
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return True
    return all(_state(t / "stat") in (None, "Z", "X") for t in tasks)


def rss_bytes(pid: int) -> int:
    """Resident memory of one process, from /proc (0 if it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


#: How often a long install step says it is still working (and how far it got).
PROGRESS_EVERY_S = 10.0
_SIZE = re.compile(r"\((\d+(?:\.\d+)?) (B|kB|KB|MB|GB)(?: at [^)]*)?\)")
_UNITS = {"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9}


def describe_progress(output: str) -> str:
    """What a Maven or Go step has done so far, from its output: downloads and build steps.

    Maven (without ``-q``) logs ``Downloaded from central: URL (12 kB at 3 MB/s)`` per
    artifact; ``go install -v`` logs ``go: downloading MODULE VERSION`` per module and
    one line per package it compiles.
    """
    downloads, size, built, last = 0, 0.0, 0, ""
    for line in output.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith(("Downloaded from", "go: downloading")):
            downloads += 1
            match = _SIZE.search(line)
            if match:
                size += float(match[1]) * _UNITS[match[2]]
        elif not line.startswith(("Downloading from", "[INFO]", "[WARNING]", "go: ")):
            built += 1
        last = line
    parts = []
    if downloads:
        parts.append(f"{downloads} downloaded" + (f" ({size / 1e6:.1f} MB)" if size else ""))
    if built:
        parts.append(f"{built} build steps")
    if last:
        parts.append(f"last: {last[:90]}")
    return "; ".join(parts) or "no output yet"


async def run_checked(args: list[str], *, what: str, cwd: Path | None = None,
                      env: dict[str, str] | None = None, log: Path | None = None) -> None:
    """Run a build/fetch step; on failure raise a StackError naming it with its output tail.

    Such steps run once per machine but can take minutes (MinIO's Go build, Maven
    resolving a few hundred jars), so they say what they do, and every
    ``PROGRESS_EVERY_S`` how far they got, on stderr: silence looks like a hang.
    """
    out_path = log or Path(os.devnull)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    start = out_path.stat().st_size if log and out_path.exists() else 0
    began = time.monotonic()
    print(f"photostream stack: {what} (once per machine; output in {out_path})",
          file=sys.stderr, flush=True)
    with out_path.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            *args, cwd=cwd, env={**os.environ, **(env or {})},
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        while True:
            try:
                code = await asyncio.wait_for(proc.wait(), PROGRESS_EVERY_S)
                break
            except TimeoutError:
                done = describe_progress(_read_from(out_path, start)) if log else "running"
                print(f"  ... {what}: {time.monotonic() - began:.0f}s, {done}",
                      file=sys.stderr, flush=True)
    if code != 0:
        tail = tail_lines(out_path, 15) if log else ""
        raise StackError(f"{what} failed (exit {code}): {' '.join(args[:4])} ...\n{tail}")
    print(f"  done in {time.monotonic() - began:.0f}s: {what}", file=sys.stderr, flush=True)


def _read_from(path: Path, offset: int) -> str:
    try:
        with path.open("rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def tail_lines(path: Path, count: int) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-count:])


class Service(ABC):
    """One server of the local stack. Subclasses fill in the abstract parts."""

    #: Class default; a node of a cluster sets its own (kafka-1, ...) per instance.
    name: str
    startup_timeout: ClassVar[float] = 180.0
    stop_timeout: ClassVar[float] = 30.0

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        #: True when another checkout's server already answers on our ports (see start).
        self.shared = False

    # -- what a concrete service provides -------------------------------------------------

    @abstractmethod
    def tools(self) -> list[Tool]:
        """Executables needed to install and run the service."""

    @abstractmethod
    def ports(self) -> dict[str, int]:
        """Ports the service listens on, by role; each must be free before it starts."""

    @abstractmethod
    async def install(self) -> None:
        """Fetch/build artifacts into the shared cache; fast no-op when already cached."""

    @abstractmethod
    def prepare(self) -> None:
        """Write config and initialise data under ``state_dir``; idempotent."""

    @abstractmethod
    def command(self) -> list[str]:
        """The command line that runs the server in the foreground."""

    @abstractmethod
    async def probe(self) -> None:
        """One real request (not just an open port); raises while not ready."""

    @abstractmethod
    def endpoint(self) -> str:
        """What clients connect to, for the ``up``/``status`` output."""

    def environment(self) -> dict[str, str]:
        return {}

    # -- shared machinery -----------------------------------------------------------------

    @property
    def cache_dir(self) -> Path:
        return self.settings.stack.cache_dir / self.name

    @property
    def state_dir(self) -> Path:
        return self.settings.stack.state_dir / self.name

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def log_path(self) -> Path:
        return self.settings.stack.state_dir / "logs" / f"{self.name}.log"

    @property
    def pid_path(self) -> Path:
        return self.settings.stack.state_dir / "pids" / f"{self.name}.pid"

    def pid(self) -> int | None:
        """The pid of the process we started, if it is still that process and alive."""
        try:
            pid = int(self.pid_path.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        # A zombie or a recycled pid running something else is not ours.
        if stat.split(") ", 1)[-1].startswith("Z"):
            return None
        expected = Path(self.command()[0]).name.encode()
        return pid if expected in cmdline else None

    def is_running(self) -> bool:
        return self.pid() is not None

    @property
    def host(self) -> str:
        """The address the server listens on; a cluster node may own its own 127.0.0.x."""
        return "127.0.0.1"

    def _bind_host(self) -> str:
        # On 127.0.0.1 also refuse a port bound on any address; a node on its own
        # loopback address only collides with that address (or the wildcard).
        return "0.0.0.0" if self.host == "127.0.0.1" else self.host

    def check_ports(self) -> None:
        for role, port in self.ports().items():
            if port_in_use(port, self.host) or not port_bindable(port, self._bind_host()):
                raise StackError(
                    f"{self.name}: port {port} ({role}) is already in use by another process; "
                    f"stop that process or pick another port with PHOTOSTREAM_*_PORT"
                )

    def spawn(self) -> int:
        """Start the server detached (own session), logging to ``log_path``."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.pid_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n--- photostream stack: starting {self.name} at {time.ctime()}\n".encode())
            proc = subprocess.Popen(
                self.command(),
                cwd=self.state_dir,
                env={**os.environ, **self.environment()},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_path.write_text(str(proc.pid))
        self._await_exec(proc)
        return proc.pid

    def _await_exec(self, proc: subprocess.Popen[bytes], limit: float = 5.0) -> None:
        """Wait until the child has exec'd: /proc/<pid>/cmdline reads empty for a few ms
        after Popen returns, and ``pid()`` would take the new server for a stranger."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and proc.poll() is None:
            if self.pid() == proc.pid:
                return
            time.sleep(0.002)

    async def start(self) -> bool:
        """Install, prepare and start the server unless it runs already. True if started.

        A server we did not start but that answers a real request on our ports (another
        checkout's stack, same ports and credentials) is reused rather than refused, so
        a second clone can run its tests beside the first without knowing about it.
        """
        if self.is_running():
            return False
        if await self._answers_elsewhere():
            self.shared = True
            return False
        require_tools(self.tools())
        await self.install()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self.prepare)
        self.check_ports()
        await asyncio.to_thread(self.spawn)  # waits (briefly) for exec: off the loop
        return True

    async def _answers_elsewhere(self) -> bool:
        if not any(port_in_use(port) for port in self.ports().values()):
            return False
        try:
            await asyncio.wait_for(self.probe(), 10)
        except Exception:  # something else holds the port: check_ports will say so
            return False
        return True

    async def wait_ready(self, timeout: float | None = None) -> None:
        """Probe until the server answers; fail fast (with its log tail) if it dies."""
        deadline = time.monotonic() + (timeout or self.startup_timeout)
        last_error: BaseException | None = None
        while time.monotonic() < deadline:
            if not self.is_running() and not self.shared:
                raise StackError(
                    f"{self.name} exited during start-up; last lines of {self.log_path}:\n"
                    + tail_lines(self.log_path, 25)
                )
            try:
                await self.probe()
                return
            except Exception as exc:  # not ready yet: any client error means "try again"
                last_error = exc
            await asyncio.sleep(0.5)
        raise StackError(
            f"{self.name} did not become ready within {timeout or self.startup_timeout:.0f}s "
            f"(last probe error: {last_error!r}); last lines of {self.log_path}:\n"
            + tail_lines(self.log_path, 25)
        )

    async def stop(self) -> bool:
        """SIGTERM the process group, wait, then SIGKILL. True if something was stopped.

        Returns only when every port of the service can be bound again, so ``down``
        followed at once by ``up`` never finds a port "already in use": the leader
        exiting is not enough (while a process exits, /proc/<pid>/cmdline empties
        before its sockets close, and a helper of the group, such as a JVM forked by
        a launcher script, may outlive it holding the JMX port).
        """
        pid = self.pid()
        if pid is None:
            self.pid_path.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)

        def gone() -> bool:
            return process_gone(pid) and not group_members(pid)

        deadline = time.monotonic() + self.stop_timeout
        while time.monotonic() < deadline and not gone():
            await asyncio.sleep(0.2)
        if not gone():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            while not gone():
                await asyncio.sleep(0.1)
        self.pid_path.unlink(missing_ok=True)
        await self.wait_ports_free()
        return True

    async def wait_ports_free(self, timeout: float = 30.0) -> None:
        """Wait until every port of the service could be bound again (or say which not)."""
        deadline = time.monotonic() + timeout
        while True:
            busy = {role: port for role, port in self.ports().items()
                    if not port_bindable(port, self._bind_host())}
            if not busy:
                return
            if time.monotonic() > deadline:
                taken = ", ".join(f"{port} ({role})" for role, port in busy.items())
                raise StackError(f"{self.name} stopped but port(s) {taken} are still taken "
                                 f"after {timeout:.0f}s; see `ss -ltnp`")
            await asyncio.sleep(0.2)

    def memory(self) -> int:
        pid = self.pid()
        return rss_bytes(pid) if pid else 0
