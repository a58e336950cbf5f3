"""Settings: read once at the entry point (environment, prefix ``ZIGRAL_``, optional ``.env``), passed down.

Nested groups are plain models; set a nested value with ``__``, e.g. ``ZIGRAL_DISPLAY__NUMBER=42``.
Every port, path and display number is a setting, so two stacks can run side by side.
"""

from __future__ import annotations

import json
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload
from urllib.parse import unquote, urlsplit

from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from zigral import access
from zigral.agent_config import AgentSettings, LegacyAgentEnv, S, move_legacy_keys, validate_sections
from zigral.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
# The nginx, supervisor and squid templates and the web pages, shipped inside the package (package data).
TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"

Port = int  # validated by Field(ge=1, le=65535) where declared


class PathsSettings(BaseModel):
    """Where the stack keeps its state (secrets, browser profile), runtime files and logs."""

    state_dir: Path = Path("/var/lib/zigral")
    run_dir: Path = Path("/run/zigral")
    log_dir: Path = Path("/var/log/zigral")
    share_dir: Path = TEMPLATES_DIR  # holds web/, the pages nginx serves

    @property
    def secrets_dir(self) -> Path:
        return self.state_dir / "secrets"

    @property
    def vnc_password_file(self) -> Path:
        """The password in plain text, for the operator (0600)."""
        return self.secrets_dir / "vnc.password"

    @property
    def vnc_rfbauth_file(self) -> Path:
        """The same password in VNC's obfuscated format, for ``x11vnc -rfbauth``."""
        return self.secrets_dir / "vnc.rfbauth"

    @property
    def web_password_file(self) -> Path:
        return self.secrets_dir / "web.password"

    @property
    def htpasswd_file(self) -> Path:
        """Outside the 0700 secrets folder: nginx's workers read it through their group (0640)."""
        return self.state_dir / "nginx.htpasswd"

    @property
    def supervisor_conf(self) -> Path:
        return self.run_dir / "supervisord.conf"

    @property
    def supervisor_socket(self) -> Path:
        return self.run_dir / "supervisor.sock"

    @property
    def supervisor_pidfile(self) -> Path:
        return self.run_dir / "supervisord.pid"

    @property
    def squid_conf(self) -> Path:
        return self.run_dir / "squid.conf"

    @property
    def nginx_conf(self) -> Path:
        return self.run_dir / "nginx.conf"

    @property
    def web_dir(self) -> Path:
        """The pages nginx serves, copied from ``<share_dir>/web`` at render time."""
        return self.run_dir / "web"

    @property
    def prometheus_targets(self) -> Path:
        """The agents' scrape targets (file_sd), rewritten by ``zigral render``; deploy/prometheus.yml."""
        return self.run_dir / "prometheus-agents.json"

    @property
    def env_file(self) -> Path:
        """The effective settings, rendered for the supervised programs."""
        return self.run_dir / "zigral.env"


class DisplaySettings(BaseModel):
    number: int = Field(99, ge=0, le=65535)
    width: int = Field(1920, ge=320)
    height: int = Field(1080, ge=200)
    depth: int = Field(24, ge=8, le=32)

    @property
    def name(self) -> str:
        return f":{self.number}"

    @property
    def socket_path(self) -> Path:
        return Path(f"/tmp/.X11-unix/X{self.number}")

    @property
    def lock_path(self) -> Path:
        return Path(f"/tmp/.X{self.number}-lock")


class VncSettings(BaseModel):
    port: Port = Field(5900, ge=1, le=65535)
    # x11vnc takes minutes to accept a client when the open-files limit is huge.
    max_open_files: int = Field(1024, ge=64)
    # False (default): one sign-in, nginx's; x11vnc sits in its own network namespace behind a door for root
    # (websockify) only, so nobody else can reach it. True: x11vnc also asks its own password (two sign-ins).
    password: bool = False


class BrowserSettings(BaseModel):
    binary: Path = Path("/usr/bin/chromium")
    cdp_port: Port = Field(9222, ge=1, le=65535)
    user: str = "zigral"
    profile_dir: Path | None = None  # default: <state_dir>/chromium-profile
    start_url: str = "about:blank"
    extra_args: list[str] = Field(default_factory=list)
    connect_timeout: float = Field(30.0, gt=0)
    # Chromium in its own network namespace (loopback only), reached through the proxy and CDP doors of
    # its launcher (see room.py). Needs root; false only where namespaces are not allowed (less safe).
    isolated: bool = True


class WebSettings(BaseModel):
    """nginx, the only listener that is not on loopback, and websockify behind it."""

    bind: str = "0.0.0.0"
    port: Port = Field(8080, ge=1, le=65535)
    websockify_port: Port = Field(6080, ge=1, le=65535)
    user: str = "operator"
    nginx_binary: Path = Path("/usr/sbin/nginx")
    nginx_worker_user: str = "www-data"
    novnc_dir: Path = Path("/usr/share/novnc")
    public_host: str = ""  # host name or address operators reach the web front at; default: this machine's
    # The web port's TLS certificate and key (PEM). Unset: `zigral up` makes a self-signed pair once.
    tls_cert: Path | None = None
    tls_key: Path | None = None

    @property
    def public_url(self) -> str:
        """The web front as an operator opens it (noVNC, ``/status/``, ``/captures/``), ending in ``/``.

        ``public_host`` when set; else the address nginx is bound to, or for a wildcard bind this machine's
        own address (that of its default route), which a person on its network can reach.
        """
        host = self.public_host or machine_address(self.bind)
        return f"https://{f'[{host}]' if ':' in host else host}:{self.port}/"  # TLS only (plain: a redirect)


def machine_address(bind: str = "0.0.0.0") -> str:
    """``bind`` unless it is a wildcard; else the source address of this machine's default route, its name
    when it has no route, ``localhost`` when it has neither."""
    if bind not in ("", "0.0.0.0", "::"):
        return bind
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # a UDP connect only picks the route: nothing is sent
            address = str(probe.getsockname()[0])
        if not address.startswith("127."):
            return address
    except OSError:
        pass  # no IPv4 route: fall back to the name
    return socket.getfqdn() or "localhost"


class RabbitMQSettings(BaseModel):
    # One node, or the nodes of a cluster comma-separated (each a whole URL): tried in order, and a
    # reconnect starts at the node after the one last used (docs/FLEET.md).
    url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    heartbeat: int = Field(30, ge=1, description="AMQP heartbeat interval, seconds")
    reconnect_max_delay: float = Field(15.0, gt=0, description="cap of the jittered reconnect backoff")


class RedisSettings(BaseModel):
    # redis://[:password@]host:port/db, or the master a Sentinel names:
    # redis+sentinel://[:password@]host:26379[,host:26379...]/MASTER_NAME[/db] (docs/FLEET.md).
    url: str = "redis://127.0.0.1:6379/0"

    @field_validator("url")
    @classmethod
    def _readable(cls, value: str) -> str:
        parse_sentinel(value)  # a bad Sentinel URL is a settings error naming ZIGRAL_REDIS__URL
        return value


class RuntimeSettings(BaseModel):
    """How agents take commands: names, retries, deadlines, the URL policy."""

    namespace: str = Field("zigral", pattern=r"^[a-z][a-z0-9_-]{0,40}$")
    prefetch: int = Field(1, ge=1, le=100)
    max_attempts: int = Field(3, ge=1, le=50)
    retry_base_delay: float = Field(1.0, ge=0)
    retry_max_delay: float = Field(60.0, ge=0)
    default_timeout: float = Field(60.0, gt=0)
    max_timeout: float = Field(3600.0, gt=0)
    default_max_age: float = Field(
        3600.0, gt=0, description="a command older than this when it arrives expires"
    )
    max_body_bytes: int = Field(256 * 1024, ge=1024)
    heartbeat_interval: float = Field(5.0, gt=0)
    task_retention: int = Field(7 * 86400, ge=60, description="seconds a task record is kept")
    events_maxlen: int = Field(10_000, ge=100, description="approximate length cap of the events stream")
    shutdown_grace: float = Field(
        20.0, ge=0, description="on SIGTERM, wait this long for the command in flight"
    )
    # Hosts, host:port or CIDRs that navigation may reach although they are loopback, link-local or private.
    allow_private: list[str] = Field(default_factory=list)
    # Per agent: when set, the only hosts (and their subdomains) that agent may navigate to.
    allowed_hosts: dict[str, list[str]] = Field(default_factory=dict)


class QuotaLimit(BaseModel):
    """Most uses of one quota per calendar day and per ISO week (UTC); None: no limit."""

    day: int | None = Field(None, ge=0)
    week: int | None = Field(None, ge=0)


class EgressSettings(BaseModel):
    """The supervised forward proxy every browser request goes through (see squid/squid.conf.in)."""

    enabled: bool = True
    port: Port = Field(3128, ge=1, le=65535)
    binary: Path = Path("/usr/sbin/squid")
    # The user's own proxy, http://user:password@host:port: from the environment or a secrets file
    # (never the repo). Changing it: set it, then `zigral render` and `supervisorctl restart squid`.
    upstream_url: SecretStr | None = None
    upstream_file: Path | None = None
    ip_echo_url: str = Field(
        "", description="a URL that answers with the caller's public IP, for `zigral doctor`"
    )

    def upstream(self) -> str | None:
        if self.upstream_url is not None:
            return self.upstream_url.get_secret_value()
        if self.upstream_file is not None:
            try:
                return self.upstream_file.read_text().strip() or None
            except OSError as exc:
                raise ConfigError(
                    f"ZIGRAL_EGRESS__UPSTREAM_FILE={str(self.upstream_file)!r}: {exc}"
                ) from None
        return None


class CapturesSettings(BaseModel):
    # Default: the checkout's captures/ when nginx's workers can reach it, else <state_dir>/captures
    # (a clone in a mode-0700 home, or a wheel install). Settings pass the choice on in the env file.
    dir: Path = REPO_ROOT / "captures"
    max_age_days: float = Field(14.0, gt=0)
    max_bytes: int = Field(2 * 1024**3, ge=1024 * 1024)
    prune_interval: float = Field(600.0, gt=0, description="seconds between an agent's automatic prunes")


class MetricsSettings(BaseModel):
    bind: str = "127.0.0.1"
    ops_port: Port = Field(9103, ge=1, le=65535, description="the ops exporter: /metrics and /status.json")


class OpsSettings(BaseModel):
    """The whole VM's watch: the supervisor event listener, browser recycling and site-session canaries."""

    # A program that exits unexpectedly this many times within crash_loop_window seconds is a crash loop.
    crash_loop_restarts: int = Field(3, ge=2)
    crash_loop_window: float = Field(300.0, gt=0)
    # Recycle Chromium at a safe point once its processes use this much memory (PSS) ...
    recycle_max_pss_mib: int = Field(3072, ge=0, description="0: never recycle for memory")
    # ... or once it has served this many commands since it started.
    recycle_max_commands: int = Field(5000, ge=0, description="0: never recycle for commands")
    # How often the thresholds are checked (reading Chromium's memory costs ~20 ms of CPU).
    recycle_check_interval: float = Field(30.0, ge=5)
    # How long a recycle waits for the commands in flight to finish before it gives up (and resumes).
    recycle_drain_timeout: float = Field(600.0, gt=0)
    # Every this many seconds each site agent checks, when idle, that its site session is still logged in.
    canary_interval: float = Field(900.0, ge=0, description="0: no canaries")
    # RabbitMQ's management API, for unacknowledged counts and the age of the next waiting command.
    # Empty: derived from the AMQP URL (same host and credentials, port 15672).
    management_url: str = ""


class Settings(BaseSettings):
    """All of Zigral's settings. Build once with :func:`load_settings` and pass it down."""

    model_config = SettingsConfigDict(
        env_prefix="ZIGRAL_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="forbid",
    )

    vm_id: str = Field(default_factory=socket.gethostname)
    paths: PathsSettings = PathsSettings()
    display: DisplaySettings = DisplaySettings()
    vnc: VncSettings = VncSettings()
    browser: BrowserSettings = BrowserSettings()
    web: WebSettings = WebSettings()
    rabbitmq: RabbitMQSettings = RabbitMQSettings()
    redis: RedisSettings = RedisSettings()
    runtime: RuntimeSettings = RuntimeSettings()
    # Each installed agent's own settings by its name (zigral.registry), validated with its settings model:
    # ZIGRAL_AGENTS__<NAME>__<KEY>. The older ZIGRAL_<NAME>__<KEY> and ZIGRAL_METRICS__<NAME>_PORT still work.
    agents: dict[str, dict[str, Any]] = Field(default_factory=dict)
    egress: EgressSettings = EgressSettings()
    captures: CapturesSettings = CapturesSettings()
    metrics: MetricsSettings = MetricsSettings()
    ops: OpsSettings = OpsSettings()

    _sections: dict[str, AgentSettings] = PrivateAttr(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        legacy = LegacyAgentEnv(settings_cls)
        return init_settings, env_settings, legacy, dotenv_settings, file_secret_settings

    @model_validator(mode="before")
    @classmethod
    def _legacy_agent_keys(cls, data: Any) -> Any:
        return move_legacy_keys(data, set(cls.model_fields))

    @model_validator(mode="after")
    def _agent_sections(self) -> Settings:
        self._sections = validate_sections(self.agents, set(type(self).model_fields))
        self.agents = {name: section.model_dump() for name, section in self._sections.items()}  # effective
        return self

    @overload
    def agent_settings(self, name: str) -> AgentSettings: ...
    @overload
    def agent_settings(self, name: str, model: type[S]) -> S: ...
    def agent_settings(self, name: str, model: type[AgentSettings] = AgentSettings) -> AgentSettings:
        """An installed agent's validated settings, as its own settings model."""
        section = self._sections.get(name)
        if section is None:
            raise ConfigError(f"no agent {name!r} is installed; installed: {', '.join(self._sections)}")
        if not isinstance(section, model):
            raise ConfigError(f"agent {name!r}'s settings are {type(section).__name__}, not {model.__name__}")
        return section

    def installed_agents(self) -> tuple[str, ...]:
        """Every installed agent (zigral.registry), in window order."""
        return tuple(self._sections)

    def enabled_agents(self) -> tuple[str, ...]:
        """The installed agents this VM runs (``enabled``), in window order."""
        return tuple(name for name, section in self._sections.items() if section.enabled)

    def metrics_port(self, agent: str) -> int:
        """An agent's Prometheus port: its ``metrics_port``, else 9110 plus its place among the installed."""
        port = self.agent_settings(agent).metrics_port
        return port if port is not None else 9110 + list(self._sections).index(agent)

    @model_validator(mode="after")
    def _reachable_captures(self) -> Settings:
        if "dir" in self.captures.model_fields_set:
            return self  # chosen by the user: render refuses it, naming why, if nginx cannot reach it
        try:
            blocked = access.blocker(self.captures.dir, self.web.nginx_worker_user)
        except ConfigError:
            return self  # no such worker user on this machine (a laptop): nothing to serve them to
        if blocked:
            self.captures = self.captures.model_copy(update={"dir": self.paths.state_dir / "captures"})
        return self

    @property
    def profile_dir(self) -> Path:
        return self.browser.profile_dir or self.paths.state_dir / "chromium-profile"

    @property
    def cdp_url(self) -> str:
        return f"http://127.0.0.1:{self.browser.cdp_port}"

    def stack_ports(self) -> list[int]:
        """Every port of this stack and of its Redis and RabbitMQ: the browser may never reach them."""
        return _stack_ports(self)

    def loopback_ports(self) -> dict[str, int]:
        """Every port the stack binds, by name; they must not collide."""
        return {
            "vnc.port": self.vnc.port,
            "browser.cdp_port": self.browser.cdp_port,
            "web.port": self.web.port,
            "web.websockify_port": self.web.websockify_port,
            "metrics.ops_port": self.metrics.ops_port,
            "egress.port": self.egress.port,
            **{f"agents.{name}.metrics_port": self.metrics_port(name) for name in self.enabled_agents()},
        }


def _stack_ports(settings: Settings) -> list[int]:
    ports = set(settings.loopback_ports().values())
    sentinel = parse_sentinel(settings.redis.url)
    if sentinel is not None:
        ports.update(port for _host, port in sentinel.hosts)  # the master's port is known only at run time
    else:
        ports.add(urlsplit(settings.redis.url).port or 6379)
    ports.update(urlsplit(url).port or 5672 for url in url_list(settings.rabbitmq.url))
    return sorted(ports)


def url_list(url: str) -> list[str]:
    """The URLs of a setting that may list several, comma-separated (``ZIGRAL_RABBITMQ__URL``)."""
    return [part.strip() for part in url.split(",") if part.strip()]


@dataclass(frozen=True)
class SentinelUrl:
    """A ``redis+sentinel://`` URL read: the Sentinels, the master's name, the db, Redis' credentials."""

    hosts: list[tuple[str, int]]
    master: str
    db: int = 0
    username: str | None = None
    password: str | None = None


def parse_sentinel(url: str) -> SentinelUrl | None:
    """None for a plain ``redis://`` URL; ValueError naming what is wrong with a Sentinel URL."""
    scheme, _, rest = url.partition("://")
    if scheme != "redis+sentinel":
        return None
    netloc, _, path = rest.partition("/")
    auth, at, hosts = netloc.rpartition("@")
    username, _, password = auth.partition(":")
    pairs = []
    for host in hosts.split(","):
        name, colon, port = host.rpartition(":")
        if not colon:
            name, port = host, "26379"
        if not name or not port.isdigit():
            raise ValueError(f"a Sentinel is host:port, got {host!r}")
        pairs.append((name, int(port)))
    parts = [unquote(p) for p in path.split("/") if p]
    if not parts or len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
        raise ValueError("a Sentinel URL ends in /MASTER_NAME or /MASTER_NAME/DB")
    return SentinelUrl(
        pairs,
        parts[0],
        int(parts[1]) if len(parts) == 2 else 0,
        unquote(username) or None if at else None,
        unquote(password) or None if at else None,
    )


def load_settings(env_file: Path | None = None, /, **overrides: Any) -> Settings:
    """Build the settings, turning a validation error into a :class:`ConfigError` naming the key."""
    try:
        settings = Settings(_env_file=env_file or ".env", **overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            if not err["loc"]:  # a check of several settings together: its message names them
                problems.append(err["msg"].removeprefix("Value error, "))
                continue
            key = "ZIGRAL_" + "__".join(str(p) for p in err["loc"]).upper()
            problems.append(f"{key}={err.get('input')!r}: {err['msg']}")
        raise ConfigError("invalid settings: " + "; ".join(problems)) from None
    ports = settings.loopback_ports()
    seen: dict[int, str] = {}
    for key, port in ports.items():
        if port in seen:
            raise ConfigError(f"ports collide: {seen[port]} and {key} are both {port}")
        seen[port] = key
    return settings


def mask_url(url: str) -> str:
    """The URL (or the comma-separated URLs) with every password replaced by ``***``."""
    return _PASSWORD.sub(r"\1***@", url)


_PASSWORD = re.compile(r"(://[^:/@,]*:)[^@,]*@")


def masked(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data, secrets masked (for ``zigral config``)."""
    data: dict[str, Any] = json.loads(settings.model_dump_json())
    data["agents"] = {  # with the metrics port each agent really uses, never null
        name: {**section, "metrics_port": settings.metrics_port(name)}
        for name, section in _agent_data(settings).items()
    }
    data["rabbitmq"]["url"] = mask_url(settings.rabbitmq.url)
    data["redis"]["url"] = mask_url(settings.redis.url)
    return data


def _agent_data(settings: Settings) -> dict[str, Any]:
    """Every installed agent's settings in full, secrets left out (they come from files or the env)."""

    def unmasked(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: unmasked(v) for k, v in value.items() if v != "**********"}
        return value

    return {
        name: unmasked(json.loads(settings.agent_settings(name).model_dump_json()))
        for name in settings.installed_agents()
    }


def to_env(settings: Settings) -> dict[str, str]:
    """The settings flattened to ``ZIGRAL_GROUP__KEY`` variables, for the supervised programs."""
    out: dict[str, str] = {}
    data: dict[str, Any] = json.loads(settings.model_dump_json())
    data["agents"] = _agent_data(settings)
    for key, value in data.items():
        if isinstance(value, dict):
            for sub, subvalue in value.items():
                if subvalue is None or subvalue == "**********":
                    continue  # secrets reach the programs through their own files or the environment
                text = subvalue if isinstance(subvalue, str) else json.dumps(subvalue)
                out[f"ZIGRAL_{key.upper()}__{sub.upper()}"] = text
        else:
            out[f"ZIGRAL_{key.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    return out
