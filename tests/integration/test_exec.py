"""nanocl container exec: a command in a running container over the API's exec connection
(101 Switching Protocols, then frames), on the real runtime, through the real nanocld and
CLI; -t through a pty of the test's own."""

import concurrent.futures
import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import termios
import time

import pytest

from conftest import NANOCL, clean_env, raw_socket_for
from registry import images, registry  # noqa: F401
from test_containers import RUNTIMES, cd, run, wait_state  # noqa: F401

pytestmark = pytest.mark.skipif(not RUNTIMES, reason="neither crun nor runc is installed")

BOX = "exec-box"


@pytest.fixture(scope="module")
def box(cd):
    """A running container to exec in."""
    run(cd, "-d", "--name", BOX, cd.image, "sleep", "3600", check=0)
    wait_state(cd, BOX, "running")
    return cd


def ex(d, *args, input=None, check=None):
    return d.cli("container", "exec", *args, input=input, check=check)


def procs_with_cmdline(*words):
    """Host pids whose command line is exactly `words`."""
    want = "\0".join(words).encode() + b"\0"
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                if f.read() == want:
                    found.append(int(p))
        except OSError:
            pass
    return found


def wait_for(pred, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"{what} not met within {timeout}s")


# --------------------------------------------------------------------------- plain


def test_echo_exit_code_and_separate_stderr(box):
    r = ex(box, BOX, "echo", "hi", check=0)
    assert r.stdout == "hi\n" and r.stderr == ""
    r = ex(box, BOX, "sh", "-c", "exit 5")
    assert r.returncode == 5, r.stderr
    r = ex(box, BOX, "sh", "-c", "echo out; echo err >&2; exit 2")
    assert (r.returncode, r.stdout, r.stderr) == (2, "out\n", "err\n")
    # Killed by a signal: 128 + N, as Docker.
    r = ex(box, BOX, "sh", "-c", "kill -9 $$")
    assert r.returncode == 137, r.stderr
    # Options after the container belong to the command; a "--" before it is a separator.
    r = ex(box, BOX, "ls", "-d", "/tmp", check=0)
    assert r.stdout == "/tmp\n"
    r = ex(box, BOX, "--", "ls", "-d", "/tmp", check=0)
    assert r.stdout == "/tmp\n"


def test_stdin_piped(box):
    r = ex(box, "-i", BOX, "cat", input="hello\nworld\n", check=0)
    assert r.stdout == "hello\nworld\n"
    r = ex(box, "-i", BOX, "wc", "-c", input="x" * 100000, check=0)
    assert r.stdout.strip() == "100000"
    # Without -i the command's stdin is empty.
    r = ex(box, BOX, "wc", "-c", input="ignored", check=0)
    assert r.stdout.strip() == "0"


def test_stdin_large_both_ways(box):
    """More than the pipes and buffers hold, in and out at once: no deadlock."""
    data = os.urandom(3 * 1024 * 1024)
    r = subprocess.run([str(NANOCL), "-H", box.host, "container", "exec", "-i", BOX, "cat"],
                       input=data, capture_output=True, timeout=60, env=clean_env())
    assert r.returncode == 0, r.stderr
    assert r.stdout == data


def test_env_user_workdir(box):
    r = ex(box, "-e", "FOO=bar", "-e", "PATH=/bin", "-u", "user", "-w", "/tmp", BOX,
           "sh", "-c", 'echo "$FOO $(id -u):$(id -g) $(pwd) $HOME $PATH"', check=0)
    assert r.stdout.split() == ["bar", "1000:1000", "/tmp", "/home/user", "/bin"]
    r = ex(box, "-u", "1000:65534", BOX, "sh", "-c", "echo $(id -u) $(id -g)", check=0)
    assert r.stdout.split() == ["1000", "65534"]
    # The container's environment is there too.
    r = ex(box, BOX, "sh", "-c", 'echo "$HOSTNAME"', check=0)
    assert len(r.stdout.strip()) == 12
    r = ex(box, "-u", "nosuchuser", BOX, "true")
    assert r.returncode == 126 and "nosuchuser" in r.stderr, (r.returncode, r.stderr)
    r = ex(box, "-w", "relative", BOX, "true")
    assert r.returncode == 1 and "workdir" in r.stderr, (r.returncode, r.stderr)


def test_command_not_found_and_not_executable(box):
    r = ex(box, BOX, "nope")
    assert r.returncode == 127, (r.returncode, r.stderr)
    assert '"nope"' in r.stderr and "executable file not found" in r.stderr, r.stderr
    r = ex(box, BOX, "/etc/passwd")
    assert r.returncode == 126, (r.returncode, r.stderr)
    assert "permission denied" in r.stderr, r.stderr


def test_stopped_unknown_container_and_usage(box):
    run(box, "--name", "exec-stopped", box.image, "true", check=0)
    r = ex(box, "exec-stopped", "true")
    assert r.returncode == 1 and "not running" in r.stderr, (r.returncode, r.stderr)
    r = ex(box, "exec-nosuch", "true")
    assert r.returncode == 1 and "exec-nosuch" in r.stderr, (r.returncode, r.stderr)
    r = ex(box, BOX)
    assert r.returncode == 2 and "COMMAND" in r.stderr
    r = ex(box, BOX, "--")
    assert r.returncode == 2 and "COMMAND" in r.stderr
    r = ex(box, "-n", "nosuchns", BOX, "true")
    assert r.returncode == 1 and "does not exist" in r.stderr, r.stderr


def test_concurrent_execs(box):
    def one(i):
        return i, ex(box, BOX, "sh", "-c",
                     f"echo start-{i}; sleep 0.3; echo end-{i} >&2; exit {i % 7}")

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        results = list(pool.map(one, range(20)))
    for i, r in results:
        assert r.returncode == i % 7, (i, r.returncode, r.stderr)
        assert r.stdout == f"start-{i}\n" and r.stderr == f"end-{i}\n", (i, r.stdout, r.stderr)


# --------------------------------------------------------------------------- tty


def spawn_on_pty(box, *args, rows=None, cols=None):
    master, slave = pty.openpty()
    if rows:
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    p = subprocess.Popen([str(NANOCL), "-H", box.host, "container", "exec", *args],
                         stdin=slave, stdout=slave, stderr=slave, env=clean_env(),
                         start_new_session=True)
    os.close(slave)
    return p, master


def read_all(master, p, timeout=30):
    """Everything from the pty until the CLI has exited and the pty is drained."""
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the CLI's end closed
                break
            if not chunk:
                break
            out += chunk
        elif p.poll() is not None:
            break
    p.wait(timeout=5)
    return out


def test_tty_interactive_shell(box):
    p, master = spawn_on_pty(box, "-i", "-t", BOX, "sh")
    try:
        os.write(master, b"echo $((6*7)); exit 3\n")
        out = read_all(master, p)
    finally:
        os.close(master)
    assert p.returncode == 3, out
    assert b"42\r\n" in out, out


def test_tty_size_and_terminal_mode_restored(box):
    p, master = spawn_on_pty(box, "-t", BOX, "busybox", "stty", "size", rows=37, cols=123)
    try:
        out = read_all(master, p)
    finally:
        os.close(master)
    assert p.returncode == 0, out
    assert b"37 123" in out, out
    # A terminal is a tty inside; stdout and stderr both come through it.
    p, master = spawn_on_pty(box, "-t", BOX, "sh", "-c", "test -t 0 && test -t 1 && echo E >&2")
    try:
        out = read_all(master, p)
    finally:
        os.close(master)
    assert p.returncode == 0 and b"E" in out, out


def test_tty_raw_mode_restored_after_exit(box):
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    p = subprocess.Popen([str(NANOCL), "-H", box.host, "container", "exec", "-i", "-t", BOX,
                          "sh", "-c", "exit 4"],
                         stdin=slave, stdout=slave, stderr=slave, env=clean_env(),
                         start_new_session=True)
    try:
        read_all(master, p)
        assert p.returncode == 4
        assert termios.tcgetattr(slave) == before
    finally:
        os.close(slave)
        os.close(master)


# --------------------------------------------------------------------------- API


def exec_request(body, name=BOX, headers=None, ns=None):
    path = f"/v1/containers/{name}/exec" + (f"?namespace={ns}" if ns else "")
    payload = json.dumps(body).encode()
    hdrs = {"Content-Type": "application/json", "Content-Length": str(len(payload))}
    hdrs.update(headers if headers is not None else
                {"Connection": "Upgrade", "Upgrade": "nanocl-exec"})
    head = f"POST {path} HTTP/1.1\r\nHost: localhost\r\n" + \
        "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
    return head.encode() + payload


def frame(kind, payload=b""):
    return struct.pack(">BI", kind, len(payload)) + payload


class ExecConn:
    """A hand-written client of the exec protocol."""

    def __init__(self, d, body, extra=b""):
        self.s = raw_socket_for(d.host, timeout=30)
        self.s.sendall(exec_request(body) + extra)
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            assert chunk, f"closed before the head: {self.buf!r}"
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.head = head.decode()

    def frames(self):
        """(type, payload) until the connection closes."""
        while True:
            while len(self.buf) >= 5:
                kind, n = struct.unpack(">BI", self.buf[:5])
                if len(self.buf) < 5 + n:
                    break
                yield kind, self.buf[5:5 + n]
                self.buf = self.buf[5 + n:]
            chunk = self.s.recv(65536)
            if not chunk:
                return
            self.buf += chunk


def test_api_errors_before_the_switch(box):
    status, _, body = box.request("POST", f"/v1/containers/{BOX}/exec", {"cmd": ["true"]})
    assert status == 400 and "Upgrade" in body["error"], body
    up = {"Connection": "Upgrade", "Upgrade": "nanocl-exec"}
    status, _, body = box.request("POST", "/v1/containers/exec-nosuch/exec", {"cmd": ["true"]},
                                  headers=up)
    assert status == 404 and body["kind"] == "not_found", body
    run(box, "--name", "exec-stopped2", box.image, "true", check=0)
    status, _, body = box.request("POST", "/v1/containers/exec-stopped2/exec",
                                  {"cmd": ["true"]}, headers=up)
    assert status == 409 and "not running" in body["error"], body
    for bad, field in (({}, "cmd"), ({"cmd": []}, "cmd"), ({"cmd": "ls"}, "cmd"),
                       ({"cmd": ["ls"], "tty": 1}, "tty"), ({"cmd": ["ls"], "env": ["X"]}, "env"),
                       ({"cmd": ["ls"], "width": 70000}, "width"),
                       ({"cmd": ["ls"], "what": 1}, "what")):
        status, _, body = box.request("POST", f"/v1/containers/{BOX}/exec", bad, headers=up)
        assert status == 422 and field in body["error"], (bad, status, body)
    # Switching protocols is HTTP/1.1's.
    sock = raw_socket_for(box.host)
    sock.sendall(exec_request({"cmd": ["true"]}).replace(b"HTTP/1.1", b"HTTP/1.0", 1))
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    sock.close()
    assert answer.startswith(b"HTTP/1.0 400") or answer.startswith(b"HTTP/1.1 400"), answer
    assert b"HTTP/1.1" in answer.split(b"\r\n\r\n", 1)[1], answer


def test_api_protocol_by_hand(box):
    # Frames sent with the request, before the 101, are not lost.
    c = ExecConn(box, {"cmd": ["cat"], "stdin": True},
                 extra=frame(0, b"abc") + frame(0, b"def\n") + frame(1))
    assert c.head.startswith("HTTP/1.1 101"), c.head
    assert "upgrade: nanocl-exec" in c.head.lower(), c.head
    got = list(c.frames())
    assert got[-1] == (3, b"0"), got
    assert b"".join(p for k, p in got if k == 1) == b"abcdef\n", got
    # An error frame, then the exit frame.
    c = ExecConn(box, {"cmd": ["nope"]})
    got = list(c.frames())
    assert [k for k, _ in got] == [4, 3] and got[1][1] == b"127", got
    assert b"executable file not found" in got[0][1], got
    # A resize reaches the tty.
    c = ExecConn(box, {"cmd": ["sh", "-c", "read x; busybox stty size"], "tty": True,
                       "stdin": True, "width": 80, "height": 24})
    c.s.sendall(frame(2, struct.pack(">HH", 100, 50)) + frame(0, b"go\n"))
    got = list(c.frames())
    assert got[-1] == (3, b"0"), got
    assert b"50 100" in b"".join(p for k, p in got if k == 1), got


def test_client_gone_or_oversized_frame_kills_the_process(box):
    # The CLI killed: its exec'd process goes too.
    p = subprocess.Popen([str(NANOCL), "-H", box.host, "container", "exec", BOX, "sleep", "1001"],
                         env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: procs_with_cmdline("sleep", "1001"), what="sleep 1001 running")
    p.kill()
    p.wait()
    wait_for(lambda: not procs_with_cmdline("sleep", "1001"), what="sleep 1001 killed")
    # A frame over 1 MiB: the connection is closed, the process killed.
    c = ExecConn(box, {"cmd": ["sleep", "1002"], "stdin": True})
    wait_for(lambda: procs_with_cmdline("sleep", "1002"), what="sleep 1002 running")
    c.s.sendall(struct.pack(">BI", 0, 2 * 1024 * 1024) + b"x" * 1000)
    assert list(c.frames()) == []
    wait_for(lambda: not procs_with_cmdline("sleep", "1002"), what="sleep 1002 killed")
    # Nothing of those execs is left in the run dir.
    assert os.listdir(box.run_dir / "exec") == []


def test_exec_survives_the_container_but_ends_with_it(box):
    run(box, "-d", "--name", "exec-short", box.image, "sleep", "30", check=0)
    wait_state(box, "exec-short", "running")
    p = subprocess.Popen([str(NANOCL), "-H", box.host, "container", "exec", "exec-short",
                          "sleep", "1003"], env=clean_env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    wait_for(lambda: procs_with_cmdline("sleep", "1003"), what="sleep 1003 running")
    box.cli("container", "kill", "exec-short", check=0)
    p.wait(timeout=20)
    assert p.returncode == 137, (p.returncode, p.stderr.read())


def test_nanocld_shutdown_ends_execs(box):
    """Runs last: nanocld stops with an exec open (it ends it, killing the process), and
    the container outlives nanocld as always."""
    p = subprocess.Popen([str(NANOCL), "-H", box.host, "container", "exec", BOX, "sleep", "1004"],
                         env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    wait_for(lambda: procs_with_cmdline("sleep", "1004"), what="sleep 1004 running")
    t0 = time.monotonic()
    assert box.stop() == 0, box.log()[-3000:]
    assert time.monotonic() - t0 < 5
    p.wait(timeout=10)
    assert p.returncode == 1 and "closed the connection" in p.stderr.read()
    wait_for(lambda: not procs_with_cmdline("sleep", "1004"), what="sleep 1004 killed")
    box.start()
    assert wait_state(box, BOX, "running")
    assert ex(box, BOX, "echo", "back", check=0).stdout == "back\n"
    # nanocld killed: the process of an exec goes with it (its helper's parent-death signal).
    p = subprocess.Popen([str(NANOCL), "-H", box.host, "container", "exec", BOX, "sleep", "1005"],
                         env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: procs_with_cmdline("sleep", "1005"), what="sleep 1005 running")
    box.kill9()
    wait_for(lambda: not procs_with_cmdline("sleep", "1005"), what="sleep 1005 killed")
    p.wait(timeout=10)
    assert p.returncode == 1
    box.start()
    assert ex(box, BOX, "echo", "again", check=0).stdout == "again\n"
