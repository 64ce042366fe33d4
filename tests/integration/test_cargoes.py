"""Cargoes on the reconcile loop: the seed tutorial's path (an HTTP app answering its
request headers and env as JSON), variables, replicas and DNS round robin, restarts with
back-off, rolling replacement that stops on a failing version, scaling, a nanocld killed
during a rollout, removal. Each module's nanocld runs in a network namespace of its own."""

import json
import shutil
import subprocess
import threading
import time

import pytest

from conftest import check_error
from test_networks import BUSYBOX_WGET, IMAGE, api, archive, make_daemon  # noqa: F401
from registry import images  # noqa: F401

pytestmark = pytest.mark.skipif(all(subprocess.run(["which", r], capture_output=True).returncode
                                    for r in ("crun", "runc")),
                                reason="neither crun nor runc is installed")

# The app: busybox httpd on $PORT (default 9000) with a CGI answering the request's
# headers (HTTP_*) and the container's env as one JSON object.
APP = r"""
mkdir -p /www/cgi-bin
cat > /www/cgi-bin/app <<'APPEOF'
#!/bin/sh
printf 'Content-Type: application/json\r\n\r\n{'
sep=''
env | while IFS='=' read -r k v; do
  printf '%s"%s": "%s"' "$sep" "$k" "$v"
  sep=', '
done
printf '}\n'
APPEOF
chmod 755 /www/cgi-bin/app
exec httpd -f -p "${PORT:-9000}" -h /www
"""


CGI = r"""#!/bin/sh
printf 'Content-Type: application/json\r\n\r\n{'
sep=''
env | while IFS='=' read -r k v; do
  printf '%s"%s": "%s"' "$sep" "$k" "$v"
  sep=', '
done
printf '}\n'
"""


@pytest.fixture(scope="module")
def app_archive(tmp_path_factory, images):
    """The tutorial's app as an image of its own: busybox + /www/cgi-bin/app, run as
    httpd on $PORT (9000), built with umoci from the session's busybox layout."""
    work = tmp_path_factory.mktemp("appimg")
    layout, bundle = work / "layout", work / "bundle"
    shutil.copytree(images.layout.path, layout)

    def run(argv):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, (argv, r.stderr)

    # unpack + repack: umoci 0.4.7's `insert` writes a tar whose last entry lacks its
    # padding and the end-of-archive blocks (GNU tar and nanocl both refuse it).
    run(["umoci", "tag", "--image", f"{layout}:busybox", "app"])
    run(["umoci", "unpack", "--image", f"{layout}:app", str(bundle)])
    www = bundle / "rootfs" / "www"
    (www / "cgi-bin").mkdir(parents=True)
    (www / "cgi-bin" / "app").write_text(CGI)
    (www / "cgi-bin" / "app").chmod(0o755)
    (www / "index.html").write_text("get-started\n")
    run(["umoci", "repack", "--image", f"{layout}:app", str(bundle)])
    for argv in (["umoci", "config", "--image", f"{layout}:app", "--config.env", "PORT=9000",
                  "--config.cmd", "sh", "--config.cmd", "-c", "--config.cmd",
                  'exec httpd -f -p "$PORT" -h /www'],
                 ["skopeo", "copy", "--quiet", f"oci:{layout}:app",
                  f"oci-archive:{work / 'app.tar'}"]):
        run(argv)
    return work / "app.tar"


@pytest.fixture(scope="module")
def cd(tmp_path_factory, archive, app_archive):
    d = make_daemon(tmp_path_factory, archive)
    try:
        d.cli("container-image", "import", app_archive, "get-started:master", check=0)
    except BaseException:
        d.teardown()
        raise
    yield d
    for c in d.request("GET", "/v1/cargoes")[2]:
        d.request("DELETE", f"/v1/cargoes/{c['name']}")
    for c in d.request("GET", "/v1/clusters")[2]:
        d.request("DELETE", f"/v1/clusters/{c['name']}")
    d.teardown()


def ask(d, ip, path="/cgi-bin/app", port=9000):
    r = d.run(*BUSYBOX_WGET, f"http://{ip}:{port}{path}")
    if r.returncode != 0:
        return None
    return json.loads(r.stdout)


def cargo(d, name):
    return api(d, "GET", f"/v1/cargoes/{name}", want=200)


def running(d, name, n=None, version=None, timeout=30):
    """Waits until the cargo has n running instances (all of `version` when given)."""
    deadline = time.monotonic() + timeout
    while True:
        c = cargo(d, name)
        want = n if n is not None else c["spec"].get("replicas", 1)
        insts = [i for i in c["instances"] if i["state"] == "running" and
                 (version is None or i["version"] == version)]
        if len(insts) == want and len(c["instances"]) == want:
            return c
        if time.monotonic() > deadline:
            raise AssertionError(f"{name}: never {want} running: {json.dumps(c, indent=1)}")
        time.sleep(0.1)


def setup_cargo(d, cl, name, replicas=1, **spec):
    if d.request("GET", f"/v1/clusters/{cl}")[0] == 404:
        api(d, "POST", "/v1/clusters", {"name": cl}, 201)
        api(d, "POST", f"/v1/clusters/{cl}/networks", {"name": "front"}, 201)
    body = {"name": name, "image": IMAGE, "cmd": ["sh", "-c", APP], "replicas": replicas}
    body.update(spec)
    api(d, "POST", "/v1/cargoes", body, 201)
    api(d, "POST", f"/v1/clusters/{cl}/join", {"network": "front", "cargo": name}, 204)
    return running(d, name)


def test_tutorial_path_variables_and_names(cd):
    c = setup_cargo(cd, "dev", "my-cargo")
    (inst,) = c["instances"]
    assert inst["name"] == "global-dev-my-cargo-1" and inst["ip"], inst
    answer = ask(cd, inst["ip"])
    assert answer and answer.get("HTTP_HOST", "").startswith(inst["ip"]), answer
    # A variable of the cluster, used in the env: the new version answers with it.
    api(cd, "POST", "/v1/clusters/dev/variables", {"name": "CLUSTER", "value": "DEV"}, 201)
    out = api(cd, "PATCH", "/v1/cargoes/my-cargo", {"env": ["CLUSTER={{vars.CLUSTER}}"]}, 200)
    assert out["version"] == 2
    c = running(cd, "my-cargo", 1, version=2)
    assert ask(cd, c["instances"][0]["ip"])["CLUSTER"] == "DEV"
    # The slot's name passed to the new instance before the old one went.
    assert c["instances"][0]["name"] == "global-dev-my-cargo-1", c["instances"]
    # A template naming a variable the cluster does not have: refused, nothing changes.
    status, _, body = cd.request("PATCH", "/v1/cargoes/my-cargo",
                                 body={"env": ["X={{vars.NOPE}}"]})
    check_error(status, body, 422, "invalid", "NOPE", "dev")
    assert cargo(cd, "my-cargo")["version"] == 2
    # Three replicas: distinct addresses, all answering, the cargo's name resolving to all.
    api(cd, "POST", "/v1/cargoes/my-cargo/scale", {"replicas": 3}, 200)
    c = running(cd, "my-cargo", 3)
    ips = sorted(i["ip"] for i in c["instances"])
    assert len(set(ips)) == 3
    assert all(ask(cd, ip)["CLUSTER"] == "DEV" for ip in ips)
    gw = api(cd, "GET", "/v1/clusters/dev/networks/front", want=200)["gateway"]
    r = cd.run("busybox", "nslookup", "my-cargo", gw)
    assert all(ip in r.stdout for ip in ips), r.stdout
    hist = api(cd, "GET", "/v1/cargoes/my-cargo/history", want=200)
    assert [h["version"] for h in hist] == [3, 2, 1] and hist[0]["current"]


def test_killed_instance_comes_back(cd):
    c = setup_cargo(cd, "kb", "crash")
    inst = c["instances"][0]
    pid = api(cd, "GET", f"/v1/containers/{inst['id']}", want=200)["pid"]
    subprocess.run(["kill", "-9", str(pid)], check=True)
    deadline = time.monotonic() + 10
    while True:
        s = api(cd, "GET", f"/v1/containers/{inst['id']}", want=200)
        if s["state"] == "running" and s["pid"] != pid:
            break
        assert time.monotonic() < deadline, s
        time.sleep(0.1)
    deadline = time.monotonic() + 5
    while ask(cd, inst["ip"]) is None:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    cd.request("DELETE", "/v1/cargoes/crash")


def test_failing_version_stops_rollout_old_keeps_answering(cd):
    c = setup_cargo(cd, "ro", "roll", replicas=2)
    ips = [i["ip"] for i in c["instances"]]
    failures, stop = [], threading.Event()

    def hammer():
        while not stop.is_set():
            for ip in ips:
                if ask(cd, ip) is None:
                    failures.append(ip)
            time.sleep(0.05)

    t = threading.Thread(target=hammer)
    t.start()
    try:
        api(cd, "PATCH", "/v1/cargoes/roll", {"cmd": ["sh", "-c", "exit 3"]}, 200)
        deadline = time.monotonic() + 30
        while not cargo(cd, "roll")["rollout"] or \
                any(i["version"] != 1 for i in cargo(cd, "roll")["instances"]):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        stop.set()
        t.join()
    c = cargo(cd, "roll")
    assert "stopped" in c["rollout"] and "version 2" in c["rollout"], c["rollout"]
    assert sorted(i["ip"] for i in c["instances"] if i["state"] == "running") == sorted(ips)
    assert all(i["version"] == 1 for i in c["instances"]), c["instances"]
    assert not failures, failures
    # Reverting to version 1 is a new version (3) that converges.
    api(cd, "POST", "/v1/cargoes/roll/revert", {"version": 1}, 200)
    c = running(cd, "roll", 2, version=3)
    assert c["rollout"] == ""
    cd.request("DELETE", "/v1/cargoes/roll")


def test_scale_up_and_down_keeps_running_instances(cd):
    first = setup_cargo(cd, "sc", "many")["instances"][0]["id"]
    api(cd, "POST", "/v1/cargoes/many/scale", {"replicas": 10}, 200)
    c = running(cd, "many", 10, timeout=90)
    assert sorted(i["instance"] for i in c["instances"]) == list(range(1, 11))
    ids = {i["instance"]: i["id"] for i in c["instances"]}
    assert ids[1] == first  # only replicas changed: nothing is replaced
    api(cd, "POST", "/v1/cargoes/many/scale", {"replicas": 2}, 200)
    c = running(cd, "many", 2, timeout=60)
    assert {i["instance"]: i["id"] for i in c["instances"]} == {1: ids[1], 2: ids[2]}
    # stop keeps them stopped (the loop does not restart them); start runs them again.
    cd.cli("cargo", "stop", "many", check=0)
    c = cargo(cd, "many")
    assert [i["state"] for i in c["instances"]] == ["exited", "exited"], c["instances"]
    time.sleep(1)
    assert [i["state"] for i in cargo(cd, "many")["instances"]] == ["exited", "exited"]
    cd.cli("cargo", "start", "many", check=0)
    running(cd, "many", 2)
    cd.request("DELETE", "/v1/cargoes/many")


def test_seed_tutorial_through_the_cli(cd):
    """The seed-era tutorial: a plain httpd first (nginx there), then `patch --image` to
    the app image, then a cluster variable in its env."""
    r = cd.cli("run", "--cluster", "tut", "--network", "front", "--image", IMAGE, "my-app",
               "--", "httpd", "-f", "-p", "80", "-h", "/etc", check=0)
    assert "global-tut-my-app-1" in r.stdout, r.stdout
    text = cd.cli("cargo", "inspect", "my-app", check=0).stdout
    for word in ("KEY", "IMAGE_NAME", "REPLICAS", "DNS_ENTRY", "NAMES", "NETWORK_SETTINGS"):
        assert word in text, text
    ip = cargo(cd, "my-app")["instances"][0]["ip"]
    assert ip in text
    assert "root:x:0:0" in cd.run(*BUSYBOX_WGET, f"http://{ip}/passwd", check=0).stdout
    cd.cli("cargo", "patch", "my-app", "set", "--image", "get-started:master", "--", check=0)
    c = running(cd, "my-app", 1, version=2)
    ip = c["instances"][0]["ip"]
    assert ask(cd, ip)["HTTP_HOST"].startswith(ip)
    cd.cli("cluster", "variable", "tut", "create", "CLUSTER", "DEV", check=0)
    cd.cli("cargo", "patch", "my-app", "set", "--env", "CLUSTER={{vars.CLUSTER}}", check=0)
    c = running(cd, "my-app", 1, version=3)
    assert ask(cd, c["instances"][0]["ip"])["CLUSTER"] == "DEV"
    hist = cd.cli("cargo", "history", "my-app", check=0).stdout
    assert "patched" in hist
    cd.cli("cargo", "rm", "my-app", check=0)
    cd.cli("cluster", "rm", "tut", check=0)


def test_cargo_rm_leaves_nothing(cd):
    setup_cargo(cd, "gone", "tmp", replicas=2)
    before = [x["name"] for x in api(cd, "GET", "/v1/containers?all=true", want=200)]
    assert "global-gone-tmp-1" in before
    status, _, _ = cd.request("DELETE", "/v1/cargoes/tmp")
    assert status == 204
    after = [x["name"] for x in api(cd, "GET", "/v1/containers?all=true", want=200)]
    assert not [n for n in after if n.startswith("global-gone-tmp")], after
    assert "tmp" not in [c["name"] for c in api(cd, "GET", "/v1/cargoes", want=200)]
    status, _, _ = cd.request("DELETE", "/v1/clusters/gone")
    assert status == 204


def test_bad_input(cd):
    api(cd, "POST", "/v1/cargoes", {"name": "bad", "image": IMAGE}, 201)
    for body, status_want, word in (
            ({"name": "x", "image": IMAGE, "replicas": -1}, 422, "replicas"),
            ({"name": "x", "image": IMAGE, "replicas": 5000}, 422, "replicas"),
            ({"name": "x"}, 422, "image"),
            ({"name": "x", "image": IMAGE, "restart": "sometimes"}, 422, "restart"),
            ({"name": "x", "image": IMAGE, "cluster": "a"}, 422, "cluster"),
            ({"name": "bad", "image": IMAGE}, 409, "already exists")):
        status, _, out = cd.request("POST", "/v1/cargoes", body=body)
        assert status == status_want and word in out["error"], (body, status, out)
    api(cd, "POST", "/v1/clusters", {"name": "bi"}, 201)
    api(cd, "POST", "/v1/clusters/bi/networks", {"name": "front"}, 201)
    for body, word in (({"network": "front", "cargo": "nope"}, "nope"),
                       ({"network": "nope", "cargo": "bad"}, "nope")):
        status, _, out = cd.request("POST", "/v1/clusters/bi/join", body=body)
        check_error(status, out, 404, "not_found", word)
    status, _, out = cd.request("POST", "/v1/clusters/none/join",
                                body={"network": "front", "cargo": "bad"})
    check_error(status, out, 404, "not_found", "none")
    status, _, out = cd.request("PATCH", "/v1/cargoes/nope", body={"replicas": 2})
    check_error(status, out, 404, "not_found", "nope")
    status, _, out = cd.request("POST", "/v1/cargoes/bad/scale", body={"replicas": "x"})
    check_error(status, out, 422, "invalid", "replicas")
    cd.request("DELETE", "/v1/cargoes/bad")
    cd.request("DELETE", "/v1/clusters/bi")


def test_kill9_during_rollout_converges(tmp_path_factory, archive):
    d = make_daemon(tmp_path_factory, archive)
    try:
        setup_cargo(d, "k9", "kr", replicas=3)
        api(d, "PATCH", "/v1/cargoes/kr", {"env": ["V=2"]}, 200)
        time.sleep(1.2)  # in the middle of replacing instance 1 or 2
        d.kill9()
        d.start()
        c = running(d, "kr", 3, version=2, timeout=60)
        assert sorted(i["name"] for i in c["instances"]) == [f"global-k9-kr-{n}"
                                                             for n in (1, 2, 3)]
        assert all(ask(d, i["ip"])["V"] == "2" for i in c["instances"])
        d.request("DELETE", "/v1/cargoes/kr")
        d.request("DELETE", "/v1/clusters/k9")
    finally:
        # The cargo first: its loop would make instances again while they are removed.
        d.request("DELETE", "/v1/cargoes/kr")
        for c in d.request("GET", "/v1/containers?all=true")[2]:
            d.cli("container", "rm", "-f", c["id"], check=None)
        d.teardown()


def test_variable_change_rolls_and_used_variable_stays(cd):
    api(cd, "POST", "/v1/clusters", {"name": "vr"}, 201)
    api(cd, "POST", "/v1/clusters/vr/networks", {"name": "front"}, 201)
    api(cd, "POST", "/v1/clusters/vr/variables", {"name": "MODE", "value": "one"}, 201)
    setup_cargo(cd, "vr", "varc", env=["MODE={{vars.MODE}}"],
                dns_entry="10.9.9.9:api.{{vars.MODE}}.test")
    c = running(cd, "varc", 1, version=1)
    assert ask(cd, c["instances"][0]["ip"])["MODE"] == "one"
    gw = api(cd, "GET", "/v1/clusters/vr/networks/front", want=200)["gateway"]
    r = cd.run("busybox", "nslookup", "api.one.test", gw)  # exit 1: no AAAA record
    assert "10.9.9.9" in r.stdout, r.stdout
    # The same value: nothing rolls. Another: a new version, rolled out.
    api(cd, "POST", "/v1/clusters/vr/variables", {"name": "MODE", "value": "one"}, 201)
    assert cargo(cd, "varc")["version"] == 1
    api(cd, "POST", "/v1/clusters/vr/variables", {"name": "MODE", "value": "two"}, 201)
    c = running(cd, "varc", 1, version=2)
    assert ask(cd, c["instances"][0]["ip"])["MODE"] == "two"
    assert "variable MODE" in api(cd, "GET", "/v1/cargoes/varc/history", want=200)[0]["note"]
    status, _, out = cd.request("DELETE", "/v1/clusters/vr/variables/MODE")
    check_error(status, out, 409, "conflict", "MODE", "varc")
    cd.request("DELETE", "/v1/cargoes/varc")
    cd.request("DELETE", "/v1/clusters/vr")


def test_health_check_replaces_and_gates_rollout(cd):
    health = {"cmd": ["sh", "-c", "test ! -f /tmp/sick"], "interval": 1, "retries": 2}
    c = setup_cargo(cd, "hc", "healthy", health=health)
    old = c["instances"][0]["id"]
    cd.cli("container", "exec", old, "sh", "-c", "echo > /tmp/sick", check=0)
    deadline = time.monotonic() + 20
    while True:
        c = cargo(cd, "healthy")
        ids = [i["id"] for i in c["instances"] if i["state"] == "running"]
        if ids and old not in ids:
            break
        assert time.monotonic() < deadline, c
        time.sleep(0.2)
    # A version whose check never passes: the rollout stops, the old instance stays.
    api(cd, "PATCH", "/v1/cargoes/healthy",
        {"health": {"cmd": ["false"], "interval": 1, "retries": 2}}, 200)
    deadline = time.monotonic() + 30
    while "health" not in cargo(cd, "healthy")["rollout"]:
        assert time.monotonic() < deadline, cargo(cd, "healthy")
        time.sleep(0.2)
    while [i["version"] for i in cargo(cd, "healthy")["instances"]] != [1]:
        assert time.monotonic() < deadline, cargo(cd, "healthy")  # the new one goes
        time.sleep(0.1)
    cd.request("DELETE", "/v1/cargoes/healthy")


def test_pull_policy_never_with_a_missing_image(cd):
    api(cd, "POST", "/v1/clusters", {"name": "pp"}, 201)
    api(cd, "POST", "/v1/clusters/pp/networks", {"name": "front"}, 201)
    api(cd, "POST", "/v1/cargoes", {"name": "nopull", "image": "nowhere/none:1",
                                    "pull_policy": "never"}, 201)
    api(cd, "POST", "/v1/clusters/pp/join", {"network": "front", "cargo": "nopull"}, 204)
    deadline = time.monotonic() + 10
    while "never" not in cargo(cd, "nopull")["rollout"]:
        assert time.monotonic() < deadline, cargo(cd, "nopull")
        time.sleep(0.1)
    assert cargo(cd, "nopull")["instances"] == []
    cd.request("DELETE", "/v1/cargoes/nopull")
    cd.request("DELETE", "/v1/clusters/pp")


def test_published_port_follows_a_rollout(cd):
    c = setup_cargo(cd, "pb", "pubapp", publish=["18085:9000"], env=["V=1"])
    r = cd.run(*BUSYBOX_WGET, "http://127.0.0.1:18085/cgi-bin/app", check=0)
    assert json.loads(r.stdout)["V"] == "1"
    api(cd, "PATCH", "/v1/cargoes/pubapp", {"env": ["V=2"]}, 200)
    c = running(cd, "pubapp", 1, version=2)
    assert c["rollout"] == "", c["rollout"]
    deadline = time.monotonic() + 10
    while True:
        r = cd.run(*BUSYBOX_WGET, "http://127.0.0.1:18085/cgi-bin/app")
        if r.returncode == 0 and json.loads(r.stdout)["V"] == "2":
            break
        assert time.monotonic() < deadline, (r.stdout, r.stderr, cd.nft())
        time.sleep(0.1)
    cd.request("DELETE", "/v1/cargoes/pubapp")
    cd.request("DELETE", "/v1/clusters/pb")


def test_join_wait_answers_once_started_or_says_why(cd):
    """?wait=true: the join answers with the cargo once its instances are started, or
    with the rollout's reason when they cannot be; nothing to poll."""
    api(cd, "POST", "/v1/clusters", {"name": "jw"}, 201)
    api(cd, "POST", "/v1/clusters/jw/networks", {"name": "front"}, 201)
    api(cd, "POST", "/v1/cargoes", {"name": "jwok", "image": IMAGE, "cmd": ["sh", "-c", APP],
                                    "replicas": 2}, 201)
    c = api(cd, "POST", "/v1/clusters/jw/join?wait=true", {"network": "front", "cargo": "jwok"},
            200)
    assert c["name"] == "jwok"
    assert sorted(i["state"] for i in c["instances"]) == ["running", "running"], c
    # scale and patch too: the answer comes once the loop has done it
    c = api(cd, "POST", "/v1/cargoes/jwok/scale?wait=true", {"replicas": 3}, 200)
    assert [i["state"] for i in c["instances"]] == ["running"] * 3, c
    c = api(cd, "PATCH", "/v1/cargoes/jwok?wait=true", {"env": ["V=2"]}, 200)
    assert c["version"] == 3 and c["rollout"] == "", c
    assert sorted((i["version"], i["state"], i["name"]) for i in c["instances"]) == [
        (3, "running", f"global-jw-jwok-{n}") for n in (1, 2, 3)], c["instances"]
    # an image that is not there and may not be pulled: answered, with why
    api(cd, "POST", "/v1/cargoes", {"name": "jwbad", "image": "nowhere/none:1",
                                    "pull_policy": "never"}, 201)
    c = api(cd, "POST", "/v1/clusters/jw/join?wait=true", {"network": "front", "cargo": "jwbad"},
            200)
    assert c["instances"] == [] and "never" in c["rollout"], c
    status, _, out = cd.request("POST", "/v1/clusters/jw/join?wait=maybe",
                                body={"network": "front", "cargo": "jwok"})
    assert status == 400 and "wait" in out["error"], out
    for name in ("jwok", "jwbad"):
        cd.request("DELETE", f"/v1/cargoes/{name}")
    cd.request("DELETE", "/v1/clusters/jw")
