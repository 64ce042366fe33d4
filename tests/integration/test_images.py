"""Pulling images from a real registry (docker-registry) with the real nanocld and nanocl:
the CLI and the raw API, what lands on disk, the unpacked tree against `umoci unpack`,
platforms, Docker schema 2 manifests, bearer tokens, malformed references."""

import re
import stat

import pytest

from conftest import check_error, free_tcp_port
from images_build import chain_ids
from images_check import (CONFIG_FIELDS, IMAGE_FIELDS, LAYER_FIELDS, api_pull,
                          assert_same_tree, blob_path, cli_json, done_image, get_image,
                          image_overlay, layer_path, sha256_file)
from registry import (bearer_registry, image_daemon, images,  # noqa: F401
                      insecure_args, registry)

TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
PHASES = {"waiting", "downloading", "downloaded", "exists", "extracting", "extracted"}


@pytest.fixture(scope="module")
def idaemon(tmp_path_factory, registry, bearer_registry):
    d = image_daemon(tmp_path_factory, registry, bearer_registry)
    yield d
    d.teardown()


def pull(d, ref, *extra, verb="create"):
    return d.cli("container-image", verb, ref, *extra, check=0)


def check_image_object(img):
    for f in IMAGE_FIELDS:
        assert f in img, f"image object lacks {f!r}: {sorted(img)}"
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", img["id"]), img["id"]
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", img["digest"]), img["digest"]
    assert TIME_RE.match(img["pulled_at"]), img["pulled_at"]
    assert isinstance(img["size"], int)
    for layer in img["layers"]:
        for f in LAYER_FIELDS:
            assert f in layer, f"layer object lacks {f!r}: {layer}"
    for f in CONFIG_FIELDS:
        assert f in img["config"], f"config lacks {f!r}: {img['config']}"


def check_facts(img, facts):
    """The image object against what the OCI layout says."""
    assert img["id"] == facts["id"]
    assert img["digest"] == facts["digest"]
    assert img["os"] == "linux" and img["architecture"] == "amd64"
    assert img["size"] == facts["size"], "size is the sum of the compressed layer sizes"
    assert [l["digest"] for l in img["layers"]] == facts["layer_digests"]
    assert [l["diff_id"] for l in img["layers"]] == facts["diff_ids"]
    assert [l["chain_id"] for l in img["layers"]] == facts["chain_ids"]
    assert [l["size"] for l in img["layers"]] == facts["layer_sizes"]
    assert [l["media_type"] for l in img["layers"]] == facts["media_types"]
    cfg = facts["config"]["config"]
    assert img["config"]["Env"] == cfg["Env"]
    assert img["config"]["Cmd"] == cfg["Cmd"]
    assert img["config"]["Labels"] == cfg["Labels"]
    assert img["config"]["WorkingDir"] == cfg["WorkingDir"]
    assert TIME_RE.match(img["created"]), img["created"]
    assert img["created"][:19] == facts["config"]["created"][:19]


# --------------------------------------------------------------------------- pull + ls


def test_create_pulls_and_ls_lists(idaemon, registry, images):
    ref = f"{registry.addr}/busybox:1.0"
    pull(idaemon, ref)
    facts = images.facts("busybox")
    listed = cli_json(idaemon, "container-image", "ls")
    assert isinstance(listed, list)
    mine = [i for i in listed if ref in i["names"]]
    assert len(mine) == 1, f"{ref} not listed once: {listed}"
    check_image_object(mine[0])
    check_facts(mine[0], facts)

    out = idaemon.cli("container-image", "ls", check=0).stdout.splitlines()
    header = out[0]
    cols = [header.find(c) for c in ("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE")]
    assert -1 not in cols and cols == sorted(cols), f"bad header: {header!r}"
    rows = [l for l in out[1:] if l.split()[:2] == [f"{registry.addr}/busybox", "1.0"]]
    assert len(rows) == 1, out
    assert facts["id"][7:19] in rows[0], f"short id not in row: {rows[0]!r}"

    quiet = idaemon.cli("container-image", "ls", "-q", check=0).stdout.split()
    assert any(facts["id"][7:].startswith(q.replace("sha256:", "")) and len(q) >= 12
               for q in quiet), quiet


@pytest.mark.parametrize("argv", [("container-image", "pull"), ("image", "pull"),
                                  ("image", "create")])
def test_pull_aliases(idaemon, registry, argv):
    ref = f"{registry.addr}/layered:1.0"
    idaemon.cli(*argv, ref, check=0)
    assert get_image(idaemon, ref) is not None


def test_inspect(idaemon, registry, images):
    ref = f"{registry.addr}/layered:1.0"
    pull(idaemon, ref)
    img = cli_json(idaemon, "container-image", "inspect", ref)
    check_image_object(img)
    check_facts(img, images.facts("layered"))
    assert ref in img["names"]
    assert img["layers"][-1]["chain_id"] == chain_ids(images.facts("layered")["diff_ids"])[-1]
    # by id, by a 12-digit prefix, YAML by default
    assert cli_json(idaemon, "container-image", "inspect", img["id"])["id"] == img["id"]
    assert cli_json(idaemon, "container-image", "inspect", img["id"][7:19])["id"] == img["id"]
    yaml = idaemon.cli("container-image", "inspect", ref, check=0).stdout
    assert re.search(r"^id: ['\"]?" + img["id"], yaml, re.M), yaml[:400]
    # the API agrees, with the ref unescaped in the path
    status, _, body = idaemon.request("GET", f"/v1/images/{ref}")
    assert status == 200 and body["id"] == img["id"]


def test_blobs_and_layers_on_disk(idaemon, registry, images):
    ref = f"{registry.addr}/layered:1.0"
    pull(idaemon, ref)
    facts = images.facts("layered")
    for digest in facts["layer_digests"]:
        p = blob_path(idaemon, digest)
        assert p.is_file(), f"blob {digest} not at {p}"
        assert sha256_file(p) == digest
    for chain in facts["chain_ids"]:
        assert layer_path(idaemon, chain).is_dir(), f"layer {chain} not unpacked"


# --------------------------------------------------------------------------- correctness


@pytest.mark.parametrize("tag", ["busybox", "layered"])
def test_overlay_equals_umoci_unpack(idaemon, registry, images, tag):
    ref = f"{registry.addr}/{tag}:1.0"
    pull(idaemon, ref)
    assert_same_tree(images.unpacked(tag), idaemon, get_image(idaemon, ref))


def test_layered_details(idaemon, registry):
    """The same as above, spelled out, so a failure says which feature broke."""
    ref = f"{registry.addr}/layered:1.0"
    pull(idaemon, ref)
    with image_overlay(idaemon, get_image(idaemon, ref)) as root:
        gone = ["data/rmfile", "data/gone", "opq/old1", "opq/olddir", "data/h3"]
        assert [g for g in gone if (root / g).exists() or (root / g).is_symlink()] == []
        assert (root / "opq" / "new1").read_text() == "the only file left in opq\n"
        assert (root / "data/keep/f").read_text().startswith("version 2")
        assert (root / "data/f2d").is_dir() and (root / "data/f2d/now").is_file()
        assert (root / "data/d2f").is_file()
        h1, h2 = (root / "data/h1").stat(), (root / "data/h2").stat()
        assert h1.st_ino == h2.st_ino, "data/h1 and data/h2 are not one hard-linked file"
        assert (root / "data/sl").readlink().as_posix() == "../data/keep/f"
        assert (root / "data/abs").readlink().as_posix() == "/bin/busybox"
        assert stat.S_IMODE((root / "usr/bin/suid").stat().st_mode) == 0o4755
        assert stat.S_IMODE((root / "usr/bin/sgid").stat().st_mode) == 0o2755
        assert stat.S_IMODE((root / "tmp").stat().st_mode) == 0o1777
        owned = (root / "home/user/owned").stat()
        assert (owned.st_uid, owned.st_gid, stat.S_IMODE(owned.st_mode)) == (1000, 1000, 0o640)
        ch = (root / "data/chmodme").stat()
        assert (ch.st_uid, stat.S_IMODE(ch.st_mode)) == (1000, 0o600)
        assert (root / "big/random.bin").stat().st_size > 16 << 20


def test_docker_schema2_manifest(idaemon, registry, images):
    ref = f"{registry.addr}/v2s2/busybox:1.0"
    pull(idaemon, ref)
    img = get_image(idaemon, ref)
    assert img["layers"][0]["media_type"] == \
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    assert img["digest"] == registry.manifest("v2s2/busybox", "1.0")[2]
    assert_same_tree(images.unpacked("busybox"), idaemon, img)


# --------------------------------------------------------------------------- raw API


def test_api_pull_stream_then_repeat_costs_one_manifest(daemon_factory, registry,
                                                        bearer_registry, images):
    d = daemon_factory(extra_args=insecure_args(registry, bearer_registry))
    ref = f"{bearer_registry.addr}/layered:1.0"
    facts = images.facts("layered")
    status, headers, lines = api_pull(d, ref)
    assert headers.get("content-type", "").startswith("application/x-ndjson"), headers
    img = done_image(status, lines)
    check_image_object(img)
    check_facts(img, facts)
    assert lines[0]["status"] == "resolving" and lines[0]["ref"] == ref, lines[0]
    resolved = [l for l in lines if l["status"] == "resolved"]
    assert resolved and resolved[0]["digest"] == facts["digest"]
    assert resolved[0]["layers"] == len(facts["layer_digests"])
    layer_lines = [l for l in lines if l["status"] == "layer"]
    assert {l["phase"] for l in layer_lines} <= PHASES, layer_lines
    for digest in facts["layer_digests"]:
        phases = [l["phase"] for l in layer_lines if l["digest"] == digest]
        assert "downloading" in phases or "downloaded" in phases, (digest, phases)
    for l in layer_lines:
        if l["phase"] == "downloading":
            assert isinstance(l["current"], int) and isinstance(l["total"], int), l
            assert 0 <= l["current"] <= l["total"], l
    assert {l["status"] for l in lines} <= {"resolving", "resolved", "layer", "done"}
    # the token flow was anonymous and asked for pull on the repository
    scopes = [q.get("scope") for q, had_basic in bearer_registry.token_requests]
    assert "repository:layered:pull" in scopes, bearer_registry.token_requests

    bearer_registry.reset()
    status, _, lines = api_pull(d, ref)
    assert done_image(status, lines)["id"] == facts["id"]
    for digest in facts["layer_digests"]:
        phases = {l["phase"] for l in lines if l.get("digest") == digest}
        assert phases == {"exists"}, (digest, phases)
    assert bearer_registry.count(kind="blobs") == 0, bearer_registry.requests
    assert bearer_registry.count(kind="manifests", served=True) == 1, bearer_registry.served


# --------------------------------------------------------------------------- platforms


def test_multiarch_picks_host_platform(idaemon, registry, images):
    ref = f"{registry.addr}/multi:1.0"
    multi = images.multi_facts()
    pull(idaemon, ref)
    img = get_image(idaemon, ref)
    assert img["id"] == multi["amd64"]["id"] and img["architecture"] == "amd64"
    assert img["digest"] in (multi["index"], multi["amd64"]["digest"])


def test_multiarch_platform_option(idaemon, registry, images):
    ref = f"{registry.addr}/multi:1.0"
    multi = images.multi_facts()
    pull(idaemon, ref, "--platform", "linux/arm64")
    img = get_image(idaemon, ref)
    assert img["id"] == multi["arm64"]["id"] and img["architecture"] == "arm64"
    assert cli_json(idaemon, "container-image", "inspect", ref)["architecture"] == "arm64"


def test_multiarch_unknown_platform(idaemon, registry):
    ref = f"{registry.addr}/multi:1.0"
    r = idaemon.cli("container-image", "create", ref, "--platform", "linux/s390x", check=1)
    assert r.stderr.startswith("nanocl: ") and "s390x" in r.stderr, r.stderr
    status, _, lines = api_pull(idaemon, ref, platform="linux/s390x")
    last = lines[-1]
    if status == 200:
        assert last["status"] == "error" and "s390x" in last["error"], lines
    else:
        assert 400 <= status < 500 and "s390x" in last["error"], (status, last)


@pytest.mark.parametrize("platform", ["nonsense", "linux/", "/amd64", "linux/amd64/v1/x"])
def test_malformed_platform_is_422(idaemon, registry, platform):
    status, _, lines = api_pull(idaemon, f"{registry.addr}/multi:1.0", platform=platform)
    check_error(status, lines[0], 422, "invalid")


# --------------------------------------------------------------------------- bearer, refs


def test_pull_through_bearer_front(idaemon, bearer_registry, images):
    ref = f"{bearer_registry.addr}/busybox:1.0"
    pull(idaemon, ref)
    img = get_image(idaemon, ref)
    assert img["id"] == images.facts("busybox")["id"]
    assert any(not had_basic for _, had_basic in bearer_registry.token_requests)


def test_default_registry_option(daemon_factory, registry, images):
    d = daemon_factory(extra_args=insecure_args(registry) + ["--default-registry",
                                                             registry.addr])
    d.cli("container-image", "pull", "v2s2/busybox:1.0", check=0)
    img = get_image(d, "v2s2/busybox:1.0")
    assert img is not None, "v2s2/busybox:1.0 not found under the default registry"
    assert any(n.startswith(registry.addr + "/") for n in img["names"]), img["names"]


def test_uppercase_first_part_is_a_registry(idaemon):
    # Docker's grammar: an upper-case first component can only be a host name,
    # so "UPPER/case" is well-formed and fails when that registry is not there.
    r = idaemon.cli("container-image", "create", "UPPER/case")
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "registry UPPER" in r.stderr, r.stderr


@pytest.mark.parametrize("ref", ["a:b:c", "", "host:99999/x",
                                 "busybox@sha256:123", "bad/-dash", "a//b"])
def test_malformed_ref(idaemon, ref):
    r = idaemon.cli("container-image", "create", ref)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert r.stderr.startswith("nanocl: ")
    if ref:
        assert ref in r.stderr, r.stderr
    status, _, body = idaemon.request("POST", "/v1/images/pull", {"ref": ref})
    check_error(status, body, 422, "invalid", *([ref] if ref else []))


@pytest.mark.parametrize("body", [{}, {"ref": 5}, {"ref": "x:1", "bogus": 1},
                                  {"ref": "x:1", "platform": 3}])
def test_pull_body_errors(idaemon, body):
    status, _, resp = idaemon.request("POST", "/v1/images/pull", body)
    check_error(status, resp, 422, "invalid")


def test_unknown_image_and_unreachable_registry(idaemon, registry):
    ref = f"{registry.addr}/does-not-exist:1.0"
    r = idaemon.cli("container-image", "create", ref, check=1)
    assert "does-not-exist" in r.stderr, r.stderr
    assert get_image(idaemon, ref) is None
    dead = f"127.0.0.1:{free_tcp_port()}"
    r = idaemon.cli("container-image", "create", f"{dead}/x:1", check=1)
    assert dead in r.stderr, r.stderr


# --------------------------------------------------------------------------- insecure


NON_LOOPBACK = "10.99.0.1"  # added to lo in the test netns: not a loopback address


@pytest.fixture(scope="module")
def remote_front(registry):
    """A plain-HTTP registry front on an address that is not loopback."""
    import os
    import subprocess
    from registry import FrontRegistry
    if os.environ.get("NANOCL_TEST_NO_NETNS"):
        pytest.skip("adds an address to lo: only inside the suite's own netns")
    r = subprocess.run(["ip", "addr", "add", f"{NON_LOOPBACK}/32", "dev", "lo"],
                       capture_output=True, text=True)
    assert r.returncode == 0 or "exists" in r.stderr, r.stderr
    front = FrontRegistry(registry, host=NON_LOOPBACK)
    yield front
    front.stop()


@pytest.mark.parametrize("how", ["none", "option", "env", "file"])
def test_insecure_registry_settings(daemon_factory, remote_front, images, how):
    kw = {}
    if how == "option":
        kw["extra_args"] = ["--insecure-registry", remote_front.addr]
    elif how == "env":
        kw["env"] = {"NANOCL_INSECURE_REGISTRIES": f"10.1.2.3:5000,{remote_front.addr}"}
    d = daemon_factory(start=False, **kw)
    if how == "file":
        (d.config_dir / "nanocld.json").write_text(
            f'{{"insecure_registries": ["{remote_front.addr}"]}}')
    d.start()
    ref = f"{remote_front.addr}/busybox:1.0"
    r = d.cli("container-image", "pull", ref)
    if how == "none":
        # spoken to over HTTPS, which a plain-HTTP registry cannot answer
        assert r.returncode == 1 and remote_front.addr in r.stderr, (r.returncode, r.stderr)
        assert get_image(d, ref) is None
    else:
        assert r.returncode == 0, r.stderr
        assert get_image(d, ref)["id"] == images.facts("busybox")["id"]


# --------------------------------------------------------------------------- compression


def test_uncompressed_and_zstd_layers(idaemon, registry):
    """OCI layers may be plain tar or tar+zstd as well as tar+gzip."""
    from images_build import d_, f_, raw_image, tar_bytes
    tars = [tar_bytes([d_("a"), f_("a/plain", b"uncompressed layer\n")]),
            tar_bytes([d_("a"), f_("a/zstd", b"zstd layer\n" * 1000)]),
            tar_bytes([d_("b"), f_("b/gzip", b"gzip layer\n", mode=0o600, uid=7, gid=8)])]
    img = registry.push_raw("comp/mixed", "1", raw_image(
        tars, compression=["none", "zstd", "gzip"]))
    ref = f"{registry.addr}/comp/mixed:1"
    pull(idaemon, ref)
    got = get_image(idaemon, ref)
    assert [l["media_type"] for l in got["layers"]] == [
        "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.oci.image.layer.v1.tar+gzip"]
    assert [l["chain_id"] for l in got["layers"]] == img["chain_ids"]
    with image_overlay(idaemon, got) as root:
        assert (root / "a/plain").read_bytes() == b"uncompressed layer\n"
        assert (root / "a/zstd").read_bytes() == b"zstd layer\n" * 1000
        st = (root / "b/gzip").stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (7, 8, 0o600)
