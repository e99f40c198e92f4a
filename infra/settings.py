"""The one settings object of photostream, read from the environment.

Every process (stack launcher, ingest service, processors, read API, CLI) builds its
configuration here and nowhere else, so an operator has one list of knobs: the
``PHOTOSTREAM_*`` variables below. Defaults point at the local stack that
``photostream stack up`` starts on loopback; in production, point the host lists at
real clusters (several Kafka brokers, several Cassandra contact points, a Redis
Cluster URL) and raise the replication factors.

A setting is one line of a group below: name, type, default, and a comment saying why.
Its variable is ``PHOTOSTREAM_`` + the group's ``env_prefix`` + the name in capitals
(``KafkaSettings.request_timeout_ms`` is ``PHOTOSTREAM_KAFKA_REQUEST_TIMEOUT_MS``), or
the one named by ``Var(...)`` for the older names that do not follow that rule.
pydantic-settings finds each variable and pydantic parses it (an empty one counts as
unset); a value it cannot parse, or out of its ``Field(ge=...)`` bounds, is a
:class:`SettingsError` naming the variable. A check across settings is its group's
``__post_init__`` (a token lifetime longer than the maximum), so it holds however the
group was built.

The groups stay frozen standard dataclasses, not pydantic models: the code and the tests
build variants with ``dataclasses.replace(settings, kafka=dataclasses.replace(...))`` and
construct groups directly (``AuthSettings(jwt_secret=...)``), so keeping that shape kept
every call site, while :func:`_read` lets pydantic-settings fill them. The unsafe values
(development secrets outside ``PHOTOSTREAM_ENV=dev``) are refused by
:mod:`infra.safety` when a service starts, not here: the CLI's offline commands still
work with them.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError
from pydantic import create_model as create_pydantic_model
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
PREFIX = "PHOTOSTREAM_"


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


class SettingsError(ValueError):
    """A PHOTOSTREAM_* variable holds a value we cannot use."""


@dataclass(frozen=True)
class Var:
    """``Annotated`` marker: the field's variable is ``PHOTOSTREAM_<name>``."""

    name: str


def _split(value: object) -> object:
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


def _some(hosts: tuple[str, ...]) -> tuple[str, ...]:
    if not hosts:
        raise ValueError("names no host")
    return hosts


def _normalised(case: Literal["upper", "lower"]) -> BeforeValidator:
    return BeforeValidator(
        lambda value: getattr(value.strip(), case)() if isinstance(value, str) else value)


#: Comma-separated in the variable (``k1:9092,k2:9092``); at least one.
Hosts = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_split), AfterValidator(_some)]
#: Comma-separated in the variable; may be empty.
Names = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_split)]
Consistency = Annotated[
    Literal["ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_QUORUM", "EACH_QUORUM", "LOCAL_ONE"],
    _normalised("upper")]
KafkaCodec = Annotated[Literal["none", "gzip", "lz4", "zstd", "snappy"], _normalised("lower")]
Directory = Annotated[Path, AfterValidator(Path.expanduser)]


@dataclass(frozen=True)
class KafkaSettings:
    env_prefix: ClassVar[str] = "KAFKA_"

    #: Default: the local stack's broker (``PHOTOSTREAM_KAFKA_PORT``).
    bootstrap_servers: Annotated[Hosts, Var("KAFKA_BOOTSTRAP")] = ("127.0.0.1:9092",)
    replication_factor: int = 1
    min_insync_replicas: int = 1
    client_id: str = "photostream"
    #: How long a processor copy may be silent before the group reassigns its
    #: partitions: after a crash (SIGKILL, lost host) its work resumes this much later.
    session_timeout_ms: int = 30_000
    #: How long a producer waits for a broker's acknowledgement before the send fails:
    #: the longest an upload can wait on a stalled broker before it is answered 503.
    request_timeout_ms: int = 30_000
    #: Producer batch codec. Measured with ``python -m bench.kafka_codecs`` (broker and
    #: client CPU per record, bytes on disk): the figures and the choice are in
    #: docs/capacity.md.
    compression: KafkaCodec = "lz4"
    #: How long a producer holds a batch open for more records of the same partition.
    linger_ms: int = 5
    #: Processors commit their consumed offsets at most this often (after the outputs
    #: of every batch are durable, as always): each commit is a replicated write to
    #: ``__consumer_offsets``, and at a batch or two per photo it was most of what the
    #: brokers spent per photo. A crash redelivers at most this much more, which the
    #: idempotent sinks absorb. 0 commits after every batch.
    commit_interval_ms: int = 1_000


@dataclass(frozen=True)
class CassandraSettings:
    env_prefix: ClassVar[str] = "CASSANDRA_"

    contact_points: Annotated[Hosts, Var("CASSANDRA_HOSTS")] = ("127.0.0.1",)
    #: The local stack's CQL port unless set (the same variable moves both).
    port: int = 9042
    keyspace: str = "photostream"
    replication_factor: int = 1
    local_datacenter: Annotated[str, Var("CASSANDRA_LOCAL_DC")] = "datacenter1"
    #: Consistency of writes and plain reads (a ``ConsistencyLevel`` name). A local
    #: quorum lets one replica of three be down while a read still sees every write.
    consistency: Consistency = "LOCAL_QUORUM"
    username: str = ""
    password: str = ""


@dataclass(frozen=True)
class S3Settings:
    env_prefix: ClassVar[str] = "S3_"

    #: Default: the local stack's MinIO (``PHOTOSTREAM_MINIO_PORT``).
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

    env_prefix: ClassVar[str] = "REDIS_"

    #: Default: the local stack's Redis (``PHOTOSTREAM_REDIS_PORT``).
    url: str = "redis://127.0.0.1:6379/0"
    cluster: bool = False


@dataclass(frozen=True)
class AuthSettings:
    """HMAC (HS256) bearer tokens; change ``jwt_secret`` outside development."""

    env_prefix: ClassVar[str] = ""

    jwt_secret: str = "photostream-dev-secret-change-me"
    token_ttl_seconds: int = 7 * 24 * 3600
    #: Tokens whose ``exp - iat`` is longer (or that lack ``iat``) are refused, whoever
    #: minted them: the secret is shared, so this bounds what a careless minter can issue.
    max_token_lifetime_seconds: int = 30 * 24 * 3600
    #: How long Redis keeps a user's identity (registered? tokens valid after?) for the
    #: per-request check. Account events invalidate it at once; the TTL only bounds how
    #: long a lost invalidation (Redis restarted mid-way) can keep a stale answer. It is
    #: also how long a Cassandra outage can last before the read API stops recognising a
    #: user it has seen (then 503): at 60 s the failsafe test saw every reader refused a
    #: minute into an outage, so an hour.
    identity_cache_seconds: Annotated[int, Field(ge=1)] = 3600

    #: How people sign in: ``password`` (accounts owned here, argon2id hashes) or
    #: ``oidc`` (delegated to the operator's OpenID Connect provider below).
    mode: Annotated[Literal["password", "oidc"], _normalised("lower"),
                    Var("AUTH_MODE")] = "password"
    #: The provider's issuer URL (its ``/.well-known/openid-configuration`` is read).
    oidc_issuer: Annotated[str, BeforeValidator(
        lambda value: value.strip().rstrip("/") if isinstance(value, str) else value)] = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    #: Where the provider sends the browser back: ingest's ``/v1/oidc/callback`` as the
    #: browser reaches it (empty: http://127.0.0.1:<ingest port>/v1/oidc/callback).
    oidc_redirect_url: str = ""
    #: Where the callback sends the browser on with its token: the web app's sign-in page
    #: (empty: http://127.0.0.1:<api port>/app/).
    oidc_web_app_url: str = ""

    def __post_init__(self) -> None:
        if self.token_ttl_seconds > self.max_token_lifetime_seconds:
            raise SettingsError(
                f"PHOTOSTREAM_TOKEN_TTL_SECONDS={self.token_ttl_seconds} exceeds "
                f"PHOTOSTREAM_MAX_TOKEN_LIFETIME_SECONDS={self.max_token_lifetime_seconds}: "
                "every token minted would be refused")
        if self.mode == "oidc" and not (self.oidc_issuer and self.oidc_client_id):
            raise SettingsError("PHOTOSTREAM_AUTH_MODE=oidc needs PHOTOSTREAM_OIDC_ISSUER and "
                                "PHOTOSTREAM_OIDC_CLIENT_ID")


@dataclass(frozen=True)
class IngestSettings:
    env_prefix: ClassVar[str] = "INGEST_"

    host: str = "127.0.0.1"
    port: int = 8081
    max_upload_bytes: Annotated[int, Var("MAX_UPLOAD_BYTES")] = 25 * 1024 * 1024
    #: An avatar or header file: Mastodon's limit (8 MB with libvips), far above what a
    #: 1500x500 crop needs, and it bounds what the door reads of a profile edit.
    max_profile_image_bytes: Annotated[int, Var("MAX_PROFILE_IMAGE_BYTES")] = 8 * 1024 * 1024
    presign_ttl_seconds: Annotated[int, Var("PRESIGN_TTL_SECONDS")] = 900
    #: Distinct per running ingest process (0-15): id uniqueness across processes.
    id_worker: Annotated[int, Var("ID_WORKER")] = 0
    #: Browser origins allowed to call ingest (CORS): the web app's. Empty: the read
    #: API's own origin, as http://127.0.0.1:<api port> and http://localhost:<api port>.
    cors_origins: Annotated[Names, Var("CORS_ORIGINS")] = ()
    #: Uploads waiting for the media processors beyond which new uploads get 503 +
    #: Retry-After instead of queueing more (0: never refuse). See producers/ingest/backlog.py.
    max_backlog: int = 2000
    #: How often each ingest process re-reads that backlog from Kafka.
    backlog_poll_seconds: float = 1.0


@dataclass(frozen=True)
class ApiSettings:
    """The read API (``photostream api``) and the web app it serves."""

    env_prefix: ClassVar[str] = "API_"

    host: str = "127.0.0.1"
    port: int = 8082
    #: Lifetime of the presigned media URLs handed to clients (short: they are bearer
    #: capabilities, and a private photo's URL must stop working soon after access ends).
    media_url_ttl_seconds: Annotated[int, Var("MEDIA_URL_TTL_SECONDS")] = 900
    #: Public base of the object store in media URLs (empty: the S3 endpoint itself).
    media_base_url: Annotated[str, Var("MEDIA_BASE_URL")] = ""
    #: Base URL of the ingest service, for the web app (empty: same host, ingest port).
    ingest_url: Annotated[str, Var("INGEST_URL")] = ""
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
    #: Redis connections per API worker (and as many again for the feed page's scripts,
    #: ``infra.connect.redis.Lane``). A request needing one while all are busy waits up
    #: to ``redis_pool_wait_seconds`` for one to come back (redis-py's default pool
    #: raised at once past 100: 17 % of answers were 500s at 500 req/s), then is a 503.
    redis_pool_size: Annotated[int, Field(ge=1)] = 64
    redis_pool_wait_seconds: Annotated[float, Field(gt=0)] = 0.2
    #: Requests one API worker works on at once; the next is refused at the door with
    #: 503 + Retry-After (``infra.http.admission``), so those accepted keep their
    #: latency instead of every request queueing behind an unbounded backlog.
    max_in_flight: Annotated[int, Field(ge=1)] = 32


@dataclass(frozen=True)
class RateLimitSettings:
    """Writes allowed per user (sign-ins: per client address) in each ``window_seconds``,
    counted in Redis so every replica shares them; beyond: 429 + Retry-After. 0 turns a
    limit off. The defaults are far above what a person does by hand (see
    infra/http/ratelimit.py)."""

    env_prefix: ClassVar[str] = "RATE_"

    window_seconds: Annotated[int, Field(ge=1)] = 60
    uploads: int = 30
    likes: int = 120
    comments: int = 60
    follows: int = 60
    #: Everything else a user writes: caption and profile edits, deletes.
    edits: int = 60
    #: Sign-ins (password, dev or OIDC) per client address.
    sign_ins: int = 10
    #: Password sign-ins per account (whatever the address): bounds guessing one account
    #: from many addresses. Counted for unknown names too, so a 429 reveals nothing.
    account_sign_ins: int = 10
    #: Sign-ups per client address.
    sign_ups: int = 10


@dataclass(frozen=True)
class NotificationSettings:
    """The notifications processor, the inbox it keeps and the live stream (``/v1/stream``)."""

    env_prefix: ClassVar[str] = "NOTIFY_"

    #: How long an inbox entry is kept in Cassandra (a TTL on every write): inboxes stay
    #: bounded whatever a user's popularity; nobody scrolls back a quarter.
    retention_days: Annotated[int, Field(ge=1)] = 90
    #: Likes (comments, follows) of one photo (account) within this window from the
    #: first one are one grouped entry: "alice and 12 others liked your photo".
    group_window_seconds: Annotated[int, Field(ge=1)] = 3600
    #: Actors an entry names (the newest); the rest is the count.
    latest_actors: Annotated[int, Field(ge=1, le=20)] = 3
    #: ``@username`` mentions honoured per caption or comment (the first ones, distinct);
    #: more are plain text, so a caption cannot page a crowd.
    max_mentions: Annotated[int, Field(ge=0)] = 10
    #: Entries per user kept hot in Redis (the first pages and the unread count).
    hot_entries: Annotated[int, Field(ge=20)] = 200
    #: Live events kept per user in the Redis stream (what ``Last-Event-ID`` can resume).
    stream_maxlen: Annotated[int, Field(ge=10)] = 500
    #: Open SSE streams per API process; beyond, 503 + Retry-After.
    max_streams: Annotated[int, Field(ge=1)] = 2000
    #: A stream sends at most one batch per this interval (a viral photo's thousands of
    #: likes a minute reach its owner as a few coalesced events a second).
    coalesce_ms: Annotated[int, Field(ge=0)] = 250
    #: Comment line sent on an idle stream, so proxies and clients see it is alive.
    heartbeat_seconds: Annotated[float, Field(gt=0)] = 15.0


@dataclass(frozen=True)
class MediaSettings:
    env_prefix: ClassVar[str] = "MEDIA_"

    max_pixels: int = 50_000_000
    jpeg_quality: int = 82
    #: AVIF twins of the large and medium derivatives at this quality (0: none): the JPEG
    #: q82's SSIM at about half its bytes (docs/media-formats.md, bench.formats).
    avif_quality: Annotated[int, Field(ge=0, le=100)] = 58
    workers: int = 0  # 0 = one per core
    # Videos and animated GIFs (processors/media/video.py): caps on what is accepted (longer,
    # larger or longer-running input fails with the reason), then the web rendition's profile.
    video_max_seconds: Annotated[int, Field(ge=1)] = 180
    #: Longest displayed side of an accepted video (4K passes, 8K does not).
    video_max_edge: Annotated[int, Field(ge=1)] = 4096
    #: Bitrate cap of the <= 1080p rendition (an input under it, already H.264, is remuxed).
    video_max_kbps: Annotated[int, Field(ge=1)] = 5000
    #: Shortest side and bitrate of the rendition for slow connections.
    video_small_edge: Annotated[int, Field(ge=1)] = 360
    video_small_kbps: Annotated[int, Field(ge=1)] = 800
    #: x264 preset and constant rate factor: encode time against bytes. superfast takes a
    #: third less CPU than veryfast (bench.video: 14.2 against 22.4 CPU s for a 15 s 1080p
    #: HEVC clip), which is what gets a phone clip ready within 20 s on a 2-core box; its
    #: files are a little larger, and the small rendition sits at its bitrate cap.
    video_preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium",
                          "slow", "slower", "veryslow"] = "superfast"
    video_crf: Annotated[int, Field(ge=0, le=51)] = 23
    gif_max_frames: Annotated[int, Field(ge=1)] = 1000


@dataclass(frozen=True)
class AlbumSettings:
    """Posts of several media (``POST /v1/posts``, the albums processor)."""

    env_prefix: ClassVar[str] = "ALBUM_"

    #: Media per post (the schema allows up to 50).
    max_items: Annotated[int, Field(ge=1, le=50)] = 10
    #: A post waits at most this long after it was made for its items to be processed;
    #: then it is published with the ready ones and the others are named as failed.
    ready_timeout_seconds: Annotated[float, Field(gt=0)] = 120.0
    #: How often the albums processor looks for posts past that bound.
    sweep_seconds: Annotated[float, Field(gt=0)] = 1.0


@dataclass(frozen=True)
class TimelineSettings:
    env_prefix: ClassVar[str] = ""

    redis_cap: Annotated[int, Var("TIMELINE_CAP")] = 800
    celebrity_threshold: int = 10_000
    inactive_after_days: int = 30
    fanout_chunk: int = 5_000


@dataclass(frozen=True)
class StackSettings:
    """Where the local stack keeps downloads (shared by clones) and data (per clone)."""

    env_prefix: ClassVar[str] = ""

    cache_dir: Directory = Path.home() / ".cache" / "photostream"
    state_dir: Directory = STATE_HOME / ".stack"
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
    env_prefix: ClassVar[str] = ""

    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    cassandra: CassandraSettings = field(default_factory=CassandraSettings)
    s3: S3Settings = field(default_factory=S3Settings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    stack: StackSettings = field(default_factory=StackSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    media: MediaSettings = field(default_factory=MediaSettings)
    albums: AlbumSettings = field(default_factory=AlbumSettings)
    timelines: TimelineSettings = field(default_factory=TimelineSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    rate: RateLimitSettings = field(default_factory=RateLimitSettings)
    notify: NotificationSettings = field(default_factory=NotificationSettings)
    #: ``dev`` (the local stack's default) enables development-only conveniences such as
    #: the web app's sign-in endpoint; anything else is treated as production.
    env: Annotated[str, _normalised("lower")] = "dev"
    log_level: str = "INFO"
    #: ``text`` (human) or ``json`` (one JSON object per line, for log shippers).
    log_format: Annotated[Literal["text", "json"], _normalised("lower")] = "text"
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
        """Build settings from ``environ`` (default: ``os.environ``).

        The endpoints of Kafka, Cassandra, MinIO and Redis default to the local stack's
        servers, so moving one of its ports (``PHOTOSTREAM_KAFKA_PORT``) moves them too.
        """
        environ = os.environ if environ is None else environ
        stack = _read(StackSettings, environ)
        return _read(
            cls, environ,
            stack=stack,
            kafka=_read(KafkaSettings, environ,
                        bootstrap_servers=(f"127.0.0.1:{stack.kafka_port}",)),
            cassandra=_read(CassandraSettings, environ, port=stack.cassandra_port),
            s3=_read(S3Settings, environ, endpoint=f"127.0.0.1:{stack.minio_port}"),
            redis=_read(RedisSettings, environ, url=f"redis://127.0.0.1:{stack.redis_port}/0"),
            auth=_read(AuthSettings, environ),
            ingest=_read(IngestSettings, environ),
            media=_read(MediaSettings, environ),
            albums=_read(AlbumSettings, environ),
            timelines=_read(TimelineSettings, environ),
            api=_read(ApiSettings, environ),
            rate=_read(RateLimitSettings, environ),
            notify=_read(NotificationSettings, environ),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings.from_env()


# -- reading a group from the environment ------------------------------------------------------

Group = TypeVar("Group", bound=Hashable)  # a frozen dataclass


class _Variables(BaseSettings):
    """Base of the pydantic-settings model :func:`_variables` derives from each group."""

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore",
                                      validate_default=False)


class _Environ(EnvSettingsSource):
    """pydantic-settings' environment source over any mapping: ``os.environ``, or the
    one a test or the local cluster passes to :meth:`Settings.from_env`."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self.environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {name: value for name, value in self.environ.items() if value}  # "": unset


@cache
def _variables(group: Any) -> type[_Variables]:
    """A model with one optional field per setting of ``group``, read from its variable."""
    hints = typing.get_type_hints(group, include_extras=True)
    fields: dict[str, Any] = {}
    for setting in dataclasses.fields(group):
        hint = hints[setting.name]
        if dataclasses.is_dataclass(hint):
            continue  # a group of Settings: read on its own
        named = [mark.name for mark in getattr(hint, "__metadata__", ()) if isinstance(mark, Var)]
        name = named[0] if named else group.env_prefix + setting.name.upper()
        fields[setting.name] = (hint, Field(None, validation_alias=PREFIX + name))
    return create_pydantic_model(f"{group.__name__}Variables", __base__=_Variables, **fields)


def _read(group: type[Group], environ: Mapping[str, str], **defaults: Any) -> Group:
    """``group`` with each setting from its variable if set, else from ``defaults``, else
    the group's own default."""
    model = _variables(group)
    try:
        found = model.model_validate(_Environ(model, environ)())
    except ValidationError as exc:
        raise SettingsError("; ".join(
            f"{'.'.join(map(str, error['loc']))}={error['input']!r}: {error['msg']}"
            for error in exc.errors())) from None
    return group(**{**defaults, **{name: getattr(found, name) for name in found.model_fields_set}})
