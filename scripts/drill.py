"""Fault drill of the production configuration: `make drill`.

Starts, on this machine and on loopback only:

- its own PostgreSQL database `gwangju_drill` (dropped and recreated, migrated,
  `seed_demo`), its own `redis-server` (port 6390, nothing kept on disk) and an
  SMTP server (aiosmtpd, in this process) that records every message with its
  Message-ID and recipients and can refuse or stop;
- gunicorn exactly as the Dockerfile's CMD runs it, and the Celery worker and
  beat exactly as docker-compose.yml runs them, with production settings
  (`DEBUG=0`, a random SECRET_KEY, `REMINDER_SWEEP_MINUTES=1`).

Then 16 clients sign in like browsers (CSRF and all) and, throughout, file
issues with a cooperating organization and comment on each other's issues,
while a probe asks `/healthz` every second and the drill, phase by phase:

1. baseline;
2. kills Redis (SIGKILL: everything queued in it is gone), restarts it;
3. hangs Redis (SIGSTOP), resumes it (SIGCONT);
4. makes the SMTP server refuse (451), then stops it, then starts it again;
5. kills the Celery worker with SIGKILL in the middle of a sweep (the moment
   the SMTP server has accepted a reminder), restarts it;
6. runs a second beat and, at the same time as the worker's sweeps,
   `manage.py send_due_reminders` and `manage.py deliver_notifications`
   (when the command exists) twice over.

Each phase creates a meeting two days ahead with invited organizations, so
the reminder sweep has real work. At the end the drill lets everything drain,
computes from the database what every person was owed (notification e-mails
and bell entries for the events the clients caused, one reminder per person
per meeting), compares it with the mail the SMTP server received, writes
docs/reliability.md and exits non-zero when a target of issue 8 fails.

Environment: DRILL_PG (PostgreSQL server, default postgres://postgres@127.0.0.1:5432).
Options: `python scripts/drill.py --help` (phase lengths, clients, ports).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import email
import email.policy
import http.cookiejar
import json
import os
import platform
import random
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR / "scripts"))
from drill_count import Tally, percentile, phase_index, tally  # noqa: E402

DOC = BASE_DIR / "docs" / "reliability.md"
VAR_DIR = BASE_DIR / "var" / "drill"
DB_NAME = "gwangju_drill"
PG_SERVER = os.environ.get("DRILL_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
PASSWORD = "gwangju-demo-2026"  # noqa: S105 - seed_demo's published demo password
SLOW = 3.0  # seconds: a request slower than this fails the drill
CLIENT_TIMEOUT = 60  # seconds: longer than gunicorn's 30 s worker timeout
# Lease columns the drill may find in outbox tables (ReminderDelivery has the first).
LEASE_COLUMNS = ("claimed_until", "lease_until", "leased_until", "locked_until", "lease_expires_at")

INTRO = """\
# Reliability

What Gwangju Hub does on a bad day, measured by `make drill`
(`scripts/drill.py`). The command starts the production configuration on
this machine — gunicorn as the Dockerfile runs it, the Celery worker and beat
as docker-compose.yml runs them, `DEBUG=0`, PostgreSQL (its own database
`gwangju_drill`, recreated each run), its own `redis-server` that keeps
nothing on disk, and a real SMTP server (aiosmtpd) that records every message
with its Message-ID — and has 16 clients, signed in like browsers, file
issues with a cooperating organization and comment on each other's issues
throughout these phases:

1. **baseline**;
2. **Redis refused**: `redis-server` killed with SIGKILL (what was queued in it
   is gone), restarted after a while;
3. **Redis hung**: `redis-server` stopped with SIGSTOP (connections hang
   instead of failing), then SIGCONT;
4. **SMTP refusing**: the mail server answers 451 to every recipient, then
   is stopped (connection refused), then comes back;
5. **worker `kill -9` mid-sweep**: with a slow mail server and many reminders
   due, the worker's process group is killed at the moment the SMTP server has
   accepted a reminder (before the sweep can mark it sent), then restarted;
6. **two sweeps, two beats**: a second `celery beat`, and
   `manage.py send_due_reminders` and `manage.py deliver_notifications` run
   twice at once while the worker sweeps too.

Every phase schedules a meeting two days ahead with invited organizations, so
reminders are due throughout (`REMINDER_SWEEP_MINUTES=1`). A service that
exits by itself is restarted a second later, as docker compose's
`restart: unless-stopped` would, and listed below.

Afterwards the drill stops the clients, lets the leases the killed worker
held run out at once (instead of after the 10-minute lease), asks for a sweep
every 10 seconds, and waits until everything owed has arrived or the drain
times out. Then it computes from the database what every person was owed: for
every issue the clients filed, an e-mail and a bell entry for each active user
of the cooperating organization (not the filer); for every comment, the lead
organization's users and the issue's participants
(`issues.notifications.recipients_for`'s rules, recomputed independently); for
every meeting, one reminder for each head and vice-head of an invited
organization and each member of the Mayor's office. A *duplicate* is the same
notification or reminder received twice with different Message-IDs (two
separate mails for the reader); a resend after a crash with the *same*
Message-ID is counted separately, since mail clients fold it.

Requests count in the phase they started in, or in the Redis fault they ran
into when Redis died or hung while they were in flight; "no answer" means the
connection was closed or timed out (60 s) without a response. The sign-ins
before the phases are not counted.

Everything below the line is generated; run `make drill` to refresh it
(`make drill ARGS=--quick` for a short trial, `ARGS=--help` for the options).
The load generator, the SMTP server, gunicorn, the worker and PostgreSQL share
one machine with other work: the CPU columns say how busy it was.
"""


STARTED = time.monotonic()


def log(message: str) -> None:
    elapsed = int(time.monotonic() - STARTED)
    print(f"› [{elapsed // 60:02d}:{elapsed % 60:02d}] {message}", flush=True)


def tool(name: str) -> str:
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else "")
    if not path:
        sys.exit(f"drill: `{name}` not found (apt-get install {name})")
    return path


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a command we built ourselves (no shell)."""
    return subprocess.run(cmd, cwd=BASE_DIR, **kwargs)  # noqa: S603


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


# --------------------------------------------------------------------------
# Database and production settings
# --------------------------------------------------------------------------


def pg_args() -> list[str]:
    url = urllib.parse.urlsplit(PG_SERVER)
    args = ["-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432)]
    return args + ["-U", url.username or "postgres"]


def recreate_database() -> None:
    """A fresh database each run: the counts must be about this run only."""
    run(
        [
            tool("psql"),
            *pg_args(),
            "-d",
            "postgres",
            "-q",
            "-c",
            f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)',
        ],
        check=True,
        capture_output=True,
    )
    run([tool("createdb"), *pg_args(), DB_NAME], check=True)
    log(f"recreated database {DB_NAME}")


def production_env(*, web_port: int, redis_port: int, smtp_port: int) -> dict[str, str]:
    """docker compose's app environment, pointed at the drill's own services."""
    env = dict(os.environ)
    for name in ("DATABASE_URL", "REDIS_URL", "EMAIL_URL", "DEBUG"):
        env.pop(name, None)
    env.update(
        DATABASE_URL=f"{PG_SERVER}/{DB_NAME}",
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
        DEFAULT_FROM_EMAIL="Gwangju Hub <noreply@gwangju-hub.local>",
        SITE_URL=f"http://127.0.0.1:{web_port}",
        SECRET_KEY=secrets.token_urlsafe(64),
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1",
        CSRF_TRUSTED_ORIGINS=f"http://127.0.0.1:{web_port}",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        REMINDER_SWEEP_MINUTES="1",
        VAR_DIR=str(VAR_DIR),
        MEDIA_ROOT=str(VAR_DIR / "media"),
        # As the Dockerfile sets them for every process of the image.
        PYTHONPATH=str(BASE_DIR),
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def manage(env: dict[str, str], *args: str) -> str:
    started = time.monotonic()
    done = run(
        [sys.executable, "manage.py", *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        sys.stdout.write(done.stdout + done.stderr)
        sys.exit(f"drill: `manage.py {' '.join(args)}` failed")
    log(f"manage.py {' '.join(args)}: {time.monotonic() - started:.1f}s")
    return done.stdout


def has_command(env: dict[str, str], name: str) -> bool:
    done = run(
        [sys.executable, "manage.py", "help", name], env=env, capture_output=True, check=False
    )
    return done.returncode == 0


# --------------------------------------------------------------------------
# The commands docker compose runs
# --------------------------------------------------------------------------


def _compose_service(name: str) -> str:
    compose = (BASE_DIR / "docker-compose.yml").read_text()
    block = re.search(rf"^  {name}:\n(.*?)(?=^  \S|^\S|\Z)", compose, re.M | re.S)
    if block is None:
        sys.exit(f"drill: docker-compose.yml has no `{name}` service")
    return block.group(1)


def web_command(port: int) -> list[str]:
    """The Dockerfile's CMD (which compose's `web` service runs), bound to 127.0.0.1:port."""
    if re.search(r"^    command:", _compose_service("web"), re.M):
        sys.exit("drill: docker-compose.yml's web service changed; update web_command()")
    line = re.search(r"^CMD\s+(\[.*\])\s*$", (BASE_DIR / "Dockerfile").read_text(), re.M)
    if line is None:
        sys.exit("drill: no exec-form CMD in the Dockerfile")
    cmd = json.loads(line.group(1))
    if cmd[0] != "gunicorn" or "--bind" not in cmd:
        sys.exit(f"drill: unexpected Dockerfile CMD {cmd}")
    cmd[0] = str(Path(sys.executable).with_name("gunicorn"))
    cmd[cmd.index("--bind") + 1] = f"127.0.0.1:{port}"
    return cmd


def compose_command(service: str, schedule: Path | None = None) -> list[str]:
    """A compose service's `command:`, with the venv's celery and our schedule file."""
    found = re.search(r"^    command:\s*(\[.*\])\s*$", _compose_service(service), re.M)
    if found is None:
        sys.exit(f"drill: docker-compose.yml's {service} service has no one-line command")
    cmd = json.loads(found.group(1))
    if cmd[0] != "celery":
        sys.exit(f"drill: unexpected {service} command {cmd}")
    cmd[0] = str(Path(sys.executable).with_name("celery"))
    if schedule is not None and "--schedule" in cmd:
        cmd[cmd.index("--schedule") + 1] = str(schedule)
    return cmd


# --------------------------------------------------------------------------
# Processes the drill starts (each in its own session: killed as a group)
# --------------------------------------------------------------------------


class Service:
    started_groups: set[int] = set()  # every process group we created, for CPU accounting

    def __init__(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> None:
        self.name, self.cmd, self.env = name, cmd, env
        self.logfile = VAR_DIR / f"{name}.log"
        self.process: subprocess.Popen | None = None
        # Should be running: set by start, cleared before the drill stops or kills it.
        # One that is wanted and not running exited by itself (see Drill.supervise).
        self.wanted = False
        self.lock = threading.RLock()

    def start(self) -> Service:
        with self.lock, self.logfile.open("a") as out:
            self.wanted = True
            out.write(f"\n=== {datetime.now():%H:%M:%S} start: {shlex.join(self.cmd)}\n")
            out.flush()
            self.process = subprocess.Popen(  # noqa: S603 (our own command line)
                self.cmd,
                cwd=BASE_DIR,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        Service.started_groups.add(self.process.pid)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal_group(self, signum: int) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        """SIGKILL to the whole group (a worker's pool children die with it)."""
        with self.lock:
            self.wanted = False
            self.signal_group(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def stop(self, timeout: float = 15) -> None:
        with self.lock:
            self.wanted = False
        if not self.alive():
            self.signal_group(signal.SIGKILL)  # children a dead parent left behind
            return
        self.signal_group(signal.SIGCONT)  # a stopped process cannot handle SIGTERM
        self.signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self.signal_group(signal.SIGKILL)


class Redis(Service):
    def __init__(self, port: int) -> None:
        data = VAR_DIR / "redis"
        data.mkdir(parents=True, exist_ok=True)
        cmd = [tool("redis-server"), "--port", str(port), "--bind", "127.0.0.1"]
        # Nothing on disk: a crash loses everything queued, the hardest case.
        cmd += ["--save", "", "--appendonly", "no", "--dir", str(data)]
        super().__init__("redis", cmd)
        self.port = port

    def start(self) -> Redis:
        super().start()
        deadline = time.monotonic() + 10
        while not self.ping():
            if time.monotonic() > deadline or not self.alive():
                sys.exit(f"drill: redis-server did not start on port {self.port}")
            time.sleep(0.1)
        return self

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


# --------------------------------------------------------------------------
# The SMTP server
# --------------------------------------------------------------------------


@dataclass
class Mail:
    at: float
    message_id: str | None
    recipients: list[str]
    subject: str
    issue: int | None
    comment: str | None
    meeting: str | None


class MailServer:
    """aiosmtpd handler: records every message; can refuse, stop, slow down, or kill."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.mode = "accept"  # or "refuse": 451 to every recipient
        self.delay = 0.0  # seconds before answering DATA (a slow server)
        self.messages: list[Mail] = []
        self.refused = 0
        self.lock = threading.Lock()
        self.controller = None
        # (test, act): test sees every accepted message; when it says so, act
        # runs before the sender hears "250".
        self.watch: tuple[Callable[[Mail], bool], Callable[[Mail], None]] | None = None
        self.journal = (VAR_DIR / "mail.jsonl").open("w")

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if self.mode == "refuse":
            with self.lock:
                self.refused += 1
            return "451 4.3.2 Drill: the mail server is refusing mail for now"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.delay:
            await asyncio.sleep(self.delay)
        mail = parse_mail(envelope.content, envelope.rcpt_tos)
        act = None
        with self.lock:
            self.messages.append(mail)
            self.journal.write(json.dumps(mail.__dict__, ensure_ascii=False) + "\n")
            if self.watch is not None and self.watch[0](mail):
                act, self.watch = self.watch[1], None
        if act is not None:
            # Accepted here, but the sender never hears "250": the crash window.
            act(mail)
        return "250 Message accepted for delivery"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def count(self) -> int:
        with self.lock:
            return len(self.messages)


def parse_mail(content: bytes, recipients: list[str]) -> Mail:
    message = email.message_from_bytes(content, policy=email.policy.default)
    text = ""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            with contextlib.suppress(Exception):
                text += part.get_content()
    subject = str(message.get("Subject", ""))
    issue = re.search(r"#(\d+)\b", subject)
    comment = re.search(r"\[drill-c:([\w-]+)\]", text)
    meeting = re.search(r"\[drill-m:(\d+)\]", subject + "\n" + text)
    return Mail(
        at=time.monotonic(),
        message_id=message.get("Message-ID"),
        recipients=[r.lower() for r in recipients],
        subject=subject,
        issue=int(issue.group(1)) if issue else None,
        comment=comment.group(1) if comment else None,
        meeting=meeting.group(1) if meeting else None,
    )


# --------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------


@dataclass
class Request:
    client: str
    kind: str  # login, page, file, comment, healthz
    method: str
    path: str
    started: float
    duration: float
    status: int  # 0: no answer (connection closed, timed out)
    error: str = ""


@dataclass
class Response:
    status: int
    body: bytes = b""
    location: str = ""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Recorder:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.lock = threading.Lock()

    def add(self, request: Request) -> None:
        with self.lock:
            self.requests.append(request)


class Browser:
    """One person's browser: a cookie jar, no automatic redirects, every request timed."""

    def __init__(self, base: str, name: str, recorder: Recorder) -> None:
        self.base, self.name, self.recorder = base, name, recorder
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            _NoRedirect, urllib.request.HTTPCookieProcessor(self.jar)
        )

    def request(self, kind: str, path: str, form: dict | None = None) -> Response:
        data = urllib.parse.urlencode(form, doseq=True).encode() if form is not None else None
        request = urllib.request.Request(self.base + path, data=data)  # noqa: S310 (loopback)
        started = time.monotonic()
        response, error = Response(0), ""
        try:
            with self.opener.open(request, timeout=CLIENT_TIMEOUT) as answer:
                response = Response(answer.status, answer.read())
        except urllib.error.HTTPError as answer:
            with contextlib.suppress(OSError):
                response = Response(answer.code, answer.read(), answer.headers.get("Location", ""))
        except Exception as exc:  # noqa: BLE001 - any failure to get an answer is "no answer"
            error = f"{type(exc).__name__}: {exc}"[:200]
        label = re.sub(r"\d+", "<id>", path.split("?")[0])
        self.recorder.add(
            Request(
                self.name,
                kind,
                "POST" if form is not None else "GET",
                label,
                started,
                time.monotonic() - started,
                response.status,
                error,
            )
        )
        return response

    def csrf(self, body: bytes) -> str | None:
        found = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        if found:
            return found.group(1).decode()
        return next((c.value for c in self.jar if c.name == "csrftoken"), None)

    def login(self, username: str) -> bool:
        page = self.request("login", "/accounts/login/")
        token = self.csrf(page.body)
        form = {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token or ""}
        answer = self.request("login", "/accounts/login/", form)
        return answer.status == 302 and any(c.name == "sessionid" for c in self.jar)


@dataclass
class Persona:
    username: str
    agency_id: int
    role: str
    cooperating_id: int  # whom this person's issues ask for cooperation


@dataclass
class Attempt:
    tag: str
    status: int
    pk: int | None = None


@dataclass
class Shared:
    """What the clients know of each other's work (to comment on it)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    issues: list[tuple[int, int, int]] = field(default_factory=list)  # pk, lead, cooperating

    def add(self, pk: int, lead: int, cooperating: int) -> None:
        with self.lock:
            self.issues.append((pk, lead, cooperating))

    def pick(self, agency_id: int | None, rng: random.Random) -> int | None:
        with self.lock:
            recent = self.issues[-60:]
        mine = [pk for pk, lead, coop in recent if agency_id is None or agency_id in (lead, coop)]
        return rng.choice(mine) if mine else None


class Client(threading.Thread):
    def __init__(
        self,
        index: int,
        persona: Persona,
        base: str,
        recorder: Recorder,
        shared: Shared,
        stop: threading.Event,
        think: float,
    ) -> None:
        super().__init__(name=f"client-{index:02d}", daemon=True)
        self.index, self.persona, self.shared, self.stop_event = index, persona, shared, stop
        self.think = think
        self.browser = Browser(base, persona.username, recorder)
        self.rng = random.Random(index)  # noqa: S311 - load pattern, not security
        self.filings: list[Attempt] = []
        self.comments: list[Attempt] = []
        self.n = 0

    def pause(self) -> None:
        self.stop_event.wait(self.think * self.rng.uniform(0.5, 1.5))

    def run(self) -> None:
        # Start at different moments, as people do.
        self.stop_event.wait(self.rng.uniform(0, self.think))
        loops = 0
        while not self.stop_event.is_set():
            loops += 1
            self.file_issue()
            self.pause()
            if self.stop_event.is_set():
                break
            self.comment()
            self.pause()
            if loops % 3 == 0 and not self.stop_event.is_set():
                self.browse()

    def file_issue(self) -> None:
        form_page = self.browser.request("page", "/issues/new/")
        token = self.browser.csrf(form_page.body)
        if form_page.status != 200 or token is None:
            return
        self.n += 1
        tag = f"{self.index:02d}-{self.n}"
        persona = self.persona
        lead = persona.agency_id
        answer = self.browser.request(
            "file",
            "/issues/new/",
            {
                "csrfmiddlewaretoken": token,
                "title": f"드릴 협조 요청 {tag} [drill-i:{tag}]",
                "description": f"장애 훈련 중 등록한 이슈입니다 ({tag}).",
                "lead_agency": str(lead),
                "cooperating_agencies": [str(persona.cooperating_id)],
                "category": "",
                "priority": "normal",
                "visibility": "all",
                "due_date": "",
                "assignee": "",
                "version": "",
            },
        )
        pk = _issue_pk(answer.location)
        self.filings.append(Attempt(tag, answer.status, pk))
        if answer.status == 302 and pk is not None:
            self.shared.add(pk, lead, persona.cooperating_id)
            self.browser.request("page", answer.location)

    def comment(self) -> None:
        everything = self.persona.role == "mayor_office"
        pk = self.shared.pick(None if everything else self.persona.agency_id, self.rng)
        if pk is None:
            return
        page = self.browser.request("page", f"/issues/{pk}/")
        token = self.browser.csrf(page.body)
        if page.status != 200 or token is None:
            return
        self.n += 1
        tag = f"{self.index:02d}-{self.n}"
        answer = self.browser.request(
            "comment",
            f"/issues/{pk}/comments/",
            {"csrfmiddlewaretoken": token, "body": f"확인했습니다. [drill-c:{tag}]"},
        )
        self.comments.append(Attempt(tag, answer.status, pk))
        if answer.status == 302:
            self.browser.request("page", answer.location or f"/issues/{pk}/")

    def browse(self) -> None:
        self.browser.request("page", "/issues/")
        self.browser.request("page", "/notifications/")
        if self.persona.role in ("head", "vice_head", "mayor_office"):
            self.browser.request("page", "/dashboard/")


def _issue_pk(location: str) -> int | None:
    found = re.search(r"/issues/(\d+)/$", urllib.parse.urlsplit(location).path)
    return int(found.group(1)) if found else None


class Probe(threading.Thread):
    """A load balancer's health check: /healthz every second."""

    def __init__(self, base: str, recorder: Recorder, stop: threading.Event) -> None:
        super().__init__(name="probe", daemon=True)
        self.browser = Browser(base, "probe", recorder)
        self.stop_event = stop

    def run(self) -> None:
        while not self.stop_event.is_set():
            started = time.monotonic()
            self.browser.request("healthz", "/healthz")
            self.stop_event.wait(max(0.0, 1.0 - (time.monotonic() - started)))


# --------------------------------------------------------------------------
# CPU: how busy the machine was, and who made it busy
# --------------------------------------------------------------------------

TICKS = os.sysconf("SC_CLK_TCK")


def _machine_ticks() -> tuple[int, int]:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]), idle


def _process_ticks(groups: set[int]) -> tuple[dict[int, int], dict[int, int]]:
    """utime + stime by pid: of our process groups, and of the drill database's backends.

    A PostgreSQL backend's title names its database ("postgres: user db host state").
    """
    ours, database = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
            comm = raw[raw.index("(") + 1 : raw.rindex(")")]
            rest = raw.rsplit(")", 1)[1].split()
            ticks = int(rest[11]) + int(rest[12])
            if int(rest[2]) in groups:  # pgrp
                ours[int(stat.parent.name)] = ticks
            elif comm.startswith("postgres"):
                title = (stat.parent / "cmdline").read_bytes()
                if f" {DB_NAME} ".encode() in title:
                    database[int(stat.parent.name)] = ticks
        except (OSError, ValueError, IndexError):
            continue  # the process ended while we looked
    return ours, database


class CpuMeter(threading.Thread):
    """Samples every second who keeps the machine busy, adding it up per phase.

    Shares are of the whole machine (all CPUs). A process counts from the
    first second it is seen, so one that lives less than a second is missed.
    """

    def __init__(self) -> None:
        super().__init__(name="cpu", daemon=True)
        self.label = ""
        self.totals: dict[str, Counter] = {}
        self.stop_event = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        last_ours, last_db = _process_ticks(Service.started_groups)
        last_machine, last_drill = _machine_ticks(), sum(os.times()[:2])
        while not self.stop_event.wait(1.0):
            ours, database = _process_ticks(Service.started_groups)
            machine, drill = _machine_ticks(), sum(os.times()[:2])
            total = machine[0] - last_machine[0]
            with self.lock:
                acc = self.totals.setdefault(self.label, Counter())
                acc["total"] += total
                acc["idle"] += machine[1] - last_machine[1]
                acc["app"] += sum(t - last_ours.get(pid, 0) for pid, t in ours.items())
                acc["db"] += sum(t - last_db.get(pid, 0) for pid, t in database.items())
                acc["drill"] += (drill - last_drill) * TICKS
            last_ours, last_db, last_machine, last_drill = ours, database, machine, drill

    def switch(self, label: str) -> None:
        with self.lock:
            self.label = label

    def shares(self, label: str) -> dict[str, float]:
        with self.lock:
            acc = self.totals.get(label)
        if not acc or not acc["total"]:
            return {}
        total = acc["total"]
        result = {
            "busy": 100 * (total - acc["idle"]) / total,
            "drill": 100 * acc["drill"] / total,
            "app": 100 * acc["app"] / total,
            "db": 100 * acc["db"] / total,
        }
        result["other"] = max(0.0, result["busy"] - result["drill"] - result["app"] - result["db"])
        return result


# --------------------------------------------------------------------------
# The drill
# --------------------------------------------------------------------------


@dataclass
class Window:
    label: str
    start: float
    fault: bool = False  # a fault of the web's services (Redis) begins with it
    end: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class Drill:
    def __init__(self, options: argparse.Namespace) -> None:
        self.options = options
        self.web_port = free_port()
        self.smtp_port = free_port()
        self.redis_port = options.redis_port
        self.base = f"http://127.0.0.1:{self.web_port}"
        self.env = production_env(
            web_port=self.web_port, redis_port=self.redis_port, smtp_port=self.smtp_port
        )
        self.recorder = Recorder()
        self.shared = Shared()
        self.stop_clients = threading.Event()
        self.stop_probe = threading.Event()
        self.clients: list[Client] = []
        self.windows: list[Window] = []
        self.meter = CpuMeter()
        self.notes: list[str] = []
        self.services: list[Service] = []
        self.meetings: list[str] = []
        self.lease_snapshot: list[tuple[str, str, int, datetime]] = []
        self.leases_expired = 0
        self.killed_at: float | None = None
        self.crash_mail: Mail | None = None
        self.new_outbox = False
        self.unplanned: list[tuple[str, str, int | None]] = []  # phase, service, exit code
        self.started_at = datetime.now().astimezone()
        self.load_before = os.getloadavg()
        self.mail = MailServer(self.smtp_port)
        self.redis = Redis(self.redis_port)
        self.web = Service("gunicorn", web_command(self.web_port), self.env)
        self.worker = Service("worker", compose_command("worker"), self.env)
        self.beat = Service(
            "beat", compose_command("beat", VAR_DIR / "celerybeat-schedule"), self.env
        )
        self.beat2 = Service(
            "beat2", compose_command("beat", VAR_DIR / "celerybeat-schedule-2"), self.env
        )

    # --- set-up ------------------------------------------------------------

    def setup(self) -> None:
        if port_in_use(self.redis_port):
            sys.exit(f"drill: port {self.redis_port} is taken; choose another with --redis-port")
        for old in VAR_DIR.glob("*.log"):
            old.unlink()
        for old in VAR_DIR.glob("celerybeat-schedule*"):
            old.unlink()
        self.redis.start()
        self.services.append(self.redis)
        log(f"redis-server on 127.0.0.1:{self.redis_port} (pid {self.redis.pid}), nothing on disk")
        self.mail.start()
        log(f"SMTP server (aiosmtpd) on 127.0.0.1:{self.smtp_port}")
        recreate_database()
        manage(self.env, "migrate", "--noinput")
        manage(self.env, "seed_demo")
        manage(self.env, "collectstatic", "--noinput", "-v", "0")
        self.new_outbox = has_command(self.env, "deliver_notifications")
        if not self.new_outbox:
            self.notes.append(
                "`manage.py deliver_notifications` does not exist in this code: the drill did "
                "not run it by hand nor ask the worker for notification sweeps (notifications "
                "are delivered by one Celery task per event, queued after commit)."
            )
            log("deliver_notifications not available: notification sweeps skipped")
        setup_django(self.env)
        self.personas = personas(self.options.clients)

        for service in (self.web, self.worker, self.beat):
            service.start()
            self.services.append(service)
        self.wait_for_web()
        log(
            f"gunicorn on {self.base} (pid {self.web.pid}), worker pid {self.worker.pid}, "
            f"beat pid {self.beat.pid}"
        )

    def wait_for_web(self) -> None:
        deadline = time.monotonic() + 60
        probe = Browser(self.base, "setup", Recorder())
        while probe.request("healthz", "/healthz").status != 200:
            if not self.web.alive():
                sys.exit(f"drill: gunicorn exited:\n{self.web.logfile.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                sys.exit("drill: /healthz did not answer 200 within 60 s")
            time.sleep(0.3)

    def supervise(self) -> None:
        """Restart web, worker and beats that exit by themselves, as docker compose's
        `restart: unless-stopped` does, and remember each time for the report."""
        while not self.stop_probe.wait(0.5):
            for service in (self.web, self.worker, self.beat, self.beat2):
                with service.lock:
                    if not service.wanted or service.alive():
                        continue
                    code = service.process.returncode if service.process else None
                    phase = self.windows[-1].label if self.windows else "set-up"
                    self.unplanned.append((phase, service.name, code))
                    log(
                        f"{service.name} exited by itself (code {code}) during {phase!r}; "
                        "restarting it, as `restart: unless-stopped` would"
                    )
                    service.signal_group(signal.SIGKILL)  # what the dead parent left behind
                    time.sleep(1)
                    service.start()

    def start_clients(self) -> None:
        self.clients = [
            Client(
                index,
                persona,
                self.base,
                self.recorder,
                self.shared,
                self.stop_clients,
                self.options.think,
            )
            for index, persona in enumerate(self.personas)
        ]
        # Everyone signs in at once, as on a Monday morning (and it is quicker).
        with ThreadPoolExecutor(max_workers=len(self.clients)) as pool:
            signed_in = list(
                pool.map(lambda client: client.browser.login(client.persona.username), self.clients)
            )
        for client, ok in zip(self.clients, signed_in, strict=True):
            if not ok:
                sys.exit(f"drill: {client.persona.username} could not sign in")
        log(
            f"{len(self.clients)} clients signed in "
            f"({', '.join(p.username for p in self.personas)})"
        )
        self.probe = Probe(self.base, self.recorder, self.stop_probe)
        self.probe.start()
        for client in self.clients:
            client.start()

    # --- phases --------------------------------------------------------------

    def mark(self, label: str, *, fault: bool = False) -> Window:
        now = time.monotonic()
        self.meter.switch(label)
        if self.windows:
            self.windows[-1].end = now
        window = Window(label, now, fault)
        self.windows.append(window)
        log(f"— {label}")
        return window

    def progress(self, seconds: float) -> None:
        """Sleep through a phase, printing what the clients and the mail server did."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(5.0, left))
            window = self.windows[-1]
            mine = [r for r in self.recorder.requests if r.started >= window.start]
            bad = sum(1 for r in mine if r.kind != "healthz" and (r.status >= 500 or not r.status))
            slow = sum(1 for r in mine if r.kind != "healthz" and r.duration > SLOW)
            print(
                f"    {time.monotonic() - window.start:5.0f}s  requests {len(mine):5}  "
                f"5xx/no answer {bad:4}  over 3 s {slow:4}  mails received "
                f"{self.mail.count():6}",
                flush=True,
            )

    def create_meeting(self, agencies: int) -> None:
        """A meeting two days ahead: its D-7 reminder is due now, for everyone invited."""
        from django.db import connections
        from django.utils import timezone

        from agencies.models import Agency
        from meetings.models import Meeting

        number = len(self.meetings) + 1
        starts = timezone.now() + timedelta(days=2)
        meeting = Meeting.objects.create(
            kind="other",
            title=f"드릴 점검 회의 {number} [drill-m:{number}]",
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            location="광주광역시청 3층 중회의실",
            chair="행정부시장",
        )
        invited = list(Agency.objects.active().public_organizations().order_by("pk")[:agencies])
        meeting.invited_agencies.set(invited)
        connections.close_all()
        self.meetings.append(str(number))
        log(f"meeting {number} two days ahead, {len(invited)} organizations invited")

    def ask_for_sweeps(self, *, reminders: bool = True, notifications: bool = True) -> None:
        """What beat does every minute, now (only while Redis is up)."""
        from gwangju_hub.celery import app

        names = []
        if reminders:
            names.append("meetings.send_due_reminders")
        if notifications and self.new_outbox:
            names.append("issues.deliver_notifications")
        for name in names:
            try:
                app.send_task(name)
            except Exception as exc:  # noqa: BLE001 - the drill goes on; the log says why
                log(f"could not queue {name}: {type(exc).__name__}: {exc}")

    def phases(self) -> None:
        o = self.options
        chosen = o.phases
        if 1 in chosen:
            self.mark("1 baseline")
            self.create_meeting(8)
            self.ask_for_sweeps()
            self.progress(o.baseline)

        if 2 in chosen:
            self.mark("2 Redis refused", fault=True)
            self.redis.kill()
            self.create_meeting(6)
            self.progress(o.fault)
            self.mark("2 Redis back")
            self.redis.start()
            self.progress(o.recovery)

        if 3 in chosen:
            self.mark("3 Redis hung", fault=True)
            self.redis.signal_group(signal.SIGSTOP)
            self.create_meeting(6)
            self.progress(o.fault)
            self.mark("3 Redis resumed")
            self.redis.signal_group(signal.SIGCONT)
            self.progress(o.recovery)

        if 4 in chosen:
            self.mark("4 SMTP refusing")
            self.mail.mode = "refuse"
            self.create_meeting(6)
            self.ask_for_sweeps()
            self.progress(o.fault / 2)
            self.mail.stop()
            self.mail.mode = "accept"
            self.windows[-1].notes.append(
                "451 to every recipient, then stopped (connection refused)"
            )
            log("SMTP server stopped")
            self.progress(o.fault / 2)
            self.mark("4 SMTP back")
            self.mail.start()
            self.progress(o.recovery)

        if 5 in chosen:
            self.kill_worker_mid_sweep()

        if 6 in chosen:
            self.mark("6 two sweeps, two beats")
            self.concurrent_sweeps()

        self.mark("drain")

    def kill_worker_mid_sweep(self) -> None:
        o = self.options
        window = self.mark("5 worker kill -9")
        started = time.monotonic()
        killed = threading.Event()

        def kill(mail: Mail) -> None:
            with self.worker.lock:
                self.worker.wanted = False
                self.worker.signal_group(signal.SIGKILL)
            self.killed_at = time.monotonic()
            self.crash_mail = mail
            killed.set()

        self.create_meeting(24)
        meeting, seen = self.meetings[-1], 0

        def moment(mail: Mail) -> bool:
            # Once the sweep is sending this meeting's reminders, the server slows
            # down (stretching the sweep); the fifth one it accepts is the moment.
            nonlocal seen
            if mail.meeting != meeting:
                return False
            seen += 1
            self.mail.delay = o.slow_smtp
            return seen == 5

        with self.mail.lock:
            self.mail.watch = (moment, kill)
        self.ask_for_sweeps()
        if killed.wait(timeout=max(30.0, o.kill_window)):
            self.worker.process.wait()
            mail = self.crash_mail
            log(
                "worker killed (SIGKILL to its process group) after the SMTP server accepted "
                f"{mail.subject!r} for {', '.join(mail.recipients)}"
            )
            self.lease_snapshot = snapshot_leases()
            window.notes.append(
                f"killed {time.monotonic() - started:.0f} s into the phase, "
                f"{len(self.lease_snapshot)} rows leased at that moment"
            )
            time.sleep(2)
        else:
            with self.mail.lock:
                self.mail.watch = None
            log("no reminder reached the SMTP server in time: killing the worker anyway")
            self.worker.kill()
            self.lease_snapshot = snapshot_leases()
            window.notes.append("no sweep was sending when the worker was killed")
        self.mail.delay = 0.0
        self.worker.start()
        log(f"worker restarted (pid {self.worker.pid})")
        self.progress(max(0.0, o.kill_window - (time.monotonic() - started)))

    def concurrent_sweeps(self) -> None:
        o = self.options
        started = time.monotonic()
        self.beat2.start()
        self.services.append(self.beat2)
        log(f"second beat started (pid {self.beat2.pid})")
        self.mail.delay = 0.05  # widen the window in which two sweeps could meet
        self.create_meeting(12)
        rounds = 0
        # A new round only while there is time for it: the phase keeps its length.
        while rounds == 0 or o.beats - (time.monotonic() - started) > 20:
            rounds += 1
            commands = [["send_due_reminders"]] * 2
            if self.new_outbox:
                commands += [["deliver_notifications"]] * 2
            sweeps = [
                Service(f"sweep-{rounds}-{i}", [sys.executable, "manage.py", *cmd], self.env)
                for i, cmd in enumerate(commands)
            ]
            for sweep in sweeps:
                sweep.start()
            self.ask_for_sweeps()
            self.ask_for_sweeps()
            for sweep in sweeps:
                sweep.process.wait()
            failed = [s.name for s in sweeps if s.process.returncode]
            log(
                f"round {rounds}: {len(sweeps)} sweeps by hand next to the worker's"
                + (f" (failed: {', '.join(failed)})" if failed else "")
            )
            self.progress(min(20.0, max(0.0, o.beats - (time.monotonic() - started))))
        self.progress(max(0.0, o.beats - (time.monotonic() - started)))
        self.mail.delay = 0.0
        self.windows[-1].notes.append(
            f"{rounds} rounds of concurrent sweeps; beat2 ran {time.monotonic() - started:.0f} s"
        )
        self.beat2.stop()
        log("second beat stopped")

    def drain(self) -> tuple[dict, float]:
        self.stop_clients.set()
        log("clients stopping; waiting for their last requests")
        for client in self.clients:
            client.join(timeout=CLIENT_TIMEOUT + 10)
        self.leases_expired = expire_leases(self.lease_snapshot)
        if self.lease_snapshot:
            log(
                f"expired {self.leases_expired} of {len(self.lease_snapshot)} leases the killed "
                "worker held (as if their time had run out)"
            )
        started = time.monotonic()
        deadline = started + self.options.drain_timeout
        last_ask = last_print = 0.0
        shown = None
        counts = self.count()
        while time.monotonic() < deadline:
            if time.monotonic() - last_ask >= 10:
                self.ask_for_sweeps()  # as beat would, only more often
                last_ask = time.monotonic()
            counts = self.count()
            owed = (counts["notifications"].lost, counts["reminders"].lost, counts["bell_missing"])
            if owed != shown or time.monotonic() - last_print >= 15:
                print(
                    f"    drain {time.monotonic() - started:5.0f}s  still owed: {owed[0]} "
                    f"notification e-mails, {owed[1]} reminders, {owed[2]} bell entries",
                    flush=True,
                )
                shown, last_print = owed, time.monotonic()
            if not any(owed):
                time.sleep(5)  # late copies (a duplicate) still count
                counts = self.count()
                break
            time.sleep(3)
        return counts, time.monotonic() - started

    def count(self) -> dict:
        from django.db import connections

        try:
            return count_everything(self.mail.messages, self.mail.lock)
        finally:
            connections.close_all()

    def stop_everything(self) -> None:
        self.stop_clients.set()
        self.stop_probe.set()
        for service in reversed(self.services):
            service.stop()
        self.mail.stop()


# --------------------------------------------------------------------------
# In-process Django: meetings, leases, and what people were owed
# --------------------------------------------------------------------------


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gwangju_hub.settings")
    sys.path.insert(0, str(BASE_DIR))
    import logging

    import django

    django.setup()
    # aiosmtpd logs every SMTP command at INFO; the counts are what matter here.
    logging.getLogger("mail.log").setLevel(logging.WARNING)


def personas(n: int) -> list[Persona]:
    """n people: staff of the first organizations, one head, one of the Mayor's office.

    Each files issues for their own organization asking the next person's
    organization to cooperate, so that person can answer with a comment.
    """
    from agencies.models import Agency, User

    organizations = list(Agency.objects.active().public_organizations().order_by("pk"))
    if n < 3 or n > len(organizations) + 1:
        sys.exit(f"drill: --clients must be between 3 and {len(organizations) + 1}")
    staff = organizations[: n - 2]
    people = [User.objects.get(username=f"{agency.slug}-staff1") for agency in staff]
    people.append(User.objects.get(username=f"{organizations[n - 2].slug}-head"))
    people.append(User.objects.get(username="mayor2"))
    result = []
    for index, user in enumerate(people):
        target = staff[(index + 1) % len(staff)]
        if target.pk == user.agency_id:
            target = staff[(index + 2) % len(staff)]
        if user.role == "mayor_office":
            # The Mayor's office files for an organization, asking another.
            result.append(Persona(user.username, staff[0].pk, user.role, staff[1].pk))
        else:
            result.append(Persona(user.username, user.agency_id, user.role, target.pk))
    return result


def _lease_columns() -> list[tuple[str, str]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND column_name = ANY(%s) "
            "AND data_type LIKE 'timestamp%%'",
            [list(LEASE_COLUMNS)],
        )
        return cursor.fetchall()


def snapshot_leases() -> list[tuple[str, str, int, datetime]]:
    """Rows leased right now (just after the kill: the killed worker's), with their lease."""
    from django.db import connection, connections

    rows = []
    try:
        for table, column in _lease_columns():
            with connection.cursor() as cursor:
                cursor.execute(
                    f'SELECT id, "{column}" FROM "{table}" WHERE "{column}" > now()'  # noqa: S608
                )
                rows += [(table, column, pk, value) for pk, value in cursor.fetchall()]
    finally:
        connections.close_all()
    return rows


def expire_leases(snapshot: list[tuple[str, str, int, datetime]]) -> int:
    """Let the killed worker's leases run out now instead of minutes from now.

    Only rows whose lease is still the one the killed worker took (no other
    sweep has taken them over since) are touched, so nothing is sent twice
    because of this.
    """
    from django.db import connection, connections

    moved = 0
    try:
        for table, column, pk, value in snapshot:
            with connection.cursor() as cursor:
                cursor.execute(
                    f'UPDATE "{table}" SET "{column}" = now() '  # noqa: S608
                    f'WHERE id = %s AND "{column}" = %s',
                    [pk, value],
                )
                moved += cursor.rowcount
    finally:
        connections.close_all()
    return moved


def count_everything(messages: list[Mail], lock: threading.Lock) -> dict:
    """What the clients' actions and the meetings owed, against what the SMTP server got."""
    from agencies.models import DEFAULT_DELIVERY, Delivery, User
    from issues.models import Comment, Cooperation, Event, EventKind, Issue, Notification
    from issues.notifications import NOTICE_KINDS
    from meetings.models import Meeting

    users = {
        u["pk"]: u
        for u in User.objects.values(
            "pk", "agency_id", "role", "is_active", "is_superuser", "email", "notice_settings"
        )
    }
    issues = {
        i["pk"]: i
        for i in Issue.objects.filter(title__contains="[drill-i:").values(
            "pk", "title", "lead_agency_id", "created_by_id", "assignee_id", "visibility"
        )
    }
    cooperations: dict[int, list[dict]] = {}
    for c in Cooperation.objects.filter(issue_id__in=issues).values(
        "issue_id", "agency_id", "answered_by_id", "answered_at"
    ):
        cooperations.setdefault(c["issue_id"], []).append(c)
    comments: dict[int, list[dict]] = {}
    token_of: dict[int, str] = {}
    for c in Comment.objects.filter(issue_id__in=issues).values(
        "pk", "issue_id", "author_id", "created_at", "body"
    ):
        comments.setdefault(c["issue_id"], []).append(c)
        found = re.search(r"\[drill-c:([\w-]+)\]", c["body"])
        if found:
            token_of[c["pk"]] = found.group(1)
    events = list(
        Event.objects.filter(issue_id__in=issues).values(
            "pk", "issue_id", "kind", "agency_id", "actor_id", "comment_id", "created_at"
        )
    )

    def can_view(user: dict, issue: dict) -> bool:
        if not user["is_active"]:
            return False
        if user["is_superuser"] or user["role"] == "mayor_office" or issue["visibility"] == "all":
            return True
        involved = {issue["lead_agency_id"]}
        involved |= {c["agency_id"] for c in cooperations.get(issue["pk"], [])}
        return user["agency_id"] in involved

    # Who each event concerns (issues.notifications.recipients_for's rules): a
    # cooperation request, the requested organization's people; a comment, the
    # lead organization's people and the participants as of that moment.
    # Participants whose part came within a second of the event may or may not
    # have been seen by its transaction: optional, neither owed nor unexpected.
    owed_pairs, optional_pairs = set(), set()
    other_kinds = Counter()
    coop_event_of_issue: dict[int, int] = {}
    event_of_token: dict[str, int] = {}
    margin = timedelta(seconds=1)
    for event in events:
        issue = issues[event["issue_id"]]
        if event["kind"] == EventKind.COOPERATION_REQUESTED:
            coop_event_of_issue[issue["pk"]] = event["pk"]
            audience = {pk for pk, u in users.items() if u["agency_id"] == event["agency_id"]}
            maybe: set[int] = set()
        elif event["kind"] == EventKind.COMMENT:
            if event["comment_id"] in token_of:
                event_of_token[token_of[event["comment_id"]]] = event["pk"]
            audience = {pk for pk, u in users.items() if u["agency_id"] == issue["lead_agency_id"]}
            audience |= {issue["created_by_id"], issue["assignee_id"]} - {None}
            maybe = set()
            for c in comments.get(issue["pk"], []):
                if c["created_at"] <= event["created_at"] - margin:
                    audience.add(c["author_id"])
                else:
                    maybe.add(c["author_id"])
            for c in cooperations.get(issue["pk"], []):
                if c["answered_by_id"] and c["answered_at"]:
                    if c["answered_at"] <= event["created_at"] - margin:
                        audience.add(c["answered_by_id"])
                    else:
                        maybe.add(c["answered_by_id"])
        else:
            if event["kind"] not in (EventKind.CREATED,):
                other_kinds[event["kind"]] += 1
            continue
        for group, target in ((audience, owed_pairs), (maybe - audience, optional_pairs)):
            for pk in group:
                user = users[pk]
                if pk != event["actor_id"] and can_view(user, issue):
                    target.add((event["pk"], pk))

    notifications = set(
        Notification.objects.filter(event__issue_id__in=issues).values_list(
            "event_id", "recipient_id"
        )
    )
    bell_missing = len(owed_pairs - notifications)

    def mail_key(event_id: int, user_id: int) -> tuple:
        return ("notification", event_id, users[user_id]["email"].lower())

    # A mail is owed only to whom wants this kind of notice at once
    # (/accounts/settings/, issue 9); the others have it in the bell and digest.
    kind_of = {event["pk"]: event["kind"] for event in events}

    def wants_mail(event_id: int, user_id: int) -> bool:
        notice = NOTICE_KINDS.get(EventKind(kind_of[event_id]))
        if notice is None or not users[user_id]["email"]:
            return False
        chosen = (users[user_id]["notice_settings"] or {}).get(notice)
        delivery = chosen if chosen in Delivery.values else DEFAULT_DELIVERY[notice]
        return delivery == Delivery.IMMEDIATE

    owed_mail = {mail_key(e, u) for e, u in owed_pairs if wants_mail(e, u)}
    optional_mail = {mail_key(e, u) for e, u in optional_pairs if wants_mail(e, u)}

    # Reminders: each head and vice-head of an invited, active organization
    # (an "other" meeting) and each member of the Mayor's office, once.
    owed_reminders = set()
    for meeting in Meeting.objects.filter(title__contains="[drill-m:").prefetch_related(
        "invited_agencies"
    ):
        token = re.search(r"\[drill-m:(\d+)\]", meeting.title).group(1)
        invited = {a.pk for a in meeting.invited_agencies.all() if a.is_active}
        for user in users.values():
            if not user["is_active"] or not user["email"]:
                continue
            if user["role"] == "mayor_office" or (
                user["role"] in ("head", "vice_head") and user["agency_id"] in invited
            ):
                owed_reminders.add(("reminder", token, user["email"].lower()))

    with lock:
        received = list(messages)
    notification_mail, reminder_mail, other_mail = [], [], 0
    for mail in received:
        for rcpt in mail.recipients:
            if mail.meeting is not None:
                reminder_mail.append((("reminder", mail.meeting, rcpt), mail.message_id))
            elif mail.issue in issues:
                event_id = (
                    event_of_token.get(mail.comment)
                    if mail.comment
                    else coop_event_of_issue.get(mail.issue)
                )
                key = ("notification", event_id, rcpt) if event_id else ("unmatched", mail.issue)
                notification_mail.append((key, mail.message_id))
            else:
                other_mail += 1
    return {
        "notifications": tally(owed_mail, notification_mail, optional=optional_mail),
        "reminders": tally(owed_reminders, reminder_mail),
        "bell_owed": len(owed_pairs),
        "bell_missing": bell_missing,
        "other_mail": other_mail,
        "other_kinds": dict(other_kinds),
        "issues": len(issues),
        "comments": sum(len(v) for v in comments.values()),
    }


def outbox_state() -> list[str]:
    """What is still waiting in the database after the drain."""
    from django.db.models import Count

    from meetings.models import ReminderDelivery

    lines = []
    waiting = (
        ReminderDelivery.objects.filter(meeting__title__contains="[drill-m:", sent_at=None)
        .values("attempts", "last_error")
        .annotate(n=Count("pk"))
        .order_by("-n")
    )
    for row in waiting[:5]:
        error = (row["last_error"] or "no error").splitlines()[0][:120]
        lines.append(
            f"{row['n']} reminder rows of the drill's meetings still unsent "
            f"(attempts {row['attempts']}, last error: {error})"
        )
    with contextlib.suppress(Exception):  # the outbox's own columns may differ
        from issues.models import Notification

        unsent = Notification.objects.filter(
            event__issue__title__contains="[drill-i:", emailed_at=None, email_due_at__isnull=False
        ).exclude(recipient__email="")
        if n := unsent.count():
            lines.append(f"{n} bell entries of drill issues owing an e-mail not sent")
    return lines


# --------------------------------------------------------------------------
# Logs of the services
# --------------------------------------------------------------------------


def gunicorn_findings() -> list[str]:
    logfile = VAR_DIR / "gunicorn.log"
    if not logfile.exists():
        return []
    text = logfile.read_text(errors="replace")
    findings = []
    if n := len(re.findall(r"WORKER TIMEOUT", text)):
        findings.append(f"gunicorn killed {n} workers that took longer than 30 s (WORKER TIMEOUT)")
    counts: Counter = Counter()
    path = ""
    for line in text.splitlines():
        if found := re.match(r"Internal Server Error: (\S+)", line):
            path = re.sub(r"\d+", "<id>", found.group(1))
        elif path and re.match(r"\w[\w.]*(Error|Exception|Timeout)\b.*?:", line):
            counts[f"`{path}`: {line.strip()[:160]}"] += 1
            path = ""
    findings += [f"{n}× {what}" for what, n in counts.most_common(6)]
    return findings


def worker_findings() -> list[str]:
    findings = []
    for name in ("worker", "beat", "beat2"):
        logfile = VAR_DIR / f"{name}.log"
        if not logfile.exists():
            continue
        text = logfile.read_text(errors="replace")
        errors = Counter(
            re.sub(r"\d+", "N", m.group(1))[:140]
            for m in re.finditer(r"(?:ERROR|CRITICAL)/\S+\] (.+)", text)
        )
        for what, n in errors.most_common(4):
            findings.append(f"{name} log: {n}× {what}")
    return findings


# --------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------


def failed(request: Request) -> bool:
    return request.status >= 500 or request.status == 0


def phase_of(request: Request, windows: list[Window]) -> int:
    return phase_index(request.started, request.duration, [(w.start, w.fault) for w in windows])


def calm_slow_note(windows: list[Window], requests: list[Request]) -> str:
    """Slow requests away from the Redis faults, next to how busy the machine was."""
    calm = {
        i
        for i, w in enumerate(windows)
        if not w.fault and not (i and windows[i - 1].fault) and w.label != "drain"
    }
    slow = [
        r
        for r in requests
        if r.kind != "healthz" and r.duration > SLOW and phase_of(r, windows) >= 0
    ]
    slow_calm = sum(1 for r in slow if phase_of(r, windows) in calm)
    shares = [windows[i].cpu for i in calm if windows[i].cpu]
    if not shares:
        return ""
    other = sum(c["other"] for c in shares) / len(shares)
    app = sum(c["app"] + c["db"] for c in shares) / len(shares)
    return (
        f"Away from the Redis phases (and the phase right after each), {slow_calm} of "
        f"{len(slow)} slow requests; there the drill's own services (web, worker, database) "
        f"used {app:.0f} % of the machine on average and other work on the machine "
        f"{other:.0f} %, so a slow request there says as much about the shared machine as "
        "about the app."
    )


def request_rows(windows: list[Window], requests: list[Request]) -> tuple[list[str], dict]:
    head = [
        "| phase | s | requests | 5xx | no answer | over 3 s | p50 ms | p95 ms | max ms "
        "| CPU busy | drill | app | database | other |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    totals = {"requests": 0, "5xx": 0, "none": 0, "slow": 0}

    def row(label: str, seconds: str, mine: list[Request], cpu: dict) -> str:
        durations = [r.duration * 1000 for r in mine]
        cells = [
            label,
            seconds,
            str(len(mine)),
            str(sum(1 for r in mine if r.status >= 500)),
            str(sum(1 for r in mine if r.status == 0)),
            str(sum(1 for r in mine if r.duration > SLOW)),
            f"{percentile(durations, 0.5):.0f}",
            f"{percentile(durations, 0.95):.0f}",
            f"{max(durations, default=0):.0f}",
        ]
        keys = ("busy", "drill", "app", "db", "other")
        cells += [f"{cpu[k]:.0f} %" if cpu else "–" for k in keys]
        return "| " + " | ".join(cells) + " |"

    clients = [r for r in requests if r.kind != "healthz" and phase_of(r, windows) >= 0]
    rows = []
    for index, window in enumerate(windows):
        mine = [r for r in clients if phase_of(r, windows) == index]
        seconds = f"{(window.end or time.monotonic()) - window.start:.0f}"
        rows.append(row(window.label, seconds, mine, window.cpu))
    totals["requests"] = len(clients)
    totals["5xx"] = sum(1 for r in clients if r.status >= 500)
    totals["none"] = sum(1 for r in clients if r.status == 0)
    totals["slow"] = sum(1 for r in clients if r.duration > SLOW)
    rows.append(row("**all**", "", clients, {}))
    return head + rows, totals


def probe_rows(windows: list[Window], requests: list[Request]) -> tuple[list[str], int]:
    lines = [
        "| phase | probes | 200 | 503 | other or no answer | over 3 s | max ms |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    probes = [r for r in requests if r.kind == "healthz" and phase_of(r, windows) >= 0]
    bad = sum(1 for r in probes if r.status not in (200, 503) or r.duration > SLOW)
    for index, window in enumerate(windows):
        mine = [r for r in probes if phase_of(r, windows) == index]
        if not mine:
            continue
        lines.append(
            f"| {window.label} | {len(mine)} | {sum(r.status == 200 for r in mine)} | "
            f"{sum(r.status == 503 for r in mine)} | "
            f"{sum(r.status not in (200, 503) for r in mine)} | "
            f"{sum(r.duration > SLOW for r in mine)} | "
            f"{max(r.duration for r in mine) * 1000:.0f} |"
        )
    return lines, bad


def owed_rows(counts: dict) -> list[str]:
    n: Tally = counts["notifications"]
    r: Tally = counts["reminders"]
    return [
        "| what | owed | arrived | lost | duplicates (new Message-ID) "
        "| resent with the same Message-ID | to someone not owed it |",
        "|---|--:|--:|--:|--:|--:|--:|",
        f"| notification e-mails | {n.owed} | {n.delivered} | {n.lost} | {n.duplicates} "
        f"| {n.same_id_resends} | {n.unexpected} |",
        f"| meeting reminders | {r.owed} | {r.delivered} | {r.lost} | {r.duplicates} "
        f"| {r.same_id_resends} | {r.unexpected} |",
        f"| bell entries (Notification rows) | {counts['bell_owed']} "
        f"| {counts['bell_owed'] - counts['bell_missing']} | {counts['bell_missing']} "
        "| – | – | – |",
    ]


def saved_despite_error(clients: list[Client]) -> list[str]:
    from issues.models import Comment, Issue

    filings = [a for c in clients for a in c.filings]
    comments = [a for c in clients for a in c.comments]
    bad_filings = [a for a in filings if a.status >= 500 or a.status == 0]
    bad_comments = [a for a in comments if a.status >= 500 or a.status == 0]
    saved_filings = sum(
        1
        for a in bad_filings
        if Issue.objects.filter(title__contains=f"[drill-i:{a.tag}]").exists()
    )
    saved_comments = sum(
        1
        for a in bad_comments
        if Comment.objects.filter(body__contains=f"[drill-c:{a.tag}]").exists()
    )
    ok_filings = sum(1 for a in filings if a.status == 302)
    ok_comments = sum(1 for a in comments if a.status == 302)
    return [
        f"Clients filed {len(filings)} issues ({ok_filings} redirected to the new issue) and "
        f"posted {len(comments)} comments ({ok_comments} redirected).",
        f"Filings answered with a 5xx or not at all: {len(bad_filings)}, saved anyway: "
        f"{saved_filings}; comments: {len(bad_comments)}, saved anyway: {saved_comments} "
        "(a person who sees an error retries, and files it twice).",
    ]


def machine_lines(cmd: list[str]) -> list[str]:
    from django.db import connection

    cpuinfo = Path("/proc/cpuinfo").read_text()
    cpu = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    meminfo = Path("/proc/meminfo").read_text()
    mem_kb = int(re.search(r"^MemTotal:\s+(\d+)", meminfo, re.M).group(1))
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    versions = []
    for name in ("gunicorn", "celery"):
        done = run(
            [str(Path(sys.executable).with_name(name)), "--version"],
            capture_output=True,
            text=True,
            check=False,
        )
        version = re.search(r"\d+\.\d+(?:\.\d+)?", done.stdout)
        versions.append(f"{name} {version.group(0) if version else '?'}")
    redis = run([tool("redis-server"), "--version"], capture_output=True, text=True, check=False)
    redis_version = re.search(r"v=(\S+)", redis.stdout)
    import aiosmtpd

    return [
        f"- CPU: {cpu.group(1) if cpu else platform.processor()}, "
        f"{os.cpu_count()} logical CPUs (nproc {len(os.sched_getaffinity(0))}); "
        f"memory {mem_kb / 1024 / 1024:.1f} GiB; Linux {platform.release()}",
        f"- PostgreSQL {pg_version}; Redis {redis_version.group(1) if redis_version else '?'}; "
        f"Python {platform.python_version()}; {', '.join(versions)}; "
        f"aiosmtpd {aiosmtpd.__version__}",
        f"- web: `{shlex.join(['gunicorn', *cmd[1:]])}` (the Dockerfile's CMD); worker and beat: "
        "docker-compose.yml's commands",
        "- CPU columns: shares of the whole machine (all CPUs), sampled every second — "
        "*drill*: this process (the clients, the probe, the SMTP server); *app*: gunicorn, "
        "the worker, the beats, hand-run sweeps, redis-server; *database*: the PostgreSQL "
        f"backends of `{DB_NAME}`; *other*: everything else on the machine (other people's "
        "work, PostgreSQL's own processes)",
    ]


def write_report(
    drill: Drill, counts: dict, drain_seconds: float, total_seconds: float
) -> tuple[list[str], bool]:
    requests = sorted(drill.recorder.requests, key=lambda r: r.started)
    for window in drill.windows:
        window.cpu = drill.meter.shares(window.label)
    with (VAR_DIR / "requests.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["client", "kind", "method", "path", "started_s", "ms", "status", "error"])
        origin = drill.windows[0].start
        for r in requests:
            writer.writerow(
                [
                    r.client,
                    r.kind,
                    r.method,
                    r.path,
                    f"{r.started - origin:.3f}",
                    f"{r.duration * 1000:.0f}",
                    r.status,
                    r.error,
                ]
            )
    table, totals = request_rows(drill.windows, requests)
    probes, probe_bad = probe_rows(drill.windows, requests)
    n: Tally = counts["notifications"]
    r: Tally = counts["reminders"]
    targets = [
        ("requests answered 5xx or not at all", totals["5xx"] + totals["none"], 0),
        ("requests over 3 s", totals["slow"], 0),
        ("notification e-mails lost", n.lost, 0),
        ("bell entries missing", counts["bell_missing"], 0),
        ("reminders lost", r.lost, 0),
        ("duplicates (same mail again, new Message-ID)", n.duplicates + r.duplicates, 0),
        ("`/healthz` answers other than 200/503, or over 3 s", probe_bad, 0),
    ]
    passed = all(value <= goal for _, value, goal in targets)
    target_rows = [
        "| target | measured | result |",
        "|---|--:|---|",
        *(
            f"| {name}: {goal} | {value} | {'✅ pass' if value <= goal else '❌ fail'} |"
            for name, value, goal in targets
        ),
    ]
    if drill.unplanned:
        exits = [
            "Restarted by the drill a second later, as docker compose's "
            "`restart: unless-stopped` would (its log is in `var/drill/`):",
            "",
            "| phase | service | exit code |",
            "|---|---|--:|",
            *(f"| {phase} | {name} | {code} |" for phase, name, code in drill.unplanned),
        ]
    else:
        exits = ["None: gunicorn, the worker and the beats ran until the drill stopped them."]
    notes = [*drill.notes]
    logins = [r for r in requests if r.kind == "login"]
    if logins:
        notes.append(
            f"Before the phases, the {len(logins) // 2} clients signed in at once (not counted "
            f"above): {sum(failed(r) for r in logins)} failed, slowest "
            f"{max(r.duration for r in logins):.1f} s (password hashing, "
            f"{len(logins) // 2} at a time on {os.cpu_count()} CPUs)."
        )
    notes += saved_despite_error(drill.clients)
    if note := calm_slow_note(drill.windows, requests):
        notes.append(note)
    if n.same_id_resends or r.same_id_resends:
        notes.append(
            f"Resent after the crash with the same Message-ID (mail clients show one): "
            f"{n.same_id_resends} notification e-mails, {r.same_id_resends} reminders."
        )
    if drill.crash_mail is not None:
        notes.append(
            f"The worker was killed when the SMTP server had accepted "
            f"`{drill.crash_mail.subject}` (Message-ID `{drill.crash_mail.message_id}`) "
            "and before the sender heard back."
        )
    if drill.lease_snapshot:
        notes.append(
            f"{len(drill.lease_snapshot)} rows were leased when the worker died; after the "
            f"phases the drill moved {drill.leases_expired} of those leases (still held by the "
            "dead worker) to now, as if their time had run out, instead of waiting for it."
        )
    if n.unexpected or r.unexpected:
        keys = (n.unexpected_keys + r.unexpected_keys)[:5]
        notes.append(f"Mail to people not owed it: {n.unexpected + r.unexpected} (e.g. {keys}).")
    if counts["other_kinds"]:
        notes.append(f"Other notifying events on drill issues: {counts['other_kinds']}.")
    notes.append(
        f"Other mail (not about the drill's issues or meetings): {counts['other_mail']}; "
        f"refused with 451 while refusing: {drill.mail.refused} recipients."
    )
    notes += outbox_state()
    notes += gunicorn_findings()
    notes += worker_findings()
    for window in drill.windows:
        notes += [f"{window.label}: {note}" for note in window.notes]
    if n.lost_keys:
        notes.append(f"First lost notification e-mails (event, recipient): {n.lost_keys[:5]}")
    if r.lost_keys:
        notes.append(f"First lost reminders (meeting, recipient): {r.lost_keys[:5]}")

    o = drill.options
    command = shlex.join(["python", "scripts/drill.py", *sys.argv[1:]])
    load = os.getloadavg()
    doc = [
        INTRO,
        "---",
        "",
        f"Run {drill.started_at:%Y-%m-%d %H:%M %Z}: `make drill` (`{command}`), "
        f"{total_seconds / 60:.1f} min in all, the drain {drain_seconds:.0f} s. "
        f"{len(drill.clients)} clients, {o.think:g} s between a client's actions on average; "
        f"phases: baseline {o.baseline:g} s, each fault {o.fault:g} s and "
        f"{o.recovery:g} s after it, kill {o.kill_window:g} s, two beats {o.beats:g} s; "
        f"{counts['issues']} issues filed, {counts['comments']} comments, "
        f"{len(drill.meetings)} meetings.",
        "",
        "## Targets (issue 8)",
        "",
        *target_rows,
        "",
        "## Services that exited by themselves",
        "",
        *exits,
        "",
        "## Requests",
        "",
        "The clients' requests (pages, filings, comments), by the phase in which they "
        "started or the Redis fault they ran into.",
        "",
        *table,
        "",
        "## Health probe",
        "",
        "`/healthz` once a second. 503 is its answer while a service it checks is down.",
        "",
        *probes,
        "",
        "## What people were owed",
        "",
        *owed_rows(counts),
        "",
        "## Notes",
        "",
        *(f"- {note}" for note in notes),
        "",
        "## Machine",
        "",
        *machine_lines(drill.web.cmd),
        "- load average (1, 5, 15 min) before the drill: "
        + " ".join(f"{v:.2f}" for v in drill.load_before)
        + f"; at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        "",
    ]
    if not o.no_write:
        DOC.parent.mkdir(exist_ok=True)
        DOC.write_text("\n".join(doc).rstrip() + "\n")
        log(f"wrote {DOC.relative_to(BASE_DIR)}")
    summary = ["", *target_rows, "", *exits, "", *table, "", *probes, "", *owed_rows(counts), ""]
    summary += [f"- {note}" for note in notes]
    return summary, passed


# --------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Fault drill of the production configuration (writes docs/reliability.md)."
    )
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (16)")
    parser.add_argument(
        "--think", type=float, default=3.0, help="mean seconds between a client's actions (3)"
    )
    parser.add_argument("--baseline", type=float, default=15, help="baseline seconds (15)")
    parser.add_argument(
        "--fault",
        type=float,
        default=20,
        help="seconds of each fault (20: longer than kombu's ~19 s of publish retries)",
    )
    parser.add_argument("--recovery", type=float, default=10, help="seconds after each fault (10)")
    parser.add_argument(
        "--kill-window", type=float, default=25, help="seconds of the kill -9 phase (25)"
    )
    parser.add_argument(
        "--beats",
        type=float,
        default=62,
        help="seconds with two beats (62: the second beat's first tick comes after a minute)",
    )
    parser.add_argument(
        "--drain-timeout", type=float, default=120, help="longest wait for the outbox (120)"
    )
    parser.add_argument(
        "--slow-smtp",
        type=float,
        default=0.25,
        help="seconds the SMTP server takes per message during the kill phase (0.25)",
    )
    parser.add_argument(
        "--phases",
        default="1,2,3,4,5,6",
        type=lambda text: {int(p) for p in text.split(",") if p.strip()},
        help="which phases to run, e.g. 1 for a calm control run (all: 1,2,3,4,5,6)",
    )
    parser.add_argument("--redis-port", type=int, default=6390, help="the drill's Redis (6390)")
    parser.add_argument(
        "--quick", action="store_true", help="a short trial: every phase cut down, 8 clients"
    )
    parser.add_argument("--no-write", action="store_true", help="do not write docs/reliability.md")
    options = parser.parse_args(argv)
    if options.quick:
        options.clients = min(options.clients, 8)
        options.baseline, options.fault, options.recovery = 6, 8, 6
        options.kill_window, options.beats, options.drain_timeout = 15, 15, 90
    return options


def main(argv: list[str]) -> int:
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    for name in ("psql", "createdb", "redis-server"):
        tool(name)
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    drill = Drill(options)
    try:
        drill.setup()
        drill.meter.start()
        threading.Thread(target=drill.supervise, name="supervisor", daemon=True).start()
        drill.start_clients()
        drill.phases()
        counts, drain_seconds = drill.drain()
        drill.mark("end")
        drill.windows.pop()  # "end" only closes the drain window
        drill.stop_probe.set()
        drill.meter.stop_event.set()
        summary, passed = write_report(drill, counts, drain_seconds, time.monotonic() - started)
    finally:
        drill.stop_everything()
        log("everything the drill started is stopped")
    print("\n".join(summary))
    log(
        f"{'all targets met' if passed else 'targets failed'} "
        f"({(time.monotonic() - started) / 60:.1f} min)"
    )
    return 0 if passed else 1


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit("drill: interrupted")
