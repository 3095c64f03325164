"""Benchmark the production server configuration over loopback: `make bench`.

1. Loads the benchmark data set (`seed_demo --issues 20000 --comments 100000`,
   a top-up, so a second run adds nothing) into its own PostgreSQL database,
   `gwangju_bench`, schedules this and next year's meetings, and VACUUM
   ANALYZEs it (as autovacuum would on a production server).
2. Starts gunicorn exactly as docker compose's `web` service does (the image's
   CMD in the Dockerfile), with production settings, on 127.0.0.1:<free port>.
3. Signs in as the Mayor's office demo user over HTTP and measures each page
   with Debian's `wrk` (scripts/bench.lua carries the session cookie) at 1 and
   at 16 concurrent clients.
4. Prints one table and writes it, each page's throughput as a share of a
   static CSS file's (served by WhiteNoise in the same server: the floor of
   gunicorn + Django), the targets of issues 5 and 10, the machine and a
   profile summary (SQL, templates, other Python per page; cProfile of the
   list, search and dashboard) to docs/benchmarks.md.

Environment:
    BENCH_DURATION  seconds per measurement (default 15)
    BENCH_WARMUP    seconds of warm-up per page (default 3)
    BENCH_QUICK=1   a quick trial: 3 s per measurement, 1 s warm-up
    BENCH_NO_LOAD=1 use gwangju_bench as it is: no migrate, seed or scheduling
                    (another process may be reading it; static files are still collected)
    BENCH_QUERY     the search term for /issues/?q=… (default 민원)
    BENCH_PG        PostgreSQL server (default postgres://postgres@127.0.0.1:5432)
    BENCH_REDIS_URL cache and broker (default redis://127.0.0.1:6379/14)
"""

from __future__ import annotations

import contextlib
import cProfile
import http.cookiejar
import io
import json
import logging
import os
import platform
import pstats
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
LUA_SCRIPT = BASE_DIR / "scripts" / "bench.lua"
DOC = BASE_DIR / "docs" / "benchmarks.md"
VAR_DIR = BASE_DIR / "var" / "bench"

DB_NAME = "gwangju_bench"
PG_SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
ISSUES, COMMENTS = 20_000, 100_000
USERNAME, PASSWORD = "mayor1", "gwangju-demo-2026"
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
NO_LOAD = os.environ.get("BENCH_NO_LOAD", "") not in ("", "0")
DURATION = int(os.environ.get("BENCH_DURATION", "3" if QUICK else "15"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "1" if QUICK else "3"))
QUERY = os.environ.get("BENCH_QUERY", "민원")
# A search term long enough for pg_trgm to extract a trigram, EXPLAINed next to QUERY.
LONG_QUERY = "미세먼지"
# (wrk threads, connections): one client, then sixteen.
LOADS = [(1, 1), (2, 16)]
WRK_TIMEOUT = "10s"
# The baseline: a static file WhiteNoise serves from the same server.
STATIC_LABEL = "static CSS"
STATIC_FILE = "css/app.css"

INTRO = """\
# Benchmarks

How fast Gwangju Hub answers at the city's real data volume, measured by
`make bench` (`scripts/bench.py`, `scripts/bench.lua`). The command loads the
benchmark data set (`seed_demo --issues 20000 --comments 100000`: 24
organizations, ~100 users, two years of meetings) into its own PostgreSQL
database `gwangju_bench`, starts gunicorn exactly as docker compose's `web`
service does, with production settings (`DEBUG=0`, Redis cache), on loopback,
signs in as the Mayor's office user `mayor1` and drives each page with
Debian's `wrk` as a separate process, at 1 and at 16 concurrent clients.
A static CSS file, served by WhiteNoise from the same gunicorn (the floor of
gunicorn + Django: no view, no database), is the baseline: "share of static"
is each page's throughput at 16 clients as a fraction of the static file's in
the same run. Absolute req/s move with the machine and whatever else runs on
it; the share is the figure to compare between runs. The load generator,
gunicorn and PostgreSQL share the same machine, so the figures are a floor,
not a capacity plan.

## What keeps the pages fast

Found with the profile below (and `cProfile` of single requests), in the order
they paid off. None of them caches a page; each removes a cost at its cause.

- **Plans are made once per connection.** The bell's query joins six tables
  and took ~10 ms to *plan* and 1.5 ms to run. psycopg's server-side binding
  with `prepare_threshold` (`gwangju_hub/settings.py`) prepares a statement the
  second time a connection runs it, so PostgreSQL plans it once per connection.
- **No filter that filters nothing.** For the Mayor's office `visible_to` is
  every issue; `IssueQuerySet.visible_through()` (and the meetings' twin) adds
  no `IN (SELECT …)` at all then, instead of one more join to plan.
- **Only what a row shows, as plain values** (`issues.selectors.ListRow`,
  `gwangju_hub/notifications.py` `Line`): a row of the issue list and a line
  of /notifications/ are read as tuples of what they show, not whole issues,
  cooperations, people and organizations; model instances for the template
  are made from those values only when the rendered row is not kept (a fifth
  of each page's Python calls).
- **Prefetch into a list** (`to_attr`): a prefetch into a related manager
  clones a queryset per issue, a quarter of the list's ORM time.
- **Rendered once, kept by content.** A row of the issue list, its filter
  form, an entry of an issue's timeline and a line of /notifications/ are kept
  in each process's memory (`{% cache %}`, cache alias
  `template_fragments`) under a key made of everything they show
  (`ListRow`, `IssueFilterForm.render_key`,
  `issue_tags.timeline_entry_key`, `notifications.Line.key`) and the language:
  such a key cannot go stale, so nothing invalidates it and a dead Redis
  costs it nothing. `tests/issues/test_list_fragments.py` and
  `test_timeline_fragments.py` change each shown value behind the cache's back
  and expect to see it.
- **Menus in one plain query, then kept a minute**: a model choice field's own
  options open a server-side cursor (DECLARE, FETCH, CLOSE), four round trips
  per menu. The organizations and categories are read in one plain query each
  and kept in each process's memory for a minute (`issues.selectors.menu_options`,
  cache alias `local`); a save or delete clears them.
- **The bell in one round trip**: issue notifications and meeting reminders
  are counted together (`UNION ALL` of their ids), one query on every page.
- **The person with their organization**: `agencies.backends.UserBackend`
  loads the signed-in person and the organization the header names in one
  query, one fewer on every signed-in page.
- **Only what the timeline shows** (`issues/selectors.py` `TIMELINE_FIELDS`):
  building and reading the events query with whole rows of people,
  organizations, comments and attachments took twice as long.
- **A two-syllable search reads only the rows that hold it**: pg_trgm has
  no trigram of `민원`, so its count read the table until 1,001 matches
  (~4 ms), and a rare word's page walked all of it (~10 ms). PostgreSQL
  generates every issue's two-character pieces into a GIN-indexed column
  (`issues` migration 0013); the search asks it beside the exact STRPOS
  match, which reads a row a third faster than LIKE. The count of `민원`
  takes ~1.7 ms; a rare word's page, well under one. The column triples the
  issues table's heap (7.7 → 26 MB at 20,000 issues, plus a 4 MB index);
  the uncached dashboard did not slow down (`scripts/bench_dashboard.py`:
  median 59 ms).
- **A search counts without ordering**: the capped count of a two-syllable
  search (`core/pagination.py`) needs no order, and unordered PostgreSQL reads
  the table in its own order and stops at the cap, instead of walking the
  ordering index: half the count's time.
- **Queries of a fixed shape compiled once per process** (`core/compiled.py`):
  building and compiling a small query took several times as long as running
  it, a quarter of a page's Python calls. The session, the signed-in person,
  the bell, the notification page, the issue list's pages and counts and the
  issue page's four queries are built and compiled once per *shape* (the
  list's filters; for the visibility rules, whether the person is active,
  reads everything, is placed in an organization: `User.visibility_shape`)
  with stand-in ids, and run with the real ids put where the stand-ins landed
  among the parameters. One compiled query weighs ~45 KB, so shapes are kept,
  not people, sessions or issues; the rows are read afresh every time.
  Filters that read the clock are built every time. Python calls a request
  (`cProfile`, in-process, the Mayor's office's pages), before → after:
  /notifications/ 24,900 → 14,800; /issues/ 34,700 → 25,400; the search
  35,600 → 25,400; an issue page 39,900 → 25,200.
- **What every page shows alike, rendered once per language**: the masthead,
  the menu of a role on a section of the site, the htmx error messages and
  the session dialog's words (`{% cache %}` in `templates/partials/`); the
  CSRF tokens, the bell and the person's name around them are rendered every
  time. `tests/gwangju_hub/test_site_header.py` walks five kinds of person
  through the sections one after another. (The Python call counts above
  include this.)
- **The dashboard's figures rendered once per computation**: the figures are
  cached as data for a minute; each computation the cache keeps gets a
  version, and each process keeps its rendering of the table, chart and map
  under it (per language, order and input errors; `meetings/figures.py`,
  `dashboard.html`). With the cache down nothing rendered is kept. The cached
  dashboard went from ~32,700 to ~11,900 Python calls a request.
- **A whole page of rows in one lookup**: the page of list rows, the timeline
  and the page of notification lines are each also kept as one fragment, keyed
  on all their rows' keys (`list_rows_key`, `timeline_key`, the notification
  page's `lines_key`); a changed row still comes from its own fragment.
- **Names, not whole rows, around an issue** (`issues/selectors.py`
  `DETAIL_FIELDS`): compiling five people's and organizations' whole rows into
  the issue page's queries was half of their cost.
- **Menus labelled only when rendered**: the filter form is keyed on the
  menus' options themselves; their labels (and 25 organization instances) are
  made only when the kept form is missing (`IssueFilterForm.render_key`).
- **An unbound form's fields rendered once** (`ui.unbound_field_key`,
  `partials/field.html`): a widget renders through three templates; the
  issue page's comment and attachment fields were rendered anew on every
  visit. A bound form, or a field with choices, is rendered every time.
- **The dashboard's figures from indexes** (`issues` migration 0012): covering
  and partial indexes for the open requests per pair of organizations, the
  median days to resolve and the 12-month trend (one `UNION ALL` over two
  index ranges), and its links, map and chart written in Python from query
  strings encoded once (`meetings/templatetags/dashboard.py`).
- **Loaded code frozen out of garbage collection** (`gwangju_hub/wsgi.py`
  `gc.freeze()`): full collections walked Django's ~93,000 long-lived objects,
  ~1 ms a request on average and the slowest requests' 5-80 ms.

Everything below the line is generated; run `make bench` to refresh it
(`BENCH_DURATION=10 make bench` for shorter runs, `BENCH_QUICK=1` for a trial).
"""


def log(message: str) -> None:
    print(f"› {message}", flush=True)


def tool(name: str) -> str:
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else "")
    if not path:
        sys.exit(f"bench: `{name}` not found (apt-get install {name})")
    return path


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a command we built ourselves (no shell)."""
    return subprocess.run(cmd, cwd=BASE_DIR, **kwargs)  # noqa: S603


# --------------------------------------------------------------------------
# Database and production settings
# --------------------------------------------------------------------------


def pg_args() -> list[str]:
    url = urllib.parse.urlsplit(PG_SERVER)
    args = ["-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432)]
    return args + ["-U", url.username or "postgres"]


def ensure_database() -> None:
    found = run(
        [tool("psql"), *pg_args(), "-d", "postgres", "-tAc", "SELECT datname FROM pg_database"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if DB_NAME in found:
        log(f"database {DB_NAME} exists")
    else:
        run([tool("createdb"), *pg_args(), DB_NAME], check=True)
        log(f"created database {DB_NAME}")


def production_env(port: int = 0) -> dict[str, str]:
    """docker compose's app environment, pointed at the local bench database and Redis."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"{PG_SERVER}/{DB_NAME}",
        REDIS_URL=REDIS_URL,
        SECRET_KEY=secrets.token_urlsafe(64),
        DEBUG="0",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        CSRF_TRUSTED_ORIGINS=f"http://127.0.0.1:{port},http://localhost:{port}",
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
        SECURE_HSTS_SECONDS="0",
        VAR_DIR=str(VAR_DIR),
        MEDIA_ROOT=str(VAR_DIR / "media"),
        EMAIL_URL="consolemail://",  # nothing should mail, and nothing may leave the machine
        # As the Dockerfile sets them for every process of the image.
        PYTHONPATH=str(BASE_DIR),
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def manage(env: dict[str, str], *args: str, quiet: bool = False) -> str:
    started = time.monotonic()
    done = run(
        [sys.executable, "manage.py", *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        sys.stdout.write(done.stdout + done.stderr)
        sys.exit(f"bench: `manage.py {' '.join(args)}` failed")
    if not quiet:
        log(f"manage.py {' '.join(args)}: {time.monotonic() - started:.1f}s")
    return done.stdout


def load_data(env: dict[str, str]) -> list[str]:
    """Migrate, top up the data set, schedule meetings; returns notes for the report."""
    notes = []
    manage(env, "migrate", "--noinput")
    output = manage(env, "seed_demo", "--issues", str(ISSUES), "--comments", str(COMMENTS))
    for line in output.splitlines():
        if re.match(r"(Organizations|Users|Demo issues|Meetings|Benchmark data)", line.strip()):
            print(f"    {line.strip()}")
    has_command = run(
        [sys.executable, "manage.py", "help", "schedule_meetings"],
        env=env,
        capture_output=True,
        check=False,
    )
    if has_command.returncode == 0:
        year = datetime.now().year
        for y in (year, year + 1):
            print("    " + manage(env, "schedule_meetings", str(y), quiet=True).splitlines()[-1])
    else:
        notes.append("`schedule_meetings` is not available: meetings were not scheduled.")
        log("schedule_meetings not available yet: skipped")
    vacuum()
    manage(env, "collectstatic", "--noinput", "-v", "0")
    return notes


def vacuum() -> None:
    """VACUUM ANALYZE the data set, as autovacuum does on a production server
    soon after a load. Where autovacuum is off (as on this machine's
    PostgreSQL), a table that was never vacuumed has no visibility map, so no
    query can use an index-only scan: counting the issue list's 20,000 rows
    read the whole table instead of its smallest index."""
    started = time.monotonic()
    run([tool("psql"), *pg_args(), "-q", "-d", DB_NAME, "-c", "VACUUM ANALYZE"], check=True)
    log(f"VACUUM ANALYZE: {time.monotonic() - started:.1f}s")


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------


def compose_web_command(port: int) -> list[str]:
    """The command docker compose's `web` service runs, bound to 127.0.0.1:port.

    The service has no `command:` of its own, so it runs the image's CMD.
    """
    compose = (BASE_DIR / "docker-compose.yml").read_text()
    web = re.search(r"^  web:\n(.*?)(?=^  \S|\Z)", compose, re.M | re.S)
    if web is None or re.search(r"^    command:", web.group(1), re.M):
        sys.exit("bench: docker-compose.yml's web service changed; update compose_web_command()")
    cmd_line = re.search(r"^CMD\s+(\[.*\])\s*$", (BASE_DIR / "Dockerfile").read_text(), re.M)
    if cmd_line is None:
        sys.exit("bench: no exec-form CMD in the Dockerfile")
    cmd = json.loads(cmd_line.group(1))
    if cmd[0] != "gunicorn" or "--bind" not in cmd:
        sys.exit(f"bench: unexpected Dockerfile CMD {cmd}")
    cmd[0] = str(Path(sys.executable).with_name("gunicorn"))
    cmd[cmd.index("--bind") + 1] = f"127.0.0.1:{port}"
    return cmd


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(cmd: list[str], env: dict[str, str], base: str):
    logfile = VAR_DIR / "gunicorn.log"
    log(f"starting {shlex.join(['gunicorn', *cmd[1:]])} (log: {logfile})")
    with logfile.open("w") as out:
        # Its own session: a Ctrl-C reaches us, and we stop it in order.
        server = subprocess.Popen(  # noqa: S603
            cmd, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                sys.exit(f"bench: gunicorn exited ({server.returncode}):\n{logfile.read_text()}")
            with contextlib.suppress(OSError):
                if fetch(base + "/healthz")[0] == 200:
                    break
            if time.monotonic() > deadline:
                sys.exit("bench: /healthz did not answer 200 within 60 s")
            time.sleep(0.3)
        log(f"gunicorn answers on {base} (pid {server.pid})")
        yield server
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        log("gunicorn stopped")


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def fetch(url: str, *, cookie: str = "", opener=None, data: bytes | None = None):
    """(status, body) without following redirects."""
    opener = opener or urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, data=data)  # noqa: S310 (our own loopback server)
    if cookie:
        request.add_header("Cookie", cookie)
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def login(base: str) -> str:
    """Sign in over HTTP like a browser; returns the Cookie header value."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(_NoRedirect, urllib.request.HTTPCookieProcessor(jar))
    status, body = fetch(base + "/accounts/login/", opener=opener)
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    if status != 200 or token is None:
        sys.exit(f"bench: GET /accounts/login/ answered {status} without a CSRF token")
    form = {"username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)}
    status, _ = fetch(
        base + "/accounts/login/", opener=opener, data=urllib.parse.urlencode(form).encode()
    )
    session = next((c.value for c in jar if c.name == "sessionid"), None)
    if status != 302 or not session:
        sys.exit(f"bench: signing in as {USERNAME} failed (HTTP {status})")
    log(f"signed in as {USERNAME}")
    return f"sessionid={session}"


# --------------------------------------------------------------------------
# wrk
# --------------------------------------------------------------------------


@dataclass
class Result:
    page: str
    threads: int
    clients: int
    p50: float = 0
    p95: float = 0
    p99: float = 0
    rps: float = 0
    requests: int = 0
    errors: int = 0
    redirects: int = 0
    kb: float = 0
    note: str = ""
    raw: dict = field(default_factory=dict)


def wrk(url: str, cookie: str, threads: int, clients: int, seconds: int) -> dict:
    cmd = [tool("wrk"), f"-t{threads}", f"-c{clients}", f"-d{seconds}s"]
    cmd += ["--timeout", WRK_TIMEOUT, "-s", str(LUA_SCRIPT), url]
    done = run(cmd, env={**os.environ, "BENCH_COOKIE": cookie}, capture_output=True, text=True)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
    if done.returncode or line is None:
        sys.exit(f"bench: wrk failed:\n{done.stdout}{done.stderr}")
    return json.loads(line.removeprefix("BENCH_JSON "))


def measure(base: str, pages: list[tuple[str, str]], cookie: str) -> list[Result]:
    results = []
    for label, path in pages:
        url = base + path
        status, _ = fetch(url, cookie=cookie)
        if status != 200:
            log(f"{label}: HTTP {status} before the run, not measured")
            for threads, clients in LOADS:
                results.append(Result(label, threads, clients, note=f"HTTP {status}"))
            continue
        # Warm every worker: templates, connections, the page's cache entry.
        wrk(url, cookie, 2, 4, WARMUP)
        for threads, clients in LOADS:
            data = wrk(url, cookie, threads, clients, DURATION)
            result = Result(
                label,
                threads,
                clients,
                p50=data["p50_ms"],
                p95=data["p95_ms"],
                p99=data["p99_ms"],
                rps=data["rps"],
                requests=data["requests"],
                errors=data["errors"],
                redirects=data["redirects"],
                kb=data["bytes_per_response"] / 1024,
                raw=data,
            )
            results.append(result)
            log(
                f"{label:<24} c={clients:<2} p50 {result.p50:7.1f}  p95 {result.p95:7.1f}  "
                f"p99 {result.p99:7.1f} ms  {result.rps:7.1f} req/s  errors {result.errors}"
            )
    return results


def server_errors() -> list[str]:
    """What gunicorn's log says about failed requests: path and exception, with counts."""
    logfile = VAR_DIR / "gunicorn.log"
    if not logfile.exists():
        return []
    counts: dict[str, int] = {}
    path = ""
    for line in logfile.read_text(errors="replace").splitlines():
        if found := re.match(
            r"(?:Internal Server Error|Bad Request|Not Found|Forbidden[^:]*): (\S+)", line
        ):
            path = found.group(1)
        elif path and re.match(r"\w[\w.]*(Error|Exception|NoReverseMatch)\b.*?:", line):
            key = f"`{path}`: {line.strip()[:200]}"
            counts[key] = counts.get(key, 0) + 1
            path = ""
    return [f"server log: {n} × {what}" for what, n in sorted(counts.items(), key=lambda i: -i[1])]


def summary_table(results: list[Result]) -> str:
    """One line a page: req/s at 16 clients, its share of the static file's, p95 at 1 client."""
    by = {(r.page, r.clients): r for r in results}
    static = by.get((STATIC_LABEL, 16))
    lines = [
        "| page | req/s (16 clients) | share of static | p95 ms (1 client) |",
        "|---|--:|--:|--:|",
    ]
    for page in dict.fromkeys(r.page for r in results):
        many, one = by.get((page, 16)), by.get((page, 1))
        rps = f"{many.rps:.0f}" if many and not many.note else "–"
        share = (
            f"{many.rps / static.rps:.3f}"
            if many and not many.note and static and static.rps
            else "–"
        )
        p95 = f"{one.p95:.1f}" if one and not one.note else "–"
        lines.append(f"| `{page}` | {rps} | {share} | {p95} |")
    return "\n".join(lines)


def table(results: list[Result]) -> str:
    baseline = {r.clients: r.rps for r in results if r.page == STATIC_LABEL and r.rps}
    lines = [
        "| page | clients | p50 ms | p95 ms | p99 ms | req/s | errors | ÷ static | KB/resp |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in results:
        if r.note:
            lines.append(f"| `{r.page}` | {r.clients} | – | – | – | – | {r.note} | – | – |")
            continue
        ratio = f"{r.rps / baseline[r.clients]:.3f}" if baseline.get(r.clients) else "–"
        errors = f"{r.errors}" + (f" ({r.redirects} redirects)" if r.redirects else "")
        lines.append(
            f"| `{r.page}` | {r.clients} | {r.p50:.1f} | {r.p95:.1f} | {r.p99:.1f} | "
            f"{r.rps:.1f} | {errors} of {r.requests} | {ratio} | {r.kb:.1f} |"
        )
    return "\n".join(lines)


def targets(results: list[Result], search_label: str, detail_label: str) -> list[str]:
    """Issue 5's targets with pass/fail marks."""
    by = {(r.page, r.clients): r for r in results}

    def mark(ok: bool | None) -> str:
        return "not measured" if ok is None else ("✅ pass" if ok else "❌ fail")

    rows = ["| target | measured | result |", "|---|---|---|"]
    single = [("/dashboard/", 150), ("/issues/", 100), (search_label, 100), (detail_label, 100)]
    for page, limit in single:
        r = by.get((page, 1))
        ok = None if r is None or r.note else r.p95 <= limit
        got = f"{r.p95:.1f} ms" if r and not r.note else (r.note if r else "–")
        rows.append(f"| 1 client: `{page}` p95 ≤ {limit} ms | {got} | {mark(ok)} |")
    sixteen = [r for r in results if r.clients == 16]
    errors = sum(r.errors for r in sixteen)
    failed = [r.page for r in sixteen if r.note]  # did not answer 200 before the run
    got = f"{errors} errors" + (f"; {', '.join(failed)} failed before the run" if failed else "")
    rows.append(f"| 16 clients: no errors | {got} | {mark(not errors and not failed)} |")
    dash, health = by.get(("/dashboard/", 16)), by.get(("/healthz", 16))
    goal = "16 clients: `/dashboard/` throughput ≥ 0.25 × `/healthz`"
    if dash and health and not dash.note and health.rps:
        ratio = dash.rps / health.rps
        rows.append(
            f"| {goal} | {ratio:.2f} × "
            f"({dash.rps:.0f} vs {health.rps:.0f} req/s) | {mark(ratio >= 0.25)} |"
        )
    else:
        rows.append(f"| {goal} | – | {mark(None)} |")
    return rows


# Issue 10: at 16 clients, a page's req/s as a share of the static file's in the same run.
SHARE_TARGETS = {"/notifications/": 0.066, "/issues/": 0.036, "search": 0.025, "detail": 0.042}
P95_TARGET_MS = 25


def share_targets(results: list[Result], search_label: str, detail_label: str) -> list[str]:
    """Issue 10's targets with pass/fail marks."""
    by = {(r.page, r.clients): r for r in results}
    static = by.get((STATIC_LABEL, 16))
    names = {"search": search_label, "detail": detail_label}
    rows = ["| target | measured | result |", "|---|---|---|"]
    for key, goal in SHARE_TARGETS.items():
        page = names.get(key, key)
        r = by.get((page, 16))
        if r is None or r.note or static is None or not static.rps:
            rows.append(f"| 16 clients: `{page}` ≥ {goal} × static | – | not measured |")
            continue
        share = r.rps / static.rps
        mark = "✅ pass" if share >= goal else "❌ fail"
        rows.append(
            f"| 16 clients: `{page}` ≥ {goal} × static | {share:.3f} "
            f"({r.rps:.0f} vs {static.rps:.0f} req/s) | {mark} |"
        )
    for page in ("/issues/", search_label, detail_label):
        r = by.get((page, 1))
        if r is None or r.note:
            rows.append(f"| 1 client: `{page}` p95 ≤ {P95_TARGET_MS} ms | – | not measured |")
            continue
        mark = "✅ pass" if r.p95 <= P95_TARGET_MS else "❌ fail"
        rows.append(f"| 1 client: `{page}` p95 ≤ {P95_TARGET_MS} ms | {r.p95:.1f} ms | {mark} |")
    return rows


# --------------------------------------------------------------------------
# In-process: data set, machine, profile, EXPLAIN
# --------------------------------------------------------------------------


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gwangju_hub.settings")
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()


def busy_issue() -> tuple[int, int, int]:
    """An issue with several cooperations and the most comments: (pk, comments, cooperations)."""
    from django.db.models import Count

    from issues.models import Issue

    return (
        Issue.objects.annotate(
            n_comments=Count("comments", distinct=True),
            n_coops=Count("cooperations", distinct=True),
        )
        .filter(n_coops__gte=3)
        .order_by("-n_comments", "pk")
        .values_list("pk", "n_comments", "n_coops")
        .first()
    )


def dataset() -> dict[str, int]:
    from django.apps import apps

    counts = {}
    for name, model in [
        ("issues", "issues.Issue"),
        ("comments", "issues.Comment"),
        ("cooperations", "issues.Cooperation"),
        ("events", "issues.Event"),
        ("users", "agencies.User"),
        ("organizations", "agencies.Agency"),
        ("meetings", "meetings.Meeting"),
    ]:
        with contextlib.suppress(LookupError):
            counts[name] = apps.get_model(model).objects.count()
    return counts


def machine(cmd: list[str]) -> list[str]:
    from django.db import connection

    cpuinfo = Path("/proc/cpuinfo").read_text()
    cpu = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    meminfo = Path("/proc/meminfo").read_text()
    mem_kb = int(re.search(r"^MemTotal:\s+(\d+)", meminfo, re.M).group(1))
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0]
    gunicorn_version = run(
        [cmd[0], "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    wrk_version = run([tool("wrk"), "-v"], capture_output=True, text=True, check=False)
    wrk_line = (wrk_version.stdout or wrk_version.stderr).splitlines()[0].split(" Copyright")[0]
    workers = cmd[cmd.index("--workers") + 1] if "--workers" in cmd else "1 (default)"
    load = os.getloadavg()
    return [
        f"- CPU: {cpu.group(1) if cpu else platform.processor()}, "
        f"{os.cpu_count()} logical CPUs (nproc {len(os.sched_getaffinity(0))})",
        f"- memory: {mem_kb / 1024 / 1024:.1f} GiB; kernel: Linux {platform.release()}",
        f"- PostgreSQL {pg_version}; Python {platform.python_version()}; {gunicorn_version}; "
        f"{wrk_line}",
        f"- server: `{shlex.join(['gunicorn', *cmd[1:]])}` ({workers} sync workers, as the "
        "Dockerfile's CMD that docker compose's `web` service runs), `DEBUG=0`, Redis cache",
        f"- load average before the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
        "(other work on the machine shares the CPUs)",
    ]


class Timers:
    """Wall time spent in SQL and in template rendering during one request."""

    def __init__(self) -> None:
        self.sql = 0.0
        self.sql_in_templates = 0.0
        self.queries = 0
        self.templates = 0.0
        self.depth = 0
        self.statements: list[tuple[str, tuple]] = []
        self.durations: list[float] = []

    def execute(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - started
            self.sql += elapsed
            self.queries += 1
            self.statements.append((sql, params))
            self.durations.append(elapsed)
            if self.depth:
                self.sql_in_templates += elapsed

    @contextlib.contextmanager
    def installed(self):
        from django.db import connection
        from django.template.base import Template

        original = Template.render
        timers = self

        def render(template, context):
            timers.depth += 1
            started = time.perf_counter()
            try:
                return original(template, context)
            finally:
                timers.depth -= 1
                if not timers.depth:
                    timers.templates += time.perf_counter() - started

        Template.render = render
        try:
            with connection.execute_wrapper(self.execute):
                yield self
        finally:
            Template.render = original


def _short(filename: str, lineno: int, name: str) -> str:
    where = f"{filename}:{lineno}({name})"
    return re.sub(r".*/site-packages/", "", where.replace(str(BASE_DIR) + "/", ""))


def top_entries(profile: cProfile.Profile, limit: int = 12) -> list[str]:
    """Our own code by cumulative time, then everything by time spent in the function itself."""
    stats = pstats.Stats(profile, stream=io.StringIO()).stats
    rows = [
        (filename, lineno, name, calls, own, cumulative)
        for (filename, lineno, name), (_, calls, own, cumulative, _) in stats.items()
    ]
    ours = [
        r
        for r in rows
        if r[0].startswith(str(BASE_DIR) + "/")
        and "/.venv/" not in r[0]
        and not r[0].endswith("scripts/bench.py")
    ]
    ours.sort(key=lambda r: r[5], reverse=True)
    rows.sort(key=lambda r: r[4], reverse=True)
    lines = ["cumulative ms   calls  project code, by cumulative time"]
    lines += [f"{r[5] * 1000:13.1f} {r[3]:>7}  {_short(*r[:3])}" for r in ours[:limit]]
    lines += ["", "   own ms       calls  any code, by time in the function itself"]
    lines += [f"{r[4] * 1000:13.1f} {r[3]:>7}  {_short(*r[:3])}" for r in rows[:8]]
    return lines


@dataclass
class Split:
    """One uncached request: wall time, SQL, templates, the rest."""

    url: str
    status: int
    wall: float = 0
    timers: Timers | None = None

    def slowest(self, n: int = 3) -> list[str]:
        t = self.timers
        ranked = sorted(zip(t.durations, t.statements, strict=True), key=lambda r: -r[0])
        return [
            f"{elapsed * 1000:13.1f}          {' '.join(sql.split())[:150]}…"
            for elapsed, (sql, _) in ranked[:n]
        ]

    def row(self, label: str) -> str:
        t = self.timers
        if t is None:
            return f"| `{label}` | HTTP {self.status} | – | – | – |"
        templates = t.templates - t.sql_in_templates
        python = self.wall - t.sql - templates
        return (
            f"| `{label}` | {self.wall * 1000:.0f} | {t.sql * 1000:.0f} ({t.queries} queries, "
            f"{t.sql_in_templates * 1000:.0f} of it from templates) | {templates * 1000:.0f} | "
            f"{python * 1000:.0f} |"
        )


def split_request(client, url: str, *, cached: bool = False) -> Split:
    """Time one request (uncached unless asked): SQL, template rendering, other Python."""
    from django.core.cache import cache

    status = client.get(url).status_code  # warm imports, template loaders, connections
    if status != 200:
        return Split(url, status)
    if not cached:
        cache.clear()
    started = time.perf_counter()
    with Timers().installed() as timers:
        status = client.get(url).status_code
    return Split(url, status, time.perf_counter() - started, timers)


def python_calls(client, url: str, n: int = 5) -> int:
    """Python function calls of one warm request (the median of ``n``): unlike
    time, the same whatever else the machine is doing, so a change that saves
    work shows even in a noisy run."""
    client.get(url)
    counts = []
    for _ in range(n):
        profile = cProfile.Profile()
        profile.enable()
        client.get(url)
        profile.disable()
        counts.append(sum(total for _, total, *_ in pstats.Stats(profile).stats.values()))
    return sorted(counts)[n // 2]


def profile_request(client, url: str) -> list[str]:
    from django.core.cache import cache

    cache.clear()
    profile = cProfile.Profile()
    profile.enable()
    client.get(url)
    profile.disable()
    return top_entries(profile)


def _plan(sql: str, params, settings: str = "") -> list[str]:
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        for setting in filter(None, settings.split(";")):
            cursor.execute(f"SET LOCAL {setting}")
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)  # the page's own SQL
        return [row[0] for row in cursor.fetchall()]


def _scans(plan: list[str]) -> str:
    found = re.findall(
        r"((?:Parallel )?(?:Seq|Index|Index Only|Bitmap Index) Scan (?:on|using) \S+)",
        "\n".join(plan),
    )
    return ", ".join(dict.fromkeys(found))


def _ms(plan: list[str]) -> str:
    found = re.search(r"Execution Time: ([\d.]+) ms", "\n".join(plan))
    return found.group(1) if found else "?"


def explain(client, q: str) -> tuple[list[str], bool]:
    """EXPLAIN ANALYZE the issue queries the search page runs for q; (lines, trigram used)."""
    path = "/issues/?" + urllib.parse.urlencode({"q": q})
    client.get(path)
    with Timers().installed() as timers:
        client.get(path)
    lines, used_any = [], False
    for sql, params in timers.statements:
        if "issues_issue" not in sql or not any(q in str(p) for p in params or ()):
            continue  # not the search's count or page
        plan = _plan(sql, params)
        used = "_trgm_idx" in "\n".join(plan)
        used_any |= used
        kind = "COUNT(*)" if re.match(r"\s*SELECT COUNT\(\*\)", sql) else "page of 25 rows"
        lines.append(
            f"- `q={q}`, {kind}: {_ms(plan)} ms, trigram index "
            f"{'**used**' if used else '**not used**'} ({_scans(plan)})"
        )
        if not used and "Seq Scan" in "\n".join(plan):
            # What the GIN indexes would give, had the planner picked them.
            forced = _plan(sql, params, "enable_seqscan = off; jit = off")
            lines.append(f"  - with `enable_seqscan = off`: {_ms(forced)} ms ({_scans(forced)})")
        lines += [
            "",
            "  <details><summary>plan</summary>",
            "",
            "  ```",
            *(f"  {line}" for line in plan),
            "  ```",
            "",
            "  </details>",
            "",
        ]
    return lines, used_any


def profile_section(pages: list[tuple[str, str]]) -> list[str]:
    from django.db import connections
    from django.test import Client

    from agencies.models import User

    # A page that fails is reported, not raised; its traceback is in gunicorn's log already.
    client = Client(HTTP_HOST="127.0.0.1", raise_request_exception=False)
    logging.getLogger("django.request").setLevel(logging.CRITICAL)
    client.force_login(User.objects.get(username=USERNAME))
    splits = [
        (label, split_request(client, path))
        for label, path in pages
        if path != "/healthz" and label != STATIC_LABEL
    ]
    # What most requests of the run were: the dashboard's figures come from the cache.
    splits.insert(2, ("/dashboard/ (cached)", split_request(client, "/dashboard/", cached=True)))
    lines = [
        "## Where the time goes",
        "",
        "One uncached request per page (the cache cleared first; the dashboard also "
        "as it is served from its 60-second cache), in-process: Django's test "
        "client with the same settings and database, SQL and template time measured by "
        "wrapping the database cursor and `Template.render`. All times in ms.",
        "",
        "| page | wall | SQL | templates (without their SQL) | other Python |",
        "|---|--:|--:|--:|--:|",
        *(split.row(label) for label, split in splits),
        "",
        "Python function calls of one warm request (cProfile, the median of 5; the "
        "page as most requests of the run found it: kept fragments, compiled queries, "
        "cached figures). Unlike times, these do not change with the machine's load.",
        "",
        "| page | Python calls |",
        "|---|--:|",
        *(
            f"| `{label}` | {python_calls(client, path):,} |"
            for label, path in pages
            if path != "/healthz" and label != STATIC_LABEL
        ),
        "",
    ]
    for label, split in splits:
        profiled = label in ("/dashboard/", "/issues/", f"/issues/?q={QUERY}")
        if profiled and split.timers is not None:
            lines += [
                f"### cProfile of `{label}` (uncached; cProfile roughly doubles Python's time)",
                "",
                "```",
                *profile_request(client, split.url),
                "",
                "      SQL ms           slowest statements (without cProfile)",
                *split.slowest(),
                "```",
                "",
            ]
    lines += [
        "### The search query",
        "",
        "EXPLAIN (ANALYZE, BUFFERS) of the queries the search page runs, for the "
        f"benchmark's term and a longer one. pg_trgm extracts no trigram from a LIKE pattern "
        f"shorter than three characters, so the GIN indexes cannot narrow a two-syllable "
        f"Korean word such as `{QUERY}`. Such a word is matched with STRPOS (a third "
        f"faster a row than LIKE) and narrowed by the GIN index of every issue's "
        f"two-character pieces (`issues` migration 0013, `issue_search_bigrams_idx`); "
        f"a longer one is a LIKE the trigram indexes serve.",
        "",
    ]
    for q in dict.fromkeys([QUERY, LONG_QUERY]):
        lines += explain(client, q)[0]
    connections.close_all()
    return lines


# --------------------------------------------------------------------------


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    for name in ("psql", "createdb", "wrk"):
        tool(name)
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    started_at = datetime.now().astimezone()
    port = free_port()
    env = production_env(port)
    ensure_database()
    if NO_LOAD:
        log("BENCH_NO_LOAD: the database as it is")
        manage(env, "collectstatic", "--noinput", "-v", "0")
        notes = ["`BENCH_NO_LOAD=1`: the data set was not migrated or topped up."]
    else:
        notes = load_data(env)

    setup_django(env)
    from django.core.cache import cache
    from django.db import connections

    cache.clear()  # the bench Redis database: no figures from an earlier run
    pk, n_comments, n_coops = busy_issue()
    search_path = "/issues/?" + urllib.parse.urlencode({"q": QUERY})
    search_label = f"/issues/?q={QUERY}"
    detail_label = f"/issues/{pk}/"
    from django.contrib.staticfiles.storage import staticfiles_storage

    pages = [
        (STATIC_LABEL, staticfiles_storage.url(STATIC_FILE)),
        ("/healthz", "/healthz"),
        ("/notifications/", "/notifications/"),
        ("/dashboard/", "/dashboard/"),
        ("/issues/", "/issues/"),
        (search_label, search_path),
        (detail_label, f"/issues/{pk}/"),
    ]
    counts = dataset()
    cmd = compose_web_command(port)
    about = machine(cmd)
    connections.close_all()

    base = f"http://127.0.0.1:{port}"
    with gunicorn(cmd, env, base):
        cookie = login(base)
        log(f"measuring {len(pages)} pages × {len(LOADS)} loads, {DURATION}s each")
        results = measure(base, pages, cookie)

    load_after = os.getloadavg()
    notes += server_errors()
    log("profiling in-process")
    profile = profile_section(pages)

    summary = table(results)
    shares = summary_table(results)
    print()
    print(shares)
    print()
    print(summary)
    print()
    goal_rows = share_targets(results, search_label, detail_label)
    goal_rows += ["", *targets(results, search_label, detail_label)]
    print("\n".join(goal_rows))
    data = ", ".join(f"{n:,} {name}" for name, n in counts.items())
    doc = [
        INTRO,
        "---",
        "",
        f"Run {started_at:%Y-%m-%d %H:%M %Z} — {DURATION} s per measurement after a "
        f"{WARMUP} s warm-up, `wrk -t1 -c1` and `wrk -t2 -c16`, `--timeout {WRK_TIMEOUT}`.",
        "",
        f"Data set: {data}. Detail page: issue {pk} ({n_comments} comments, "
        f"{n_coops} cooperating organizations). Search term: `{QUERY}`.",
        "",
        "## Results",
        "",
        shares,
        "",
        "All measurements:",
        "",
        summary,
        "",
        "Errors are socket errors, timeouts and responses other than 2xx/3xx. "
        "KB/resp (average response size, headers included) shows a page that changed "
        "under the run.",
        "",
        "## Targets (issues 10 and 5)",
        "",
        *goal_rows,
        "",
        "## Machine",
        "",
        *about,
        f"- load average right after the measurements: {load_after[0]:.2f} {load_after[1]:.2f} "
        f"{load_after[2]:.2f}",
        "",
    ]
    if notes:
        doc += ["## Notes", "", *(f"- {n}" for n in notes), ""]
    doc += profile
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text("\n".join(doc).rstrip() + "\n")
    log(f"wrote {DOC.relative_to(BASE_DIR)}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("bench: interrupted")
