"""Clusters, variables and networks made real: Linux bridges, veth pairs, addresses,
nftables isolation and NAT, dnsmasq names, published ports. Every nanocld here runs in
a network namespace the test made (netns.NetnsDaemon), with busybox containers."""

import json
import re
import subprocess
import threading
import time

import pytest

from conftest import check_error
from netns import NetnsDaemon
from registry import images  # noqa: F401

pytestmark = pytest.mark.skipif(all(subprocess.run(["which", r], capture_output=True).returncode
                                    for r in ("crun", "runc")),
                                reason="neither crun nor runc is installed")

IMAGE = "busybox:1.0"
# busybox 1.35's wget -T crashes (SIGSEGV): its timeout applet bounds it instead.
BUSYBOX_WGET = ("busybox", "timeout", "3", "busybox", "wget", "-q", "-O", "-")  # the host's


@pytest.fixture(scope="module")
def archive(tmp_path_factory, images):
    f = tmp_path_factory.mktemp("netimg") / "busybox-oci.tar"
    r = subprocess.run(["skopeo", "copy", "--quiet", f"oci:{images.layout.path}:busybox",
                        f"oci-archive:{f}"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return f


def make_daemon(tmp_path_factory, archive, **kw):
    d = NetnsDaemon(tmp_path_factory.mktemp("netd"), **kw)
    try:
        d.cli("container-image", "import", archive, IMAGE, check=0)
    except BaseException:
        d.teardown()  # its netns and run dir go even when the fixture never yields
        raise
    return d


@pytest.fixture(scope="module")
def nd(tmp_path_factory, archive):
    d = make_daemon(tmp_path_factory, archive)
    yield d
    for c in d.request("GET", "/v1/containers?all=true")[2]:
        d.cli("container", "rm", "-f", c["id"], check=None)
    d.teardown()


def api(d, method, path, body=None, want=None):
    status, _, out = d.request(method, path, body=body)
    if want is not None:
        assert status == want, (method, path, status, out)
    return out


def cluster(d, name, *networks):
    api(d, "POST", "/v1/clusters", {"name": name}, 201)
    return [api(d, "POST", f"/v1/clusters/{name}/networks", {"name": n}, 201) for n in networks]


def run_on(d, cl, net, name, *cmd, publish=()):
    args = ["container", "run", "-d", "--name", name, "--cluster", cl, "--network", net]
    for p in publish:
        args += ["-p", p]
    d.cli(*args, IMAGE, *cmd, check=0)
    return ip_of(d, name)


def ip_of(d, name):
    return api(d, "GET", f"/v1/containers/{name}", want=200)["network_settings"]["ip"]


def httpd(d, cl, net, name, text=None, publish=()):
    """A container serving `text` (default its name) over HTTP on port 80."""
    body = text or name
    return run_on(d, cl, net, name, "sh", "-c",
                  f"mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p 80 -h /www",
                  publish=publish)


def wget(d, name, url, timeout=3):
    return d.cli("container", "exec", name, "timeout", str(timeout), "wget", "-q", "-O", "-", url)


def rm_cluster(d, name):
    d.cli("cluster", "rm", name, check=0)


# ------------------------------------------------------------------ clusters, variables

def test_cluster_and_variable_cli(nd):
    nd.cli("cluster", "create", "cv", check=0)
    r = nd.cli("cluster", "create", "cv", check=1)
    assert "already exists" in r.stderr
    assert "cv" in nd.cli("cluster", "ls", check=0).stdout
    nd.cli("cluster", "variable", "cv", "create", "CLUSTER", "DEV", check=0)
    nd.cli("cluster", "variable", "cv", "create", "DOMAIN", "example.test", check=0)
    nd.cli("cluster", "variable", "cv", "create", "DOMAIN", "dev.example.test", check=0)
    ls = nd.cli("cluster", "variable", "cv", "ls", check=0).stdout
    assert re.search(r"DOMAIN\s+dev\.example\.test", ls), ls
    r = nd.cli("cluster", "variable", "cv", "create", "bad-name", "x", check=1)
    assert "variable name" in r.stderr
    r = nd.cli("cluster", "variable", "nope", "create", "A", "x", check=1)
    assert "cluster 'nope' does not exist" in r.stderr
    nd.cli("cluster", "variable", "cv", "rm", "CLUSTER", check=0)
    r = nd.cli("cluster", "variable", "cv", "rm", "CLUSTER", check=1)
    assert "does not exist" in r.stderr
    out = json.loads(nd.cli("-o", "json", "cluster", "inspect", "cv", check=0).stdout)
    assert out["variables"] == {"DOMAIN": "dev.example.test"}
    text = nd.cli("cluster", "inspect", "cv", check=0).stdout
    for section in ("CLUSTER", "VARIABLES", "NETWORKS", "CONTAINERS", "DEFAULT_GATEWAY"):
        assert section in text, text
    rm_cluster(nd, "cv")
    assert api(nd, "GET", "/v1/clusters/cv")["kind"] == "not_found"


def test_cluster_errors(nd):
    status, _, body = nd.request("POST", "/v1/clusters", body={"name": "Bad_Name"})
    check_error(status, body, 422, "invalid", "Bad_Name")
    status, _, body = nd.request("POST", "/v1/clusters?namespace=nope", body={"name": "x"})
    check_error(status, body, 404, "not_found", "nope")
    status, _, body = nd.request("POST", "/v1/clusters/none/networks", body={"name": "n"})
    check_error(status, body, 404, "not_found", "none")


# ------------------------------------------------------------------ networks

def test_network_bridge_subnet_and_removal(nd):
    (n,) = cluster(nd, "nb", "front")
    assert re.fullmatch(r"nc-[0-9a-f]{8}", n["bridge"]), n
    assert n["subnet"].endswith(".0/24") and n["gateway"].endswith(".1"), n
    addr = nd.run("ip", "-o", "-4", "addr", "show", "dev", n["bridge"], check=0).stdout
    assert f"{n['gateway']}/24" in addr
    assert n["bridge"] in nd.nft()
    assert nd.run("cat", "/proc/sys/net/ipv4/ip_forward", check=0).stdout.strip() == "1"
    assert "enabled IPv4 forwarding" in nd.log()
    ls = nd.cli("cluster", "network", "nb", "ls", check=0).stdout
    assert re.search(rf"front\s+{n['bridge']}\s+{re.escape(n['subnet'])}\s+{n['gateway']}", ls)
    (m,) = [api(nd, "POST", "/v1/clusters/nb/networks", {"name": "back"}, 201)]
    assert m["subnet"] != n["subnet"]
    nd.cli("cluster", "network", "nb", "rm", "front", check=0)
    assert n["bridge"] not in nd.links() and n["bridge"] not in nd.nft()
    rm_cluster(nd, "nb")
    assert m["bridge"] not in nd.links()


def test_network_bad_input_leaves_nothing(nd):
    cluster(nd, "nbad")
    before_links, before_nft = nd.links(), nd.nft()
    cases = [({"name": "x", "subnet": "10.1.2.3/24"}, 422, "subnet"),
             ({"name": "x", "subnet": "nonsense"}, 422, "subnet"),
             ({"name": "x", "subnet": "10.0.0.0/31"}, 422, "subnet"),
             ({"name": "a" * 64}, 422, "network"),
             ({"name": "x", "bridge": "a-very-long-bridge-name"}, 422, "bridge"),
             ({"name": "x", "other": 1}, 422, "other")]
    for body, status_want, word in cases:
        status, _, out = nd.request("POST", "/v1/clusters/nbad/networks", body=body)
        assert status == status_want and word in out["error"], (body, status, out)
    api(nd, "POST", "/v1/clusters/nbad/networks", {"name": "one", "subnet": "10.77.0.0/24"}, 201)
    status, _, out = nd.request("POST", "/v1/clusters/nbad/networks",
                                body={"name": "two", "subnet": "10.77.0.128/25"})
    check_error(status, out, 409, "conflict", "overlaps", "one")
    status, _, out = nd.request("POST", "/v1/clusters/nbad/networks",
                                body={"name": "one", "subnet": "10.78.0.0/24"})
    check_error(status, out, 409, "conflict", "already exists")
    # A bridge name some interface of the host already has.
    nd.run("ip", "link", "add", "taken0", "type", "bridge", check=0)
    status, _, out = nd.request("POST", "/v1/clusters/nbad/networks",
                                body={"name": "three", "bridge": "taken0"})
    check_error(status, out, 409, "conflict", "taken0")
    # A subnet overlapping a route of the host.
    nd.run("ip", "addr", "add", "10.79.1.1/16", "dev", "taken0", check=0)
    status, _, out = nd.request("POST", "/v1/clusters/nbad/networks",
                                body={"name": "four", "subnet": "10.79.5.0/24"})
    check_error(status, out, 409, "conflict", "route")
    nd.run("ip", "link", "del", "taken0", check=0)
    nets = api(nd, "GET", "/v1/clusters/nbad/networks", want=200)
    assert [n["name"] for n in nets] == ["one"]
    rm_cluster(nd, "nbad")
    assert nd.links() == before_links
    assert nd.nft() == before_nft


# ------------------------------------------------------------------ containers on networks

def test_same_network_reaches_names_resolve_other_networks_do_not(nd):
    cluster(nd, "iso", "front", "back")
    cluster(nd, "iso2", "front")
    a = httpd(nd, "iso", "front", "web-a")
    b = run_on(nd, "iso", "front", "cli-b", "sleep", "600")
    run_on(nd, "iso", "back", "cli-c", "sleep", "600")
    run_on(nd, "iso2", "front", "cli-d", "sleep", "600")
    # Positive controls: cli-c and cli-d do reach their own networks' servers and names.
    httpd(nd, "iso", "back", "web-c")
    httpd(nd, "iso2", "front", "web-d")
    for client, server in (("cli-c", "web-c"), ("cli-d", "web-d")):
        r = wget(nd, client, f"http://{server}/")
        assert r.returncode == 0 and r.stdout.strip() == server, (client, r.stdout, r.stderr)
    assert a != b
    r = wget(nd, "cli-b", f"http://{a}/")
    assert r.returncode == 0 and r.stdout.strip() == "web-a", (r.stdout, r.stderr)
    # By name, through the network's DNS server (dnsmasq on the gateway).
    r = wget(nd, "cli-b", "http://web-a/")
    assert r.returncode == 0 and r.stdout.strip() == "web-a", (r.stdout, r.stderr)
    r = nd.cli("container", "exec", "cli-b", "nslookup", "web-a")
    assert a in r.stdout, r.stdout
    r = nd.cli("container", "exec", "cli-b", "cat", "/etc/resolv.conf", "/etc/hosts", check=0)
    gw = api(nd, "GET", "/v1/clusters/iso/networks/front", want=200)["gateway"]
    assert f"nameserver {gw}" in r.stdout and b in r.stdout
    # Another network of the cluster, and another cluster: nothing gets through.
    for other in ("cli-c", "cli-d"):
        r = wget(nd, other, f"http://{a}/", timeout=2)
        assert r.returncode != 0, (other, r.stdout)
    # Names of other networks do not resolve.
    r = nd.cli("container", "exec", "cli-c", "nslookup", "web-a")
    assert a not in r.stdout
    # The host reaches containers (it is the gateway).
    r = nd.run(*BUSYBOX_WGET, f"http://{a}/")
    assert r.stdout.strip() == "web-a", r.stderr
    ins = json.loads(nd.cli("-o", "json", "cluster", "inspect", "iso", check=0).stdout)
    ips = {c["name"]: c["ip"] for c in ins["containers"]}
    assert ips["web-a"] == a and ips["cli-b"] == b
    rm_cluster(nd, "iso")
    rm_cluster(nd, "iso2")


def test_published_port_from_host_and_loopback(nd):
    cluster(nd, "pub", "front")
    httpd(nd, "pub", "front", "pweb", publish=("18080:80",))
    hostaddr = "10.250.9.1"
    nd.run("ip", "link", "add", "uplink0", "type", "bridge", check=0)
    nd.run("ip", "addr", "add", f"{hostaddr}/24", "dev", "uplink0", check=0)
    nd.run("ip", "link", "set", "uplink0", "up", check=0)
    for url in ("http://127.0.0.1:18080/", f"http://{hostaddr}:18080/"):
        r = nd.run(*BUSYBOX_WGET, url)
        assert r.returncode == 0 and r.stdout.strip() == "pweb", (url, r.stderr, nd.nft())
    s = api(nd, "GET", "/v1/containers/pweb", want=200)["network_settings"]
    assert s["ports"] == ["18080:80/tcp"]
    # Taken by another container, or by a process of the host: 409, nothing created.
    status, _, out = nd.request("POST", "/v1/containers", body={
        "name": "p2", "image": IMAGE, "cluster": "pub", "network": "front",
        "publish": ["18080:80"]})
    check_error(status, out, 409, "conflict", "18080", "pweb")
    holder = subprocess.Popen(["nsenter", f"--net={nd.netns_path}", "--", "busybox", "nc",
                               "-l", "-p", "18081"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        status, _, out = nd.request("POST", "/v1/containers", body={
            "name": "p3", "image": IMAGE, "cluster": "pub", "network": "front",
            "publish": ["18081:80"]})
        check_error(status, out, 409, "conflict", "18081", "in use")
    finally:
        holder.kill()
        holder.wait()
    names = [c["name"] for c in api(nd, "GET", "/v1/containers?all=true", want=200)]
    assert "p2" not in names and "p3" not in names
    for bad, word in (("80", "expected"), ("0:80", "1-65535"), ("1:2/sctp", "tcp or udp"),
                      ("x.y:1:2", "IPv4")):
        status, _, out = nd.request("POST", "/v1/containers", body={
            "name": "p4", "image": IMAGE, "cluster": "pub", "network": "front", "publish": [bad]})
        check_error(status, out, 422, "invalid", word)
    status, _, out = nd.request("POST", "/v1/containers", body={
        "name": "p5", "image": IMAGE, "publish": ["18082:80"]})
    check_error(status, out, 422, "invalid", "network")
    nd.cli("container", "rm", "-f", "pweb", check=0)
    assert "18080" not in nd.nft()
    nd.run("ip", "link", "del", "uplink0", check=0)
    rm_cluster(nd, "pub")


def test_network_in_use_and_container_without_network(nd):
    cluster(nd, "use", "front")
    run_on(nd, "use", "front", "user1", "sleep", "600")
    status, _, out = nd.request("DELETE", "/v1/clusters/use/networks/front")
    check_error(status, out, 409, "conflict", "user1")
    r = nd.cli("container", "run", "--rm", IMAGE, "sh", "-c", "ip -o link | wc -l", check=0)
    assert r.stdout.strip() == "1"  # only lo
    r = nd.cli("container", "run", "--rm", "--cluster", "use", "--network", "nope", IMAGE,
               "true", check=1)
    assert "network 'nope' does not exist" in r.stderr
    r = nd.cli("container", "run", "--rm", "--network", "front", IMAGE, "true", check=1)
    assert "cluster" in r.stderr
    rm_cluster(nd, "use")


def test_cluster_rm_leaves_nothing(nd):
    before_links, before_nft = nd.links(), nd.nft()
    netns_dir = nd.run_dir / "netns"
    before_ns = sorted(p.name for p in netns_dir.iterdir()) if netns_dir.exists() else []
    cluster(nd, "gone", "a", "b")
    for i in range(3):
        run_on(nd, "gone", "a" if i % 2 else "b", f"g{i}", "sleep", "600")
    assert "nv" in nd.links()
    nd.cli("cluster", "rm", "gone", check=0)
    # The veths go with their namespaces, which the kernel destroys in the background.
    deadline = time.monotonic() + 5
    while nd.links() != before_links and time.monotonic() < deadline:
        time.sleep(0.05)
    assert nd.links() == before_links
    assert nd.nft() == before_nft
    assert sorted(p.name for p in netns_dir.iterdir()) == before_ns
    with open("/proc/mounts") as f:
        assert str(netns_dir) not in f.read()
    assert not list((nd.run_dir / "dns").glob("*.pid"))
    assert api(nd, "GET", "/v1/containers?all=true", want=200) == []


def test_concurrent_creates_never_share_an_address(nd):
    cluster(nd, "conc", "front")
    results, errors = [], []

    def create(i):
        status, _, out = nd.request("POST", "/v1/containers", body={
            "name": f"c{i}", "image": IMAGE, "cluster": "conc", "network": "front",
            "cmd": ["true"]})
        (results if status == 201 else errors).append(out)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    ips = [ip_of(nd, f"c{i}") for i in range(24)]
    assert len(set(ips)) == 24, ips
    rm_cluster(nd, "conc")


def test_subnet_exhaustion(nd):
    api(nd, "POST", "/v1/clusters", {"name": "full"}, 201)
    api(nd, "POST", "/v1/clusters/full/networks", {"name": "n", "subnet": "10.66.0.0/24"}, 201)
    ips = set()
    for i in range(253):
        out = api(nd, "POST", "/v1/containers", {"name": f"f{i}", "image": IMAGE,
                                                 "cluster": "full", "network": "n"}, 201)
        ips.add(ip_of(nd, f"f{i}"))
    assert len(ips) == 253 and "10.66.0.254" in ips and "10.66.0.1" not in ips
    status, _, out = nd.request("POST", "/v1/containers", body={
        "name": "f-last", "image": IMAGE, "cluster": "full", "network": "n"})
    check_error(status, out, 409, "conflict", "no address left")
    # A freed address is given again.
    nd.cli("container", "rm", "f100", check=0)
    api(nd, "POST", "/v1/containers", {"name": "f-again", "image": IMAGE, "cluster": "full",
                                       "network": "n"}, 201)
    assert ip_of(nd, "f-again") == "10.66.0.102"
    rm_cluster(nd, "full")


def test_kill9_restart_keeps_connectivity(tmp_path_factory, archive):
    d = make_daemon(tmp_path_factory, archive)
    try:
        cluster(d, "k", "front")
        a = httpd(d, "k", "front", "kweb", publish=("18090:80",))
        run_on(d, "k", "front", "kcli", "sleep", "600")
        dns_pids = sorted(p.read_text() for p in (d.run_dir / "dns").glob("*.pid"))
        d.kill9()
        # While nanocld is away, the network and names keep working.
        r = d.run(*BUSYBOX_WGET, f"http://{a}/")
        assert r.stdout.strip() == "kweb"
        d.start()
        assert sorted(p.read_text() for p in (d.run_dir / "dns").glob("*.pid")) == dns_pids
        r = wget(d, "kcli", "http://kweb/")
        assert r.returncode == 0 and r.stdout.strip() == "kweb", r.stderr
        r = d.run(*BUSYBOX_WGET, "http://127.0.0.1:18090/")
        assert r.stdout.strip() == "kweb", r.stderr
        b = run_on(d, "k", "front", "knew", "sleep", "600")
        assert b not in (a, ip_of(d, "kcli"))
        assert d.links().count("nv") == 3
        d.cli("cluster", "rm", "k", check=0)
    finally:
        for c in d.request("GET", "/v1/containers?all=true")[2]:
            d.cli("container", "rm", "-f", c["id"], check=None)
        d.teardown()


def test_outbound_is_masqueraded_and_ports_reach_from_outside(nd, tmp_path):
    """An 'outside' host: another namespace on a veth from the daemon's. A container reaches
    it with the daemon's address as source (masquerade; the outside has no route back to
    container subnets), and the outside reaches a published port."""
    outside, lan = f"{nd.netns}-out", f"{nd.netns}-lan"
    subprocess.run(["ip", "netns", "add", outside], check=True)
    out_path = f"/run/netns/{outside}"
    cgi = tmp_path / "www" / "cgi-bin"
    cgi.mkdir(parents=True)
    (cgi / "peer").write_text("#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n'\n"
                              "echo \"$REMOTE_ADDR\"\n")
    (cgi / "peer").chmod(0o755)
    server = None
    try:
        nd.run("ip", "link", "add", "up0", "type", "veth", "peer", "name", "out0", "netns",
               outside, check=0)
        nd.sh("ip addr add 10.250.8.1/24 dev up0 && ip link set up0 up", check=0)
        subprocess.run(["nsenter", f"--net={out_path}", "--", "sh", "-c",
                        "ip link set lo up && ip addr add 10.250.8.2/24 dev out0 && "
                        "ip link set out0 up"], check=True)
        server = subprocess.Popen(["nsenter", f"--net={out_path}", "--", "busybox", "httpd",
                                   "-f", "-p", "10.250.8.2:80", "-h", str(tmp_path / "www")])
        cluster(nd, "nat", "front")
        httpd(nd, "nat", "front", "natweb", publish=("18070:80",))
        run_on(nd, "nat", "front", "natcli", "sleep", "600")
        deadline = time.monotonic() + 5
        while True:
            r = wget(nd, "natcli", "http://10.250.8.2/cgi-bin/peer")
            if r.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert r.returncode == 0 and r.stdout.strip() == "10.250.8.1", (r.stdout, r.stderr)
        r = subprocess.run(["nsenter", f"--net={out_path}", "--", *BUSYBOX_WGET,
                            "http://10.250.8.1:18070/"], capture_output=True, text=True)
        assert r.stdout.strip() == "natweb", (r.stdout, r.stderr)
        # nanocld turned forwarding on: the host must not route between its other
        # interfaces (a "lan" namespace reaching the outside through it).
        subprocess.run(["ip", "netns", "add", lan], check=True)
        lan_path = f"/run/netns/{lan}"
        nd.run("ip", "link", "add", "up1", "type", "veth", "peer", "name", "lan0", "netns",
               lan, check=0)
        nd.sh("ip addr add 10.250.7.1/24 dev up1 && ip link set up1 up", check=0)
        subprocess.run(["nsenter", f"--net={lan_path}", "--", "sh", "-c",
                        "ip link set lo up && ip addr add 10.250.7.2/24 dev lan0 && "
                        "ip link set lan0 up && ip route add default via 10.250.7.1"],
                       check=True)
        subprocess.run(["nsenter", f"--net={out_path}", "--", "ip", "route", "add",
                        "10.250.7.0/24", "via", "10.250.8.1"], check=True)
        r = subprocess.run(["nsenter", f"--net={lan_path}", "--", *BUSYBOX_WGET,
                            "http://10.250.8.2/cgi-bin/peer"], capture_output=True, text=True)
        assert r.returncode != 0, ("forwarded between the host's own interfaces", r.stdout)
        assert "drop" in nd.nft()
        rm_cluster(nd, "nat")
    finally:
        if server:
            server.kill()
            server.wait()
        for ns in (outside, lan):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        nd.run("ip", "link", "del", "up0")
        nd.run("ip", "link", "del", "up1")


def test_cluster_start_and_network_of_another_cluster(nd):
    cluster(nd, "st", "front")
    cluster(nd, "st2", "other")
    for i in range(3):
        api(nd, "POST", "/v1/containers", {"name": f"st{i}", "image": IMAGE, "cluster": "st",
                                           "network": "front", "cmd": ["sleep", "600"]}, 201)
    r = nd.cli("cluster", "start", "st", check=0)
    assert r.stdout.strip() == "st"
    states = {c["name"]: c["state"] for c in api(nd, "GET", "/v1/containers?all=true", want=200)}
    assert all(states[f"st{i}"] == "running" for i in range(3)), states
    status, _, out = nd.request("POST", "/v1/containers", body={
        "name": "x", "image": IMAGE, "cluster": "st", "network": "other"})
    check_error(status, out, 404, "not_found", "other", "st")
    rm_cluster(nd, "st")
    rm_cluster(nd, "st2")


UPSTREAM = r"""
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 5353))
print("ready", flush=True)
while True:
    q, peer = s.recvfrom(512)
    qid, = struct.unpack("!H", q[:2])
    end = 12
    while q[end]:
        end += q[end] + 1
    qtype, = struct.unpack("!H", q[end + 1:end + 3])
    question = q[12:end + 5]
    an = struct.pack("!HHHLH", 0xC00C, 1, 1, 60, 4) + bytes([10, 7, 7, 7]) if qtype == 1 else b""
    s.sendto(struct.pack("!HHHHHH", qid, 0x8180, 1, 1 if an else 0, 0, 0) + question + an, peer)
"""


def test_other_names_go_upstream(tmp_path_factory, archive):
    d = make_daemon(tmp_path_factory, archive, extra_args=["--dns-upstream", "127.0.0.1:5353"])
    server = subprocess.Popen(["nsenter", f"--net={d.netns_path}", "--", "/usr/bin/python3",
                               "-c", UPSTREAM], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        cluster(d, "up", "front")
        run_on(d, "up", "front", "asker", "sleep", "600")
        r = d.cli("container", "exec", "asker", "nslookup", "somewhere.example.test")
        assert "10.7.7.7" in r.stdout, (r.stdout, r.stderr)
        r = d.cli("container", "exec", "asker", "nslookup", "asker")
        assert ip_of(d, "asker") in r.stdout  # its own network's names stay local
        d.cli("cluster", "rm", "up", check=0)
    finally:
        server.kill()
        server.wait()
        for c in d.request("GET", "/v1/containers?all=true")[2]:
            d.cli("container", "rm", "-f", c["id"], check=None)
        d.teardown()
