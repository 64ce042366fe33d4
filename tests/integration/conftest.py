"""Fixtures for nanocl's integration tests: real `nanocld` and `nanocl` binaries.

Run with Debian's python: `/usr/bin/python3 -m pytest -q tests/integration`.

At import time the pytest process moves into a fresh network namespace (unless
NANOCL_TEST_NO_NETNS is set), so daemons started by the tests, and their TCP ports,
never touch the host's interfaces.  Every daemon gets its own state, run and config
directories under pytest's tmp dir and its own unix socket.
"""

import ctypes
import http.client
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(os.environ.get("NANOCL_BUILD_DIR", REPO / "build"))
CLONE_NEWNET = 0x40000000
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
CLI_TIMEOUT = 30.0

# --------------------------------------------------------------------------- netns

_NETNS_ERROR = None


def _enter_netns():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        return f"unshare(CLONE_NEWNET) failed: {os.strerror(err)} (run as root, " \
               f"or set NANOCL_TEST_NO_NETNS=1)"
    r = subprocess.run(["ip", "link", "set", "lo", "up"], capture_output=True, text=True)
    if r.returncode != 0:
        return f"'ip link set lo up' failed in the new netns: {r.stderr.strip()}"
    return None


if not os.environ.get("NANOCL_TEST_NO_NETNS"):
    _NETNS_ERROR = _enter_netns()

# --------------------------------------------------------------------------- binaries


def _find_binary(name):
    if not BUILD_DIR.is_dir():
        return None
    found = sorted(p for p in BUILD_DIR.rglob(name)
                   if p.is_file() and os.access(p, os.X_OK))
    # prefer the shortest path (build/src/nanocld/nanocld over a copy in a subdir)
    found.sort(key=lambda p: len(p.parts))
    return found[0] if found else None


NANOCLD = _find_binary("nanocld")
NANOCL = _find_binary("nanocl")


def pytest_collection_modifyitems(config, items):
    reason = None
    if _NETNS_ERROR:
        reason = _NETNS_ERROR
    elif NANOCLD is None or NANOCL is None:
        missing = [n for n, p in (("nanocld", NANOCLD), ("nanocl", NANOCL)) if p is None]
        reason = (f"{' and '.join(missing)} not built under {BUILD_DIR} "
                  f"(run 'make build' or set NANOCL_BUILD_DIR)")
    if reason:
        mark = pytest.mark.skip(reason=reason)
        for item in items:
            item.add_marker(mark)


# --------------------------------------------------------------------------- HTTP


def unix_connect(path, timeout=30.0, retry_eagain=True):
    """A connected AF_UNIX socket.  With a timeout, connect() is non-blocking and a full
    listen backlog answers EAGAIN; unless told otherwise, wait for room (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(str(path))
            return s
        except BlockingIOError:
            s.close()
            if not retry_eagain or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
        except OSError:
            s.close()
            raise


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over an AF_UNIX stream socket."""

    def __init__(self, path, timeout=30.0, retry_eagain=True):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = str(path)
        self.retry_eagain = retry_eagain

    def connect(self):
        self.sock = unix_connect(self.unix_path, self.timeout, self.retry_eagain)


def connection_for(host, timeout=30.0, retry_eagain=True):
    """An HTTPConnection for a nanocl host URL (unix:///path or tcp://host:port)."""
    if host.startswith("unix://"):
        return UnixHTTPConnection(host[len("unix://"):], timeout=timeout,
                                  retry_eagain=retry_eagain)
    if host.startswith("tcp://"):
        hostport = host[len("tcp://"):]
        h, _, p = hostport.rpartition(":")
        return http.client.HTTPConnection(h, int(p), timeout=timeout)
    raise ValueError(f"unsupported host URL {host!r}")


def raw_socket_for(host, timeout=30.0):
    """A connected raw socket for a host URL, for hand-written requests."""
    if host.startswith("unix://"):
        return unix_connect(host[len("unix://"):], timeout)
    h, _, p = host[len("tcp://"):].rpartition(":")
    return socket.create_connection((h, int(p)), timeout=timeout)


def decode_body(headers, data):
    """JSON when the body parses as JSON, text otherwise, None when empty."""
    if not data:
        return None
    ctype = headers.get("content-type", "")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    if "json" in ctype or text[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def read_response(resp):
    data = resp.read()
    headers = {k.lower(): v for k, v in resp.getheaders()}
    return resp.status, headers, decode_body(headers, data)


def http_request(host, method, path, body=None, raw_body=None, headers=None,
                 conn=None, timeout=30.0):
    """One request; returns (status, headers with lower-case keys, parsed body)."""
    hdrs = dict(headers or {})
    payload = None
    if raw_body is not None:
        payload = raw_body if isinstance(raw_body, bytes) else raw_body.encode()
    elif body is not None:
        payload = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    own = conn is None
    c = conn or connection_for(host, timeout=timeout)
    try:
        c.request(method, path, body=payload, headers=hdrs)
        return read_response(c.getresponse())
    finally:
        if own:
            c.close()


def free_tcp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ping(host, timeout=2.0):
    try:
        status, _, body = http_request(host, "GET", "/_ping", timeout=timeout)
        return status == 200
    except (OSError, http.client.HTTPException):
        return False


def clean_env(**extra):
    """The environment without any NANOCL_* variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NANOCL_")}
    env.update({k: str(v) for k, v in extra.items() if v is not None})
    return env


def run_cli(host, *args, check=None, env=None, input=None):
    """Runs `nanocl [-H host] args…`; `check` is the expected exit status, if given."""
    argv = [str(NANOCL)]
    if host is not None:
        argv += ["-H", host]
    argv += [str(a) for a in args]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=CLI_TIMEOUT,
                       env=env if env is not None else clean_env(), input=input)
    if check is not None:
        assert r.returncode == check, (
            f"{' '.join(argv[1:])}: exit {r.returncode}, expected {check}\n"
            f"stdout: {r.stdout!r}\nstderr: {r.stderr!r}")
    return r


def run_nanocld(*args, env=None, timeout=15.0):
    """Runs nanocld to its end (for runs that must exit by themselves); a run still going
    after `timeout` is killed and the test fails."""
    argv = [str(NANOCLD)] + [str(a) for a in args]
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env=env if env is not None else clean_env(),
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{' '.join(argv)} still ran after {timeout}s (killed); "
                    f"stderr: {e.stderr!r}")


# --------------------------------------------------------------------------- daemon

_CURRENT_TEST = {"nodeid": None}
_ALL_DAEMONS = []


class Daemon:
    """A real nanocld with its own state, run and config dirs under `base`.

    hosts: extra --host URLs besides the default unix socket.
    via_env: pass the dirs, log level and extra hosts through NANOCL_* variables
             instead of options (to test the environment fallbacks).
    env: more environment variables for nanocld.
    """

    def __init__(self, base, hosts=(), extra_args=(), via_env=False, log_level="debug",
                 env=None, start=True):
        self.base = Path(base)
        self.state_dir = self.base / "state"
        self.run_dir = self.base / "run"
        self.config_dir = self.base / "config"
        for d in (self.state_dir, self.run_dir, self.config_dir):
            d.mkdir(parents=True, exist_ok=True)
        self.sock = self.run_dir / "nanocl.sock"
        self.host = f"unix://{self.sock}"
        self.pid_file = self.run_dir / "nanocld.pid"
        self.db = self.state_dir / "state.db"
        self.extra_hosts = list(hosts)
        self.extra_args = [str(a) for a in extra_args]
        self.via_env = via_env
        self.env = dict(env or {})
        self.log_level = log_level
        self.log_path = self.base / "nanocld.log"
        self.proc = None
        self.starts = 0
        self.tests = set()
        _ALL_DAEMONS.append(self)
        if start:
            self.start()

    # -- process control
    def argv_env(self):
        argv = [str(NANOCLD)]
        env = clean_env()
        hosts = [self.host] + self.extra_hosts
        if self.via_env:
            env.update(NANOCL_STATE_DIR=str(self.state_dir), NANOCL_RUN_DIR=str(self.run_dir),
                       NANOCL_CONFIG_DIR=str(self.config_dir),
                       NANOCL_LOG_LEVEL=self.log_level)
            if self.extra_hosts:
                env["NANOCL_HOST"] = ",".join(hosts)
        else:
            for h in hosts:
                argv += ["--host", h]
            argv += ["--state-dir", str(self.state_dir), "--run-dir", str(self.run_dir),
                     "--config-dir", str(self.config_dir), "--log-level", self.log_level]
        env.update({k: str(v) for k, v in self.env.items()})
        return argv + self.extra_args, env

    def start(self, timeout=START_TIMEOUT):
        assert not self.running(), "daemon already running"
        self._touch()
        argv, env = self.argv_env()
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"==== start #{self.starts}: {' '.join(argv)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log, env=env,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"nanocld exited with {self.proc.returncode} while starting:\n{self.log()}")
            if ping(self.host):
                return self
            time.sleep(0.05)
        self.kill9()
        raise AssertionError(f"nanocld did not answer /_ping within {timeout}s:\n{self.log()}")

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Sends `sig` and waits; returns the exit status (None if still running)."""
        self._touch()
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return None
        return self.proc.returncode

    def kill9(self):
        if self.running():
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()

    def restart(self, timeout=START_TIMEOUT):
        if self.running():
            code = self.stop()
            assert code == 0, f"nanocld exited with {code} on SIGTERM:\n{self.log()}"
        return self.start(timeout=timeout)

    def teardown(self):
        if not self.running():
            return
        code = self.stop()
        if code is None:
            self.kill9()
            print(f"\nnanocld ({self.base}) ignored SIGTERM for {STOP_TIMEOUT}s, "
                  f"killed -9; log:\n{self.log()}")
        elif code != 0:
            print(f"\nnanocld ({self.base}) exited with {code} on SIGTERM; log:\n{self.log()}")

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- clients
    def request(self, method, path, body=None, raw_body=None, headers=None, host=None,
                conn=None):
        self._touch()
        return http_request(host or self.host, method, path, body=body, raw_body=raw_body,
                            headers=headers, conn=conn)

    def cli(self, *args, check=None, env=None, input=None):
        self._touch()
        return run_cli(self.host, *args, check=check, env=env, input=input)

    def _touch(self):
        if _CURRENT_TEST["nodeid"]:
            self.tests.add(_CURRENT_TEST["nodeid"])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _CURRENT_TEST["nodeid"] = item.nodeid
    yield
    _CURRENT_TEST["nodeid"] = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.when in ("call", "setup"):
        for d in _ALL_DAEMONS:
            if item.nodeid in d.tests:
                tail = "\n".join(d.log().splitlines()[-150:])
                report.sections.append((f"nanocld log ({d.base})", tail))


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    """One nanocld per test module."""
    d = Daemon(tmp_path_factory.mktemp("daemon"))
    yield d
    d.teardown()


@pytest.fixture
def daemon_factory(tmp_path_factory):
    """make(**kwargs) -> a new Daemon (see Daemon's arguments); all torn down after."""
    made = []

    def make(**kwargs):
        d = Daemon(tmp_path_factory.mktemp("daemon"), **kwargs)
        made.append(d)
        return d

    yield make
    for d in made:
        d.teardown()


@pytest.fixture
def tmp_dirs(tmp_path):
    """Fresh state/run/config dirs for tests that run nanocld by hand."""
    dirs = {k: tmp_path / k for k in ("state", "run", "config")}
    for d in dirs.values():
        d.mkdir()
    return dirs


def check_error(status, body, expected_status, kind, *mentions):
    """An API error: exact status, JSON body with a non-empty 'error' and the right 'kind',
    and a message naming each of `mentions`."""
    assert status == expected_status, f"status {status}, expected {expected_status}: {body!r}"
    assert isinstance(body, dict), f"error body is not a JSON object: {body!r}"
    assert isinstance(body.get("error"), str) and body["error"].strip(), body
    assert body.get("kind") == kind, f"kind {body.get('kind')!r}, expected {kind!r}: {body}"
    for m in mentions:
        assert m in body["error"], f"error message does not name {m!r}: {body['error']!r}"
