"""Several "hosts" on one machine for the scale-out test and its benchmark: each host a network
namespace of its own (`ip netns`, a veth pair on a bridge, its own address) with a hostname of
its own (`unshare --uts`), or, where namespaces are refused (not root, a locked-down
container), processes on loopback; PgBouncer in transaction mode in front of the test's
PostgreSQL database; the web (gunicorn through deploy/entrypoint.sh), worker and beat
processes of each host.

Nothing here asserts: tests/integration/test_scale_out.py and bench/scale_out.py do.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.procs import free_port, wait_for, with_suppressed

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.path.exists(p)), None
    )


@dataclass
class Host:
    name: str
    ip: str
    namespace: str = ""
    #: The port its web server listens on (8000 in a namespace; a free one on loopback).
    port: int = 8000

    def argv(self, command: list[str], *, uts: bool) -> list[str]:
        """`command` run on this host: in its namespace, under its own hostname."""
        if uts:
            own_name = f'hostname {self.name} && exec "$@"'
            command = ["unshare", "--uts", "sh", "-c", own_name, "sh", *command]
        return (["ip", "netns", "exec", self.namespace] if self.namespace else []) + command


@dataclass
class Proc:
    host: Host
    role: str
    popen: subprocess.Popen[bytes]
    log: Path

    def kill(self, sig: int = signal.SIGTERM) -> None:
        with_suppressed(lambda: os.killpg(self.popen.pid, sig))

    def stop(self) -> None:
        if self.popen.poll() is not None:
            return
        self.kill(signal.SIGTERM)
        try:
            self.popen.wait(30)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)
            self.popen.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Hosts:
    """Hosts named `names`, isolated in namespaces when the machine lets us."""

    names: list[str]
    folder: Path
    isolated: bool = False
    uts: bool = False
    #: Where the shared services (PgBouncer, the broker, fake vendors) listen for the hosts.
    services_ip: str = "127.0.0.1"
    hosts: dict[str, Host] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)
    _links: list[str] = field(default_factory=list)
    _namespaces: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        tag = f"{os.getpid() % 100:02d}{random.randrange(1000):03d}"
        subnet = f"10.{200 + random.randrange(50)}.{random.randrange(250)}"
        try:
            self._isolate(tag, subnet)
            self.isolated = True
        except (OSError, subprocess.SubprocessError):
            self._teardown()
            self.services_ip = "127.0.0.1"
            self.hosts = {name: Host(name, "127.0.0.1", port=free_port()) for name in self.names}
        self.uts = self._uts_works()

    def _isolate(self, tag: str, subnet: str) -> None:
        if os.geteuid() != 0 or not shutil.which("ip"):
            raise OSError("network namespaces need root and iproute2")
        bridge = f"omsb{tag}"
        _run("ip", "link", "add", bridge, "type", "bridge")
        self._links.append(bridge)
        _run("ip", "addr", "add", f"{subnet}.1/24", "dev", bridge)
        _run("ip", "link", "set", bridge, "up")
        self.services_ip = f"{subnet}.1"
        for index, name in enumerate(self.names, start=1):
            namespace, outside, inside = (
                f"oms{tag}{index}",
                f"oms{tag}{index}h",
                f"oms{tag}{index}n",
            )
            _run("ip", "netns", "add", namespace)
            self._namespaces.append(namespace)
            _run("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
            self._links.append(outside)
            _run("ip", "link", "set", inside, "netns", namespace)
            _run("ip", "link", "set", outside, "master", bridge)
            _run("ip", "link", "set", outside, "up")
            ip = f"{subnet}.{10 + index}"
            _run("ip", "netns", "exec", namespace, "ip", "addr", "add", f"{ip}/24", "dev", inside)
            _run("ip", "netns", "exec", namespace, "ip", "link", "set", inside, "up")
            _run("ip", "netns", "exec", namespace, "ip", "link", "set", "lo", "up")
            self.hosts[name] = Host(name, ip, namespace=namespace)

    def _uts_works(self) -> bool:
        if not shutil.which("unshare"):
            return False
        try:
            done = subprocess.run(
                ["unshare", "--uts", "sh", "-c", "hostname oms-probe && hostname"],
                capture_output=True,
                text=True,
                timeout=10,
            )
        except (OSError, subprocess.SubprocessError):
            return False
        return done.returncode == 0 and done.stdout.strip() == "oms-probe"

    def describe(self) -> str:
        how = "network namespaces (ip netns, veth)" if self.isolated else "processes on loopback"
        names = ", own hostnames" if self.uts else ""
        return f"{how}{names}: " + ", ".join(
            f"{h.name} {h.ip}:{h.port}" for h in self.hosts.values()
        )

    def start(self, host: str, role: str, command: list[str], env: dict[str, str]) -> Proc:
        target = self.hosts[host]
        log = self.folder / f"{host}-{role}.log"
        # Each host has a disk of its own (beat's schedule, uploads).
        env = {**env, "OMS_VAR_DIR": str(self.folder / f"var-{host}")}
        argv = target.argv(command, uts=self.uts)
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = Proc(target, role, popen, log)
        self.procs.append(proc)
        return proc

    def web(self, host: str, env: dict[str, str]) -> Proc:
        target = self.hosts[host]
        return self.start(
            host,
            "web",
            [str(ENTRYPOINT), "web"],
            {**env, "OMS_BIND": target.ip, "PORT": str(target.port)},
        )

    def worker(
        self, host: str, env: dict[str, str], queues: str = "default,channels,labels,fx"
    ) -> Proc:
        return self.start(
            host, "worker", [str(ENTRYPOINT), "worker", queues], {**env, "OMS_WORKER_NAME": host}
        )

    def beat(self, host: str, env: dict[str, str]) -> Proc:
        return self.start(host, "beat", [str(ENTRYPOINT), "beat"], env)

    def exited(self) -> list[str]:
        """The processes that stopped (none should, before the test stops them)."""
        return [f"{p.host.name} {p.role}" for p in self.procs if p.popen.poll() is not None]

    def close(self) -> None:
        for proc in reversed(self.procs):
            with contextlib.suppress(Exception):
                proc.stop()
        self._teardown()

    def _teardown(self) -> None:
        for namespace in self._namespaces:
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)
        for link in self._links:
            subprocess.run(["ip", "link", "del", link], capture_output=True, check=False)
        self._namespaces, self._links = [], []


class PgBouncer:
    """Debian's PgBouncer in transaction mode on `listen_ip`, pooling the connections of every
    host into at most `pool_size` server connections to the test database."""

    def __init__(self, listen_ip: str, database: dict[str, object], pool_size: int = 20) -> None:
        self.ip, self.port = listen_ip, free_port()
        self.database, self.pool_size = database, pool_size
        # PgBouncer refuses to run as root; started as root it becomes `postgres`, which must
        # read its configuration: a folder of its own that everyone may read.
        self.folder = Path(tempfile.mkdtemp(prefix="oms-pgbouncer-"))
        self.folder.chmod(0o777)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgres://{self.database.get('USER') or 'postgres'}@{self.ip}:{self.port}/oms"

    def start(self) -> PgBouncer:
        db = self.database
        user = db.get("USER") or "postgres"
        password = db.get("PASSWORD") or ""
        server = (
            f"host={db.get('HOST') or '127.0.0.1'} port={db.get('PORT') or 5432} "
            f"dbname={db['NAME']} user={user}" + (f" password={password}" if password else "")
        )
        (self.folder / "userlist.txt").write_text(f'"{user}" "{password}"\n')
        (self.folder / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"oms = {server}\n"
            "[pgbouncer]\n"
            f"listen_addr = {self.ip}\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.folder / 'userlist.txt'}\n"
            "pool_mode = transaction\n"
            "max_client_conn = 1000\n"
            f"default_pool_size = {self.pool_size}\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
            f"logfile = {self.folder / 'pgbouncer.log'}\n"
            f"pidfile = {self.folder / 'pgbouncer.pid'}\n"
        )
        for path in self.folder.iterdir():
            path.chmod(0o666)
        binary = pgbouncer_binary()
        assert binary, "PgBouncer is not installed"
        argv = [
            binary,
            *(["-u", "postgres"] if os.geteuid() == 0 else []),
            str(self.folder / "pgbouncer.ini"),
        ]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        assert wait_for(self._up, 15), self.log()
        return self

    def _up(self) -> bool:
        import socket

        try:
            with socket.create_connection((self.ip, self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def log(self) -> str:
        path = self.folder / "pgbouncer.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)


def host_env(
    folder: Path, *, database_url: str, broker_url: str, cache_url: str, **extra: str
) -> dict[str, str]:
    """The environment every host's processes share: production settings (DEBUG off), the
    database through PgBouncer, one broker, one cache."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OMS_", "SENTRY_", "OTEL_", "DJANGO_", "PYTEST", "CELERY_"))
        and key not in ("DEBUG", "REDIS_URL", "DATABASE_URL")
    }
    (folder / "mail").mkdir(exist_ok=True)
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        DEBUG="0",
        SECRET_KEY="scale-out-test-" + "s" * 40,
        DATABASE_URL=database_url,
        OMS_PGBOUNCER="1",
        CELERY_BROKER_URL=broker_url,
        REDIS_URL=cache_url,
        ALLOWED_HOSTS="*",
        SECURE_SSL_REDIRECT="0",
        OMS_VAR_DIR=str(folder / "var"),
        OMS_STATIC_ROOT=str(folder / "static"),
        OMS_LOG_FORMAT="plain",
        LOG_LEVEL="WARNING",
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(folder / "mail"),
        OMS_OUTBOX_SWEEP_SECONDS="2",
        OMS_WORKER_HEARTBEAT_SECONDS="2",
        WEB_CONCURRENCY="2",
        OMS_WORKER_CONCURRENCY="2",
        # What the test process wrote before the hosts started (its broker is memory://) is
        # published by the hosts' sweeps this soon.
        OMS_OUTBOX_REDELIVER_SECONDS="10",
        **{
            f"OMS_API_RATE_{role}": "off" for role in ("MANAGER", "INTEGRATOR", "WAREHOUSE", "USER")
        },
    )
    env.update(extra)
    return env


def collect_static(env: dict[str, str]) -> None:
    """Once for every host (they share OMS_STATIC_ROOT): the web entry point then skips it."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
