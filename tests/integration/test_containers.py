"""Containers on the real runtimes (each of crun and runc installed: every test runs on
both), through the real nanocld, nanocl-shim and CLI, from a busybox image built with
umoci and pulled from a loopback registry."""

import json
import os
import signal
import subprocess
import threading
import time

import pytest

from conftest import NANOCL
from registry import image_daemon, images, registry  # noqa: F401

RUNTIMES = [r for r in ("crun", "runc")
            if os.path.exists(f"/usr/bin/{r}") or os.path.exists(f"/usr/sbin/{r}")]
pytestmark = pytest.mark.skipif(not RUNTIMES, reason="neither crun nor runc is installed")


@pytest.fixture(scope="module", params=RUNTIMES)
def cd(tmp_path_factory, registry, request):
    d = image_daemon(tmp_path_factory, registry, extra_args=["--runtime", request.param])
    d.runtime = request.param
    d.image = f"{registry.addr}/busybox:1.0"
    d.cli("container-image", "create", d.image, check=0)
    yield d
    for c in inspect_all(d):
        d.cli("container", "rm", "-f", c["id"], check=None)
    d.teardown()


def inspect_all(d):
    status, _, body = d.request("GET", "/v1/containers?all=true")
    assert status == 200, body
    return body


def state(d, name):
    status, _, body = d.request("GET", f"/v1/containers/{name}")
    assert status == 200, body
    return body


def run(d, *args, check=None, timeout=60):
    return d.cli("container", "run", *args, check=check)


def wait_state(d, name, want, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = state(d, name)
        if s["state"] == want:
            return s
        time.sleep(0.05)
    raise AssertionError(f"{name} never became {want}: {state(d, name)}")


def mounts():
    with open("/proc/mounts") as f:
        return sorted(l.split()[1] for l in f)


def test_run_echo_exit_code_and_logs(cd):
    r = run(cd, "--name", "echo1", cd.image, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert r.stdout == "out\n" and "err\n" in r.stderr
    s = state(cd, "echo1")
    assert s["state"] == "exited" and s["exit_code"] == 3
    logs = cd.cli("container", "logs", "echo1", check=0)
    assert logs.stdout == "out\n" and logs.stderr == "err\n"
    tail = cd.cli("container", "logs", "--tail", "1", "-t", "echo1", check=0)
    assert tail.stdout == "" and tail.stderr.endswith(" err\n")


def test_env_cwd_user(cd):
    r = run(cd, "--rm", "-e", "FOO=bar", "-w", "/tmp", "-u", "1000", cd.image,
            "sh", "-c", 'echo "$FOO $(pwd) $(id -u) $HOSTNAME"', check=0)
    foo, cwd, uid, host = r.stdout.split()
    assert (foo, cwd, uid) == ("bar", "/tmp", "1000")
    assert len(host) == 12


def test_command_not_found(cd):
    r = run(cd, "--name", "nope", cd.image, "/nope")
    assert r.returncode == 127, (r.returncode, r.stderr)
    assert "/nope" in r.stderr
    s = state(cd, "nope")
    assert s["state"] == "exited" and s["exit_code"] == 127 and "/nope" in s["error"]
    logs = cd.cli("container", "logs", "nope", check=0)
    assert "/nope" in logs.stderr
    # Docker's words and codes, whichever runtime said it (runc and crun differ).
    r = run(cd, "--rm", cd.image, "nope")
    assert r.returncode == 127, (r.returncode, r.stderr)
    assert 'exec: "nope": executable file not found in $PATH' in r.stderr, r.stderr
    r = run(cd, "--rm", cd.image, "/etc/passwd")
    assert r.returncode == 126, (r.returncode, r.stderr)
    assert 'exec: "/etc/passwd": permission denied' in r.stderr, r.stderr


def test_stop_trapped_sigterm_and_sigkill_after_timeout(cd):
    trap = 'trap "echo got term; exit 7" TERM; while :; do sleep 0.1; done'
    run(cd, "-d", "--name", "trapper", cd.image, "sh", "-c", trap, check=0)
    wait_state(cd, "trapper", "running")
    cd.cli("container", "stop", "trapper", check=0)
    s = state(cd, "trapper")
    assert s["state"] == "exited" and s["exit_code"] == 7, s
    assert "got term" in cd.cli("container", "logs", "trapper", check=0).stdout
    # A process that ignores SIGTERM is killed after the timeout.
    run(cd, "-d", "--name", "stubborn", cd.image, "sh", "-c",
        'trap "" TERM; while :; do sleep 0.1; done', check=0)
    wait_state(cd, "stubborn", "running")
    t0 = time.monotonic()
    cd.cli("container", "stop", "-t", "1", "stubborn", check=0)
    s = state(cd, "stubborn")
    assert s["exit_code"] == 137 and s["exit_signal"] == "SIGKILL", s
    assert time.monotonic() - t0 < 8
    # --stop-timeout -1 (Docker's "wait indefinitely"): no SIGKILL, the stop waits.
    run(cd, "-d", "--name", "patient", "--stop-timeout", "-1", cd.image, "sh", "-c",
        'trap "sleep 1; exit 7" TERM; while :; do sleep 0.1; done', check=0)
    wait_state(cd, "patient", "running")
    cd.cli("container", "stop", "patient", check=0)
    s = state(cd, "patient")
    assert s["state"] == "exited" and s["exit_code"] == 7, s


def test_logs_follow_a_running_container(cd):
    run(cd, "-d", "--name", "ticker", cd.image, "sh", "-c",
        "for i in 1 2 3; do echo tick $i; sleep 0.3; done", check=0)
    r = cd.cli("container", "logs", "-f", "ticker", check=0)
    assert r.stdout == "tick 1\ntick 2\ntick 3\n"


def test_read_only_rootfs_and_binds(cd, tmp_path):
    rw = tmp_path / "rw"
    ro = tmp_path / "ro"
    rw.mkdir()
    ro.mkdir()
    (ro / "f").write_text("x")
    r = run(cd, "--rm", "--read-only", "-v", f"{rw}:/rw", "-v", f"{ro}:/ro:ro", cd.image, "sh",
            "-c", "echo hi > /rw/out; touch /ro/g 2>/dev/null && echo ro-writable; "
                  "touch /root-file 2>/dev/null && echo root-writable; cat /ro/f")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "x"
    assert (rw / "out").read_text() == "hi\n"
    assert not (ro / "g").exists()


def test_memory_limit_oom_is_recorded(cd):
    r = run(cd, "--name", "hog", "-m", "16m", cd.image, "sh", "-c",
            'x=aaaaaaaaaaaaaaaa; while :; do x="$x$x"; done')
    s = state(cd, "hog")
    assert s["state"] == "exited" and s["exit_code"] == 137 and s["oom_killed"], s
    assert r.returncode == 137


def test_pids_limit(cd):
    spawn = 'i=0; while [ $i -lt 12 ]; do sleep 3 & i=$((i+1)); done; echo forked all'
    r = run(cd, "--rm", "--pids-limit", "6", cd.image, "sh", "-c", spawn)
    assert "can't fork" in r.stderr and "forked all" not in r.stdout, (r.stdout, r.stderr)
    assert r.returncode != 0
    r = run(cd, "--rm", cd.image, "sh", "-c", spawn)
    assert r.returncode == 0 and "forked all" in r.stdout, r.stderr


def test_name_in_use_and_bad_input(cd):
    cd.cli("container", "create", "--name", "dup", cd.image, "true", check=0)
    r = cd.cli("container", "create", "--name", "dup", cd.image, "true", check=1)
    assert "dup" in r.stderr and "already" in r.stderr
    r = cd.cli("container", "create", "nosuch/image:1", "true", check=1)
    assert "nosuch/image:1" in r.stderr
    r = cd.cli("container", "create", "-m", "-5", cd.image, check=2)
    status, _, body = cd.request("POST", "/v1/containers",
                                 {"image": cd.image, "binds": ["/does/not/exist:/x"]})
    assert status == 422 and "/does/not/exist" in body["error"], body
    status, _, body = cd.request("POST", "/v1/containers", {"image": cd.image, "memory": -1})
    assert status == 422 and "memory" in body["error"], body
    status, _, body = cd.request("POST", "/v1/containers",
                                 {"image": cd.image, "name": "Bad_Name"})
    assert status == 422 and "Bad_Name" in body["error"], body


def test_rm_running_needs_force_and_cleans_up(cd):
    before = mounts()
    run(cd, "-d", "--name", "rmme", cd.image, "sleep", "30", check=0)
    s = wait_state(cd, "rmme", "running")
    r = cd.cli("container", "rm", "rmme", check=1)
    assert "running" in r.stderr
    cd.cli("container", "rm", "-f", "rmme", check=0)
    assert cd.request("GET", "/v1/containers/rmme")[0] == 404
    assert not os.path.exists(cd.state_dir / "containers" / s["id"])
    assert mounts() == before


def cgroup_dirs():
    """Every cgroup directory nanocl made, in every hierarchy (v1 controllers, v2)."""
    out = set()
    for root, dirs, _ in os.walk("/sys/fs/cgroup"):
        if "/nanocl/" in root + "/":
            out.add(root)
        if root.count("/") > 6:
            dirs[:] = []
    return out


def shims(d):
    """The shims of daemon d (their --bundle is under its state dir): other nanocl
    instances on the machine (a benchmark, another test run) do not count."""
    out = set()
    mine = str(d.state_dir).encode()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read()
                if b"nanocl-shim" in cmd and mine in cmd:
                    out.add(int(pid))
            except OSError:
                pass
    return out


def test_many_containers_leave_nothing_behind(cd):
    # Exact: what these 50 containers made (by id), not the whole machine, on which
    # other nanocl instances may run meanwhile.
    before_dirs = sorted(os.listdir(cd.state_dir / "containers"))
    ids = set()
    for i in range(50):
        r = run(cd, "--name", f"many-{i}", cd.image, "true")
        assert r.returncode == 0, r.stderr
        ids.add(state(cd, f"many-{i}")["id"])
        cd.cli("container", "rm", f"many-{i}", check=0)
    # Once rm has returned: no row, no mount, no file of the container.
    assert sorted(os.listdir(cd.state_dir / "containers")) == before_dirs
    left = [m for m in mounts() if any(i in m for i in ids)]
    assert not left, f"mounts left behind: {left[:3]}"
    # The runtime's own state (its cgroups, its state dir) goes with the `delete` the shim
    # started at the exit, finished by the shim's last process (docs/shim.md): within a
    # moment of rm, not necessarily before it returns.
    deadline = time.monotonic() + 10
    while shims(cd) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not shims(cd), "shims left behind"
    left = [c for c in cgroup_dirs() if os.path.basename(c) in ids]
    assert not left, f"cgroups left behind: {left[:3]}"
    runtime_state = cd.run_dir / "runtime"
    assert not set(os.listdir(runtime_state)) & ids, "runtime state left behind"
    # rm moved each directory to STATE/trash, emptied by nanocld's low-priority thread.
    trash = cd.state_dir / "trash"
    while set(os.listdir(trash)) & ids and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not set(os.listdir(trash)) & ids, "directories left in the trash"


def test_trash_left_by_a_crash_is_emptied_at_start(cd):
    """What a crash left in STATE/trash (a container directory on its way out, with an
    overlay work dir the kernel made mode 000), and a container directory without a row,
    are removed when nanocld starts."""
    left = cd.state_dir / "trash" / ("ab" * 32)
    (left / "upper" / "etc").mkdir(parents=True)
    (left / "upper" / "etc" / "hostname").write_text("x\n")
    (left / "work" / "work").mkdir(parents=True)
    os.chmod(left / "work" / "work", 0)
    # and a container directory the store does not know (a crash between the two)
    stray = cd.state_dir / "containers" / ("cd" * 32)
    (stray / "upper").mkdir(parents=True)
    (stray / "config.json").write_text("{}")
    cd.kill9()
    cd.start()
    deadline = time.monotonic() + 10
    while (left.exists() or stray.exists() or (cd.state_dir / "trash" / stray.name).exists()) \
            and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not left.exists()
    assert not stray.exists() and not (cd.state_dir / "trash" / stray.name).exists()
    assert cd.cli("container", "ls", "-a", check=0).returncode == 0


def test_containers_outlive_nanocld(cd):
    names = [f"outlive-{i}" for i in range(5)]
    for n in names:
        run(cd, "-d", "--name", n, cd.image, "sleep", "60", check=0)
    run(cd, "-d", "--name", "short", cd.image, "sh", "-c", "sleep 1; exit 5", check=0)
    pids = {n: wait_state(cd, n, "running")["pid"] for n in names}
    cd.kill9()
    time.sleep(1.5)  # "short" ends while nanocld is away
    for n, pid in pids.items():
        os.kill(pid, 0)  # still alive
    cd.start()
    for n in names:
        assert state(cd, n)["state"] == "running"
    s = wait_state(cd, "short", "exited")
    assert s["exit_code"] == 5, s
    for n in names:
        cd.cli("container", "stop", "-t", "1", n, check=0)
        assert state(cd, n)["state"] == "exited"


def test_image_in_use_is_not_removed(cd):
    cd.cli("container-image", "tag", cd.image, "inuse/busybox:1", check=0)
    cd.cli("container", "create", "--name", "user-of-image", "inuse/busybox:1", "true", check=0)
    img = cd.request("GET", "/v1/images/inuse/busybox:1")[2]
    # By id: refused while a container uses it.
    r = cd.cli("container-image", "rm", img["id"], check=1)
    assert "used by" in r.stderr, r.stderr
    # Forced: the names go, the image (and its layers) stay for the container.
    cd.cli("container-image", "rm", "-f", img["id"], check=0)
    assert cd.request("GET", f"/v1/images/{img['id']}")[0] == 200
    r = cd.cli("container", "start", "user-of-image", check=0)
    assert cd.cli("container", "wait", "user-of-image", check=None).returncode == 0
    cd.cli("container", "rm", "user-of-image", check=0)
    cd.cli("container-image", "tag", img["id"], cd.image, check=0)


def test_logs_since(cd):
    run(cd, "--name", "since1", cd.image, "sh", "-c", "echo early", check=0)
    assert cd.cli("container", "logs", "--since", "10m", "since1", check=0).stdout == "early\n"
    assert cd.cli("container", "logs", "--since", "2000-01-01T00:00:00Z", "since1",
                  check=0).stdout == "early\n"
    future = str(int(time.time()) + 3600)
    assert cd.cli("container", "logs", "--since", future, "since1", check=0).stdout == ""
    r = cd.cli("container", "logs", "--since", "yesterday", "since1", check=2)
    assert "yesterday" in r.stderr


# ---- --rm: auto_remove, removed by nanocld itself when the container ends ----

def gone(d, name):
    return d.request("GET", f"/v1/containers/{name}")[0] == 404


def rootfs_mount_options(d, cid):
    target = str(d.state_dir / "containers" / cid / "rootfs")
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if parts[1] == target:
                return parts[3].split(",")
    return None


def test_run_rm_prints_everything_and_leaves_nothing(cd):
    before_dirs = sorted(os.listdir(cd.state_dir / "containers"))
    before_mounts = mounts()
    # Quick commands, whose container is removed as they end: the CLI follows the
    # output from before the start, so nothing is lost however fast nanocld is.
    for i in range(5):
        r = run(cd, "--rm", "--name", f"quick-{i}", cd.image, "sh", "-c",
                "echo out; echo err >&2; exit 3")
        assert r.returncode == 3, (r.returncode, r.stderr)
        assert r.stdout == "out\n" and r.stderr == "err\n", (r.stdout, r.stderr)
        assert gone(cd, f"quick-{i}")
    assert sorted(os.listdir(cd.state_dir / "containers")) == before_dirs
    assert mounts() == before_mounts
    # the name is free again at once
    r = run(cd, "--rm", "--name", "quick-0", cd.image, "true")
    assert r.returncode == 0, r.stderr


def test_run_detached_rm_and_wait_removed(cd):
    cid = run(cd, "-d", "--rm", "--name", "drm", cd.image, "sh", "-c",
              "sleep 1; exit 4", check=0).stdout.strip()
    s = wait_state(cd, "drm", "running")
    assert s["spec"]["auto_remove"] is True
    # Nobody keeps its changes: its overlay does not sync them (cheaper to unmount).
    # ("volatile", shown as "fsync=volatile" by Linux 6.x)
    opts = rootfs_mount_options(cd, cid)
    assert any(o in ("volatile", "fsync=volatile") for o in opts), opts
    status, _, body = cd.request("POST", "/v1/containers/drm/wait?condition=removed")
    assert status == 200 and body["exit_code"] == 4, body
    assert gone(cd, "drm")
    assert not (cd.state_dir / "containers" / cid).exists()
    # A wait that comes after the removal still learns how it ended (for a minute).
    status, _, body = cd.request("POST", f"/v1/containers/{cid}/wait?condition=removed")
    assert status == 200 and body["exit_code"] == 4, body
    status, _, body = cd.request("POST", "/v1/containers/drm/wait?condition=removed")
    assert status == 200 and body["exit_code"] == 4, body
    status, _, body = cd.request("POST", f"/v1/containers/{cid[:8]}/wait?condition=removed")
    assert status == 200 and body["exit_code"] == 4, body
    # ... but a plain wait says what Docker says of a container that is not there.
    assert cd.request("POST", f"/v1/containers/{cid}/wait")[0] == 404
    status, _, body = cd.request("POST", "/v1/containers/drm/wait?condition=sometime")
    assert status == 422 and "condition" in body["error"], body


def test_rm_force_restart_and_failed_start_of_auto_remove(cd):
    # rm -f: the stop's exit starts the auto-removal too; both end well, once.
    run(cd, "-d", "--rm", "--name", "rmf", cd.image, "sleep", "60", check=0)
    wait_state(cd, "rmf", "running")
    r = cd.cli("container", "rm", "-f", "rmf", check=None)
    assert r.returncode == 0, r.stderr
    assert gone(cd, "rmf")
    # restart keeps it (Docker's too); a stop after that removes it.
    run(cd, "-d", "--rm", "--name", "rst", cd.image, "sleep", "60", check=0)
    pid1 = wait_state(cd, "rst", "running")["pid"]
    cd.cli("container", "restart", "-t", "0", "rst", check=0)
    s = state(cd, "rst")
    assert s["state"] == "running" and s["pid"] != pid1, s
    cd.cli("container", "stop", "-t", "0", "rst", check=0)
    deadline = time.monotonic() + 10
    while not gone(cd, "rst") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert gone(cd, "rst")
    # a start that fails removes it as well (the error is on the CLI's stderr)
    r = run(cd, "--rm", "--name", "rmnope", cd.image, "/nope")
    assert r.returncode == 127 and "/nope" in r.stderr, (r.returncode, r.stderr)
    assert gone(cd, "rmnope")
    # a bad value is refused, and a cargo cannot have it
    status, _, body = cd.request("POST", "/v1/containers",
                                 {"image": cd.image, "auto_remove": "yes"})
    assert status == 422 and "auto_remove" in body["error"], body
    status, _, body = cd.request("POST", "/v1/cargoes",
                                 {"name": "autorm", "image": cd.image, "auto_remove": True})
    assert status == 422 and "auto_remove" in body["error"], body
    status, _, body = cd.request("POST", "/v1/cargoes",
                                 {"name": "forever", "image": cd.image, "stop_timeout": -1})
    assert status == 422 and "stop_timeout" in body["error"], body


def test_auto_remove_container_that_ended_while_nanocld_was_away(cd):
    run(cd, "-d", "--rm", "--name", "away", cd.image, "sh", "-c", "sleep 1", check=0)
    cid = wait_state(cd, "away", "running")["id"]
    cd.kill9()
    time.sleep(1.5)  # it ends meanwhile
    cd.start()
    assert gone(cd, "away")
    assert not (cd.state_dir / "containers" / cid).exists()
    assert not [m for m in mounts() if cid in m]


def test_sigterm_ends_waits_and_log_streams(cd):
    """Requests that wait without a deadline (wait, wait?condition=removed, logs -f) end
    when nanocld is told to stop (503 / the stream's end): it stops, and the container
    goes on."""
    run(cd, "-d", "--name", "waited", cd.image, "sh", "-c",
        "while :; do echo tick; sleep 0.2; done", check=0)
    wait_state(cd, "waited", "running")
    answers = {}

    def ask(key, path):
        answers[key] = cd.request("POST", path)[0]

    threads = [threading.Thread(target=ask, args=(k, p)) for k, p in (
        ("wait", "/v1/containers/waited/wait"),
        ("removed", "/v1/containers/waited/wait?condition=removed"))]
    for t in threads:
        t.start()
    logs = subprocess.Popen([str(NANOCL), "-H", cd.host, "container", "logs", "-f", "waited"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    # (before: the server's drain gave up after 10 s, then its stop hung on the waits)
    assert cd.stop() == 0, cd.log()
    for t in threads:
        t.join(10)
    assert answers == {"wait": 503, "removed": 503}, answers
    out, _ = logs.communicate(timeout=10)
    assert b"tick" in out
    cd.start()
    assert state(cd, "waited")["state"] == "running"
    cd.cli("container", "rm", "-f", "waited", check=0)


def test_containers_of_the_other_runtime_after_a_restart(cd):
    """nanocld restarted with the other runtime (another --runtime, or an upgrade that
    prefers crun): what it started before is still exec'd into, stopped and removed
    through the runtime that knows it; new containers use the new one."""
    other = [r for r in RUNTIMES if r != cd.runtime]
    if not other:
        pytest.skip("only one runtime is installed")
    run(cd, "-d", "--name", "elder", cd.image, "sleep", "600", check=0)
    wait_state(cd, "elder", "running")
    assert cd.stop() == 0, cd.log()
    before = list(cd.extra_args)
    at = before.index("--runtime") + 1
    cd.extra_args = before[:at] + [other[0]] + before[at + 1:]
    try:
        cd.start()
        r = cd.cli("container", "exec", "elder", "echo", "still here", check=None)
        assert (r.returncode, r.stdout) == (0, "still here\n"), r.stderr
        r = cd.cli("container", "stop", "-t", "1", "elder", check=None)
        assert r.returncode == 0, r.stderr
        assert state(cd, "elder")["state"] == "exited"
        r = run(cd, "--rm", cd.image, "echo", "new one")
        assert (r.returncode, r.stdout) == (0, "new one\n"), r.stderr
        cd.cli("container", "rm", "elder", check=0)
    finally:
        cd.stop()
        cd.extra_args = before
        cd.start()
        cd.cli("container", "rm", "-f", "elder", check=None)
