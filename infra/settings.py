"""The one settings object of photostream, read from the environment.

Every process (stack launcher, ingest service, processors, read API, CLI) builds its
configuration here and nowhere else, so an operator has one list of knobs: the
``PHOTOSTREAM_*`` variables below. Defaults point at the local stack that
``photostream stack up`` starts on loopback; in production, point the host lists at
real clusters (several Kafka brokers, several Cassandra contact points, a Redis
Cluster URL) and raise the replication factors.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _state_home() -> Path:
    """Where the local stack's state dirs (``.stack``, ``.stack-cluster``) live by default.

    In a checkout (an editable install) that is the checkout, so each clone has its own
    data. An installed wheel's ``REPO_ROOT`` is site-packages, which is no place for a
    database, so there it is the user's state dir (XDG), not the cache: wiping the cache
    of downloads must not wipe the data.
    """
    if (REPO_ROOT / "pyproject.toml").is_file():
        return REPO_ROOT
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "photostream"


STATE_HOME = _state_home()


def _split_hosts(value: str) -> tuple[str, ...]:
    return tuple(h.strip() for h in value.split(",") if h.strip())


class SettingsError(ValueError):
    """A PHOTOSTREAM_* variable holds a value we cannot use."""


_CONSISTENCY_LEVELS = ("ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_QUORUM", "EACH_QUORUM",
                       "LOCAL_ONE")


def _consistency(name: str) -> str:
    level = name.strip().upper()
    if level not in _CONSISTENCY_LEVELS:
        raise SettingsError(f"PHOTOSTREAM_CASSANDRA_CONSISTENCY={name!r}: use one of "
                            + ", ".join(_CONSISTENCY_LEVELS))
    return level


@dataclass(frozen=True)
class Env:
    """Typed access to a mapping of environment variables, naming the bad one on error."""

    values: Mapping[str, str]
    prefix: str = "PHOTOSTREAM_"

    def text(self, name: str, default: str) -> str:
        return self.values.get(self.prefix + name, default)

    def integer(self, name: str, default: int) -> int:
        raw = self.values.get(self.prefix + name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{self.prefix}{name}={raw!r} is not an integer") from None

    def number(self, name: str, default: float) -> float:
        raw = self.values.get(self.prefix + name)
        if raw is None or raw == "":
            return default
        try:
            return float(raw)
        except ValueError:
            raise SettingsError(f"{self.prefix}{name}={raw!r} is not a number") from None

    def flag(self, name: str, default: bool) -> bool:
        raw = self.values.get(self.prefix + name)
        if raw is None or raw == "":
            return default
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off"}:
            return False
        raise SettingsError(f"{self.prefix}{name}={raw!r} is not a boolean")

    def hosts(self, name: str, default: str) -> tuple[str, ...]:
        hosts = _split_hosts(self.text(name, default))
        if not hosts:
            raise SettingsError(f"{self.prefix}{name} names no host")
        return hosts


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: tuple[str, ...] = ("127.0.0.1:9092",)
    replication_factor: int = 1
    min_insync_replicas: int = 1
    client_id: str = "photostream"
    #: How long a processor copy may be silent before the group reassigns its
    #: partitions: after a crash (SIGKILL, lost host) its work resumes this much later.
    session_timeout_ms: int = 30_000
    #: How long a producer waits for a broker's acknowledgement before the send fails:
    #: the longest an upload can wait on a stalled broker before it is answered 503.
    request_timeout_ms: int = 30_000


@dataclass(frozen=True)
class CassandraSettings:
    contact_points: tuple[str, ...] = ("127.0.0.1",)
    port: int = 9042
    keyspace: str = "photostream"
    replication_factor: int = 1
    local_datacenter: str = "datacenter1"
    #: Consistency of writes and plain reads (a ``ConsistencyLevel`` name). A local
    #: quorum lets one replica of three be down while a read still sees every write.
    consistency: str = "LOCAL_QUORUM"
    username: str = ""
    password: str = ""


@dataclass(frozen=True)
class S3Settings:
    endpoint: str = "127.0.0.1:9000"
    access_key: str = "photostream"
    secret_key: str = "photostream-secret"
    secure: bool = False
    region: str = "us-east-1"
    originals_bucket: str = "photostream-originals"
    media_bucket: str = "photostream-media"


@dataclass(frozen=True)
class RedisSettings:
    """``url`` is a redis:// URL; ``cluster`` switches to the Redis Cluster client."""

    url: str = "redis://127.0.0.1:6379/0"
    cluster: bool = False


@dataclass(frozen=True)
class AuthSettings:
    """HMAC (HS256) bearer tokens; change ``jwt_secret`` outside development."""

    jwt_secret: str = "photostream-dev-secret-change-me"
    token_ttl_seconds: int = 7 * 24 * 3600
    #: Tokens whose ``exp - iat`` is longer (or that lack ``iat``) are refused, whoever
    #: minted them: the secret is shared, so this bounds what a careless minter can issue.
    max_token_lifetime_seconds: int = 30 * 24 * 3600
    #: How long Redis keeps a user's identity (registered? tokens valid after?) for the
    #: per-request check. Account events invalidate it at once; the TTL only bounds how
    #: long a lost invalidation (Redis restarted mid-way) can keep a stale answer.
    identity_cache_seconds: int = 60


@dataclass(frozen=True)
class IngestSettings:
    host: str = "127.0.0.1"
    port: int = 8081
    max_upload_bytes: int = 25 * 1024 * 1024
    presign_ttl_seconds: int = 900
    #: Distinct per running ingest process (0-15): id uniqueness across processes.
    id_worker: int = 0
    #: Browser origins allowed to call ingest (CORS): the web app's. Empty: the read
    #: API's own origin, as http://127.0.0.1:<api port> and http://localhost:<api port>.
    cors_origins: tuple[str, ...] = ()
    #: Uploads waiting for the media processors beyond which new uploads get 503 +
    #: Retry-After instead of queueing more (0: never refuse). See producers/ingest/backlog.py.
    max_backlog: int = 2000
    #: How often each ingest process re-reads that backlog from Kafka.
    backlog_poll_seconds: float = 1.0


@dataclass(frozen=True)
class ApiSettings:
    """The read API (``photostream api``) and the web app it serves."""

    host: str = "127.0.0.1"
    port: int = 8082
    #: Lifetime of the presigned media URLs handed to clients (short: they are bearer
    #: capabilities, and a private photo's URL must stop working soon after access ends).
    media_url_ttl_seconds: int = 900
    #: Public base of the object store in media URLs (empty: the S3 endpoint itself).
    media_base_url: str = ""
    #: Base URL of the ingest service, for the web app (empty: same host, ingest port).
    ingest_url: str = ""
    workers: int = 1
    #: Mount the benchmark's naive fan-out-on-read baseline (``bench.read_api`` only).
    naive_feed: bool = False
    #: Bound on one Redis command or Cassandra request of the read API (the drivers'
    #: defaults, 5 s and 10-20 s, turn a dead backend into hung requests): past it the
    #: read falls back to the other store or answers 503. See api/failsafe.py.
    backend_timeout_seconds: float = 0.5
    #: Cassandra reconnection delay of the read API (constant, not the driver's
    #: exponential one that reaches minutes): feeds recover this soon after an outage.
    reconnect_seconds: float = 1.0
    #: ``Retry-After`` of a 503 when a backend is unreachable or the Redis pool is full.
    retry_after_seconds: int = 2


@dataclass(frozen=True)
class RateLimitSettings:
    """Writes allowed per user (sign-ins: per client address) in each ``window_seconds``,
    counted in Redis so every replica shares them; beyond: 429 + Retry-After. 0 turns a
    limit off. The defaults are far above what a person does by hand (see
    infra/http/ratelimit.py)."""

    window_seconds: int = 60
    uploads: int = 30
    likes: int = 120
    comments: int = 60
    follows: int = 60
    #: Everything else a user writes: caption and profile edits, deletes.
    edits: int = 60
    sign_ins: int = 10


@dataclass(frozen=True)
class MediaSettings:
    max_pixels: int = 50_000_000
    jpeg_quality: int = 82
    workers: int = 0  # 0 = one per core


@dataclass(frozen=True)
class TimelineSettings:
    redis_cap: int = 800
    celebrity_threshold: int = 10_000
    inactive_after_days: int = 30
    fanout_chunk: int = 5_000


@dataclass(frozen=True)
class StackSettings:
    """Where the local stack keeps downloads (shared by clones) and data (per clone)."""

    cache_dir: Path = Path.home() / ".cache" / "photostream"
    state_dir: Path = STATE_HOME / ".stack"
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    cassandra_port: int = 9042
    cassandra_storage_port: int = 7000
    cassandra_jmx_port: int = 7199
    minio_port: int = 9000
    minio_console_port: int = 9001
    redis_port: int = 6379
    cassandra_heap: str = "1G"
    kafka_heap: str = "512M"


@dataclass(frozen=True)
class Settings:
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    cassandra: CassandraSettings = field(default_factory=CassandraSettings)
    s3: S3Settings = field(default_factory=S3Settings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    stack: StackSettings = field(default_factory=StackSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    media: MediaSettings = field(default_factory=MediaSettings)
    timelines: TimelineSettings = field(default_factory=TimelineSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    rate: RateLimitSettings = field(default_factory=RateLimitSettings)
    #: ``dev`` (the local stack's default) enables development-only conveniences such as
    #: the web app's sign-in endpoint; anything else is treated as production.
    env: str = "dev"
    log_level: str = "INFO"
    #: ``text`` (human) or ``json`` (one JSON object per line, for log shippers).
    log_format: str = "text"
    #: Where each processor process serves /metrics, /healthz and /readyz (0: any free port).
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9400

    @property
    def dev(self) -> bool:
        return self.env == "dev"

    @property
    def web_origins(self) -> tuple[str, ...]:
        """Origins the web app is served from (ingest's CORS allow-list)."""
        if self.ingest.cors_origins:
            return self.ingest.cors_origins
        return tuple(f"http://{host}:{self.api.port}" for host in ("127.0.0.1", "localhost"))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``environ`` (default: ``os.environ``)."""
        env = Env(os.environ if environ is None else environ)
        stack = StackSettings(
            cache_dir=Path(env.text("CACHE_DIR", str(StackSettings.cache_dir))).expanduser(),
            state_dir=Path(env.text("STATE_DIR", str(StackSettings.state_dir))).expanduser(),
            kafka_port=env.integer("KAFKA_PORT", 9092),
            kafka_controller_port=env.integer("KAFKA_CONTROLLER_PORT", 9093),
            cassandra_port=env.integer("CASSANDRA_PORT", 9042),
            cassandra_storage_port=env.integer("CASSANDRA_STORAGE_PORT", 7000),
            cassandra_jmx_port=env.integer("CASSANDRA_JMX_PORT", 7199),
            minio_port=env.integer("MINIO_PORT", 9000),
            minio_console_port=env.integer("MINIO_CONSOLE_PORT", 9001),
            redis_port=env.integer("REDIS_PORT", 6379),
            cassandra_heap=env.text("CASSANDRA_HEAP", "1G"),
            kafka_heap=env.text("KAFKA_HEAP", "512M"),
        )
        kafka = KafkaSettings(
            bootstrap_servers=env.hosts("KAFKA_BOOTSTRAP", f"127.0.0.1:{stack.kafka_port}"),
            replication_factor=env.integer("KAFKA_REPLICATION_FACTOR", 1),
            min_insync_replicas=env.integer("KAFKA_MIN_INSYNC_REPLICAS", 1),
            client_id=env.text("KAFKA_CLIENT_ID", "photostream"),
            session_timeout_ms=env.integer(
                "KAFKA_SESSION_TIMEOUT_MS", KafkaSettings.session_timeout_ms),
            request_timeout_ms=env.integer(
                "KAFKA_REQUEST_TIMEOUT_MS", KafkaSettings.request_timeout_ms),
        )
        cassandra = CassandraSettings(
            contact_points=env.hosts("CASSANDRA_HOSTS", "127.0.0.1"),
            port=stack.cassandra_port,
            keyspace=env.text("CASSANDRA_KEYSPACE", "photostream"),
            replication_factor=env.integer("CASSANDRA_REPLICATION_FACTOR", 1),
            local_datacenter=env.text("CASSANDRA_LOCAL_DC", "datacenter1"),
            consistency=_consistency(env.text("CASSANDRA_CONSISTENCY", "LOCAL_QUORUM")),
            username=env.text("CASSANDRA_USERNAME", ""),
            password=env.text("CASSANDRA_PASSWORD", ""),
        )
        s3 = S3Settings(
            endpoint=env.text("S3_ENDPOINT", f"127.0.0.1:{stack.minio_port}"),
            access_key=env.text("S3_ACCESS_KEY", S3Settings.access_key),
            secret_key=env.text("S3_SECRET_KEY", S3Settings.secret_key),
            secure=env.flag("S3_SECURE", False),
            region=env.text("S3_REGION", S3Settings.region),
            originals_bucket=env.text("S3_ORIGINALS_BUCKET", S3Settings.originals_bucket),
            media_bucket=env.text("S3_MEDIA_BUCKET", S3Settings.media_bucket),
        )
        redis = RedisSettings(
            url=env.text("REDIS_URL", f"redis://127.0.0.1:{stack.redis_port}/0"),
            cluster=env.flag("REDIS_CLUSTER", False),
        )
        auth = AuthSettings(
            jwt_secret=env.text("JWT_SECRET", AuthSettings.jwt_secret),
            token_ttl_seconds=env.integer("TOKEN_TTL_SECONDS", AuthSettings.token_ttl_seconds),
            max_token_lifetime_seconds=env.integer(
                "MAX_TOKEN_LIFETIME_SECONDS", AuthSettings.max_token_lifetime_seconds),
            identity_cache_seconds=env.integer(
                "IDENTITY_CACHE_SECONDS", AuthSettings.identity_cache_seconds),
        )
        if auth.token_ttl_seconds > auth.max_token_lifetime_seconds:
            raise SettingsError(
                f"PHOTOSTREAM_TOKEN_TTL_SECONDS={auth.token_ttl_seconds} exceeds "
                f"PHOTOSTREAM_MAX_TOKEN_LIFETIME_SECONDS={auth.max_token_lifetime_seconds}: "
                "every token minted would be refused")
        if auth.identity_cache_seconds < 1:
            raise SettingsError("PHOTOSTREAM_IDENTITY_CACHE_SECONDS must be at least 1")
        ingest = IngestSettings(
            host=env.text("INGEST_HOST", IngestSettings.host),
            port=env.integer("INGEST_PORT", IngestSettings.port),
            max_upload_bytes=env.integer("MAX_UPLOAD_BYTES", IngestSettings.max_upload_bytes),
            presign_ttl_seconds=env.integer(
                "PRESIGN_TTL_SECONDS", IngestSettings.presign_ttl_seconds
            ),
            id_worker=env.integer("ID_WORKER", IngestSettings.id_worker),
            cors_origins=_split_hosts(env.text("CORS_ORIGINS", "")),
            max_backlog=env.integer("INGEST_MAX_BACKLOG", IngestSettings.max_backlog),
            backlog_poll_seconds=env.number(
                "INGEST_BACKLOG_POLL_SECONDS", IngestSettings.backlog_poll_seconds),
        )
        media = MediaSettings(
            max_pixels=env.integer("MEDIA_MAX_PIXELS", MediaSettings.max_pixels),
            jpeg_quality=env.integer("MEDIA_JPEG_QUALITY", MediaSettings.jpeg_quality),
            workers=env.integer("MEDIA_WORKERS", MediaSettings.workers),
        )
        timelines = TimelineSettings(
            redis_cap=env.integer("TIMELINE_CAP", TimelineSettings.redis_cap),
            celebrity_threshold=env.integer(
                "CELEBRITY_THRESHOLD", TimelineSettings.celebrity_threshold
            ),
            inactive_after_days=env.integer(
                "INACTIVE_AFTER_DAYS", TimelineSettings.inactive_after_days
            ),
            fanout_chunk=env.integer("FANOUT_CHUNK", TimelineSettings.fanout_chunk),
        )
        api = ApiSettings(
            host=env.text("API_HOST", ApiSettings.host),
            port=env.integer("API_PORT", ApiSettings.port),
            media_url_ttl_seconds=env.integer(
                "MEDIA_URL_TTL_SECONDS", ApiSettings.media_url_ttl_seconds
            ),
            media_base_url=env.text("MEDIA_BASE_URL", ApiSettings.media_base_url),
            ingest_url=env.text("INGEST_URL", ApiSettings.ingest_url),
            workers=env.integer("API_WORKERS", ApiSettings.workers),
            naive_feed=env.flag("API_NAIVE_FEED", ApiSettings.naive_feed),
            backend_timeout_seconds=env.number("API_BACKEND_TIMEOUT_SECONDS",
                                               ApiSettings.backend_timeout_seconds),
            reconnect_seconds=env.number("API_RECONNECT_SECONDS", ApiSettings.reconnect_seconds),
            retry_after_seconds=env.integer("API_RETRY_AFTER_SECONDS",
                                            ApiSettings.retry_after_seconds),
        )
        defaults = RateLimitSettings()
        rate = RateLimitSettings(
            window_seconds=env.integer("RATE_WINDOW_SECONDS", defaults.window_seconds),
            uploads=env.integer("RATE_UPLOADS", defaults.uploads),
            likes=env.integer("RATE_LIKES", defaults.likes),
            comments=env.integer("RATE_COMMENTS", defaults.comments),
            follows=env.integer("RATE_FOLLOWS", defaults.follows),
            edits=env.integer("RATE_EDITS", defaults.edits),
            sign_ins=env.integer("RATE_SIGN_INS", defaults.sign_ins),
        )
        if rate.window_seconds < 1:
            raise SettingsError("PHOTOSTREAM_RATE_WINDOW_SECONDS must be at least 1")
        log_format = env.text("LOG_FORMAT", "text").lower()
        if log_format not in ("text", "json"):
            raise SettingsError(f"PHOTOSTREAM_LOG_FORMAT={log_format!r}: use text or json")
        return cls(
            kafka=kafka,
            cassandra=cassandra,
            s3=s3,
            redis=redis,
            stack=stack,
            auth=auth,
            ingest=ingest,
            media=media,
            timelines=timelines,
            api=api,
            rate=rate,
            env=env.text("ENV", "dev").lower(),
            log_level=env.text("LOG_LEVEL", "INFO"),
            log_format=log_format,
            metrics_host=env.text("METRICS_HOST", "127.0.0.1"),
            metrics_port=env.integer("METRICS_PORT", 9400),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings.from_env()
