"""nanocld as a process: locking, sockets, signals, options, environment, logs
(docs/cli.md, section nanocld)."""

import hashlib
import re
import signal
import socket
import stat

import pytest

from conftest import (clean_env, free_tcp_port, http_request, ping, raw_socket_for,
                      run_cli, run_nanocld)


def snapshot(*dirs):
    """Every entry under `dirs`: type, size, mtime and, for regular files, a hash."""
    snap = {}
    for d in dirs:
        for p in sorted(d.rglob("*")):
            st = p.lstat()
            digest = None
            if stat.S_ISREG(st.st_mode):
                digest = hashlib.sha256(p.read_bytes()).hexdigest()
            snap[str(p)] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns, digest)
    return snap


def dir_args(state, run, config, host=None):
    host = host or f"unix://{run}/nanocl.sock"
    return ["--host", host, "--state-dir", state, "--run-dir", run, "--config-dir", config,
            "--log-level", "debug"]


def assert_still_serving(d):
    assert d.running(), "the first daemon died"
    assert ping(d.host), "the first daemon stopped answering"
    assert stat.S_ISSOCK(d.sock.lstat().st_mode)
    assert d.pid_file.read_text().strip() == str(d.pid)
    status, _, body = d.request("GET", "/v1/namespaces/keep-me")
    assert status == 200, body


# ------------------------------------------------------------------ one daemon per state dir

def test_second_daemon_same_state_dir_refused(daemon_factory, tmp_path):
    d1 = daemon_factory()
    assert d1.request("POST", "/v1/namespaces", {"name": "keep-me"})[0] == 201
    before = snapshot(d1.state_dir, d1.run_dir)
    run2, conf2 = tmp_path / "run2", tmp_path / "conf2"
    run2.mkdir()
    conf2.mkdir()
    r = run_nanocld(*dir_args(d1.state_dir, run2, conf2))
    assert r.returncode == 1, r.stderr
    assert str(d1.state_dir) in r.stderr, f"message does not name the state dir: {r.stderr!r}"
    assert snapshot(d1.state_dir, d1.run_dir) == before, "the second daemon touched files"
    assert list(run2.iterdir()) == [], "the refused daemon left files in its run dir"
    assert_still_serving(d1)


def test_same_command_twice_refused_and_harmless(daemon_factory):
    d1 = daemon_factory()
    assert d1.request("POST", "/v1/namespaces", {"name": "keep-me"})[0] == 201
    before = snapshot(d1.state_dir, d1.run_dir)
    argv, env = d1.argv_env()
    r = run_nanocld(*argv[1:], env=env)
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip(), "the refused daemon must say why"
    assert snapshot(d1.state_dir, d1.run_dir) == before
    assert_still_serving(d1)


def test_second_daemon_same_socket_refused(daemon_factory, tmp_path):
    d1 = daemon_factory()
    assert d1.request("POST", "/v1/namespaces", {"name": "keep-me"})[0] == 201
    dirs = [tmp_path / n for n in ("state2", "run2", "conf2")]
    for p in dirs:
        p.mkdir()
    before = snapshot(d1.state_dir, d1.run_dir)
    r = run_nanocld(*dir_args(*dirs, host=d1.host))
    assert r.returncode == 1, r.stderr
    assert str(d1.sock) in r.stderr, f"message does not name the socket: {r.stderr!r}"
    assert snapshot(d1.state_dir, d1.run_dir) == before
    assert not (dirs[1] / "nanocld.pid").exists()
    assert_still_serving(d1)


# ------------------------------------------------------------------ stale files

def test_stale_socket_file_replaced(daemon_factory):
    d = daemon_factory(start=False)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(d.sock))  # a socket inode nobody listens on
    s.close()
    d.start()
    assert stat.S_ISSOCK(d.sock.lstat().st_mode)
    assert d.request("GET", "/v1/namespaces/global")[0] == 200


def test_regular_file_at_socket_path_is_kept(daemon_factory):
    # docs/cli.md only promises to replace a stale *socket*; a regular file there may be
    # someone's data: nanocld refuses, names the path, and leaves the file alone.
    d = daemon_factory(start=False)
    d.sock.write_text("not a socket\n")
    argv, env = d.argv_env()
    r = run_nanocld(*argv[1:], env=env)
    assert r.returncode == 1, r.stderr
    assert str(d.sock) in r.stderr, r.stderr
    assert d.sock.read_text() == "not a socket\n"
    assert not d.pid_file.exists()


def test_restart_after_kill9(daemon_factory):
    d = daemon_factory()
    assert d.request("POST", "/v1/namespaces", {"name": "survivor"})[0] == 201
    old_pid = d.pid
    d.kill9()
    d.start()  # stale socket, pid file and lock file from the killed daemon
    assert d.pid != old_pid
    assert d.pid_file.read_text().strip() == str(d.pid)
    assert d.request("GET", "/v1/namespaces/survivor")[0] == 200


# ------------------------------------------------------------------ signals

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_signal_clean_shutdown(daemon_factory, sig):
    d = daemon_factory()
    assert d.pid_file.read_text().strip() == str(d.pid)
    assert d.db.exists(), "no state.db in the state dir"
    status, _, created = d.request("POST", "/v1/namespaces", {"name": "persist"})
    assert status == 201
    assert d.stop(sig) == 0, d.log()
    assert not d.sock.exists(), "socket left behind"
    assert not d.pid_file.exists(), "pid file left behind"
    d.start()  # the lock was released; the state survived
    status, _, got = d.request("GET", "/v1/namespaces/persist")
    assert status == 200 and got == created, got


def test_shutdown_with_idle_keepalive_connection(daemon_factory):
    d = daemon_factory()
    s = raw_socket_for(d.host)
    try:
        s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
        assert d.stop(timeout=20) == 0, d.log()
    finally:
        s.close()
    assert not d.sock.exists()


def test_shutdown_with_half_sent_request(daemon_factory):
    d = daemon_factory()
    s = raw_socket_for(d.host)
    try:
        s.sendall(b"POST /v1/namespaces HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"na")
        # in flight requests get at most 10 s; 25 s is only an upper bound for the wait
        assert d.stop(timeout=25) == 0, d.log()
    finally:
        s.close()
    assert not d.sock.exists() and not d.pid_file.exists()


# ------------------------------------------------------------------ options

def test_help():
    r = run_nanocld("--help")
    assert r.returncode == 0, r.stderr
    assert re.search(r"usage", r.stdout, re.I), r.stdout
    for opt in ("--host", "--state-dir", "--run-dir", "--config-dir", "--log-level"):
        assert opt in r.stdout, f"--help does not mention {opt}"


def test_version_option():
    r = run_nanocld("--version")
    assert r.returncode == 0, r.stderr
    assert re.search(r"\d+\.\d+\.\d+", r.stdout), r.stdout


@pytest.mark.parametrize("extra,mention", [
    (["--frobnicate"], "frobnicate"),
    (["--log-level", "loud"], "loud"),
    (["stray-argument"], "stray-argument"),
    (["--state-dir"], "state-dir"),
], ids=["unknown", "bad-level", "positional", "missing-value"])
def test_usage_errors_exit_2(tmp_dirs, extra, mention):
    args = dir_args(tmp_dirs["state"], tmp_dirs["run"], tmp_dirs["config"]) + extra
    r = run_nanocld(*args)
    assert r.returncode == 2, r.stderr
    assert mention in r.stderr, f"message does not name {mention!r}: {r.stderr!r}"
    assert not (tmp_dirs["run"] / "nanocl.sock").exists()


@pytest.mark.parametrize("url", ["http://127.0.0.1:2375", "foo", "tcp://127.0.0.1:notaport",
                                 "tcp://127.0.0.1", "tcp://127.0.0.1:70000", "unix://"])
def test_bad_host_url(tmp_dirs, url):
    r = run_nanocld("--host", url, "--state-dir", tmp_dirs["state"], "--run-dir",
                    tmp_dirs["run"], "--config-dir", tmp_dirs["config"])
    assert r.returncode in (1, 2), r.stderr
    assert url in r.stderr, f"message does not name {url!r}: {r.stderr!r}"


# ------------------------------------------------------------------ environment

def test_environment_fallbacks(daemon_factory):
    d = daemon_factory(via_env=True)  # no options at all: dirs and level from NANOCL_*
    assert stat.S_ISSOCK(d.sock.lstat().st_mode), "default socket is not RUN_DIR/nanocl.sock"
    assert d.pid_file.read_text().strip() == str(d.pid)
    assert d.db.exists(), "NANOCL_STATE_DIR not used"
    assert d.request("GET", "/v1/namespaces/env-probe")[0] == 404
    assert d.stop() == 0
    assert re.search(r"GET /v1/namespaces/env-probe 404\b", d.log()), \
        "NANOCL_LOG_LEVEL=debug not used"


def test_nanocl_host_env_comma_separated(daemon_factory):
    tcp = f"tcp://127.0.0.1:{free_tcp_port()}"
    d = daemon_factory(via_env=True, hosts=[tcp])
    assert ping(d.host) and ping(tcp)


def test_options_beat_environment(daemon_factory, tmp_path):
    decoy = {k: tmp_path / k for k in ("state", "run", "config")}
    for p in decoy.values():
        p.mkdir()
    env = {"NANOCL_STATE_DIR": decoy["state"], "NANOCL_RUN_DIR": decoy["run"],
           "NANOCL_CONFIG_DIR": decoy["config"], "NANOCL_LOG_LEVEL": "error",
           "NANOCL_HOST": f"unix://{decoy['run']}/decoy.sock"}
    d = daemon_factory(env=env)
    assert d.db.exists()
    assert list(decoy["state"].iterdir()) == [] and list(decoy["run"].iterdir()) == []
    assert d.request("GET", "/v1/namespaces/opt-probe")[0] == 404
    assert d.stop() == 0
    assert re.search(r"GET /v1/namespaces/opt-probe 404\b", d.log()), "--log-level lost"


# ------------------------------------------------------------------ CLI vs a stopped daemon

def test_cli_when_daemon_down(daemon_factory):
    d = daemon_factory()
    assert d.stop() == 0
    r = d.cli("namespace", "ls")
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"nanocl: cannot reach nanocld at {d.host}"), lines[0]


def test_cli_when_tcp_daemon_down():
    tcp = f"tcp://127.0.0.1:{free_tcp_port()}"
    r = run_cli(tcp, "namespace", "ls", env=clean_env())
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and f"cannot reach nanocld at {tcp}" in lines[0], r.stderr


# ------------------------------------------------------------------ logs

def test_debug_log_one_line_per_request(daemon_factory):
    d = daemon_factory()
    calls = [("GET", "/v1/namespaces/log-missing", None, 404),
             ("POST", "/v1/namespaces", {"name": "log-probe"}, 201),
             ("GET", "/v1/namespaces/log-probe", None, 200),
             ("DELETE", "/v1/namespaces/log-probe", None, 204),
             ("PUT", "/v1/namespaces/log-probe", None, 405)]
    for method, path, body, want in calls:
        assert d.request(method, path, body)[0] == want
    assert d.stop() == 0
    log = d.log()
    for method, path, _, want in calls:
        pat = re.compile(rf"(^|\s){method} {re.escape(path)} {want}\b", re.M)
        hits = pat.findall(log)
        assert len(hits) == 1, f"{len(hits)} log lines for {method} {path} {want}:\n{log}"


def test_error_level_logs_no_requests(daemon_factory):
    d = daemon_factory(log_level="error")
    assert d.request("GET", "/v1/namespaces/quiet-probe")[0] == 404
    assert d.stop() == 0
    assert "quiet-probe" not in d.log()


def test_tcp_and_unix_together(daemon_factory):
    tcp = f"tcp://127.0.0.1:{free_tcp_port()}"
    d = daemon_factory(hosts=[tcp])
    assert http_request(tcp, "POST", "/v1/namespaces", {"name": "both"})[0] == 201
    assert d.request("GET", "/v1/namespaces/both")[0] == 200
    assert d.stop() == 0
    assert not d.sock.exists()
