"""The local image store: import of docker-archive / OCI archives, tag, history, rm and
what it frees on disk, `system df`, lookups by id prefix."""

import itertools
import json
import re
import subprocess

import pytest

from conftest import NANOCL, check_error, clean_env
from images_build import (LAYERED_HISTORY, d_, f_, raw_config, raw_image, sha256_bytes,
                          tar_bytes)
from images_check import (all_names, assert_same_tree, blob_path, cli_json, get_image,
                          layer_exists, leftovers, stream)
from registry import images, insecure_args, registry  # noqa: F401


@pytest.fixture
def sdaemon(daemon_factory, registry):
    return daemon_factory(extra_args=insecure_args(registry))


def skopeo_archive(images, tag, dest):
    r = subprocess.run(["skopeo", "copy", "--quiet", f"oci:{images.layout.path}:{tag}", dest],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr


def df(d):
    status, _, body = d.request("GET", "/v1/system/df")
    assert status == 200, body
    for k in ("images", "blobs", "layers"):
        assert set(body[k]) >= {"count", "size"}, body
    return body


# --------------------------------------------------------------------------- import


def test_import_docker_archive_with_name(sdaemon, images, tmp_path):
    f = tmp_path / "layered.tar"
    skopeo_archive(images, "layered", f"docker-archive:{f}:import/layered:1.0")
    sdaemon.cli("container-image", "import", f, check=0)
    img = get_image(sdaemon, "import/layered:1.0")
    assert img is not None, all_names(sdaemon)
    assert "docker.io/import/layered:1.0" in img["names"]
    assert img["id"] == images.facts("layered")["id"]
    assert [l["diff_id"] for l in img["layers"]] == images.facts("layered")["diff_ids"]
    assert_same_tree(images.unpacked("layered"), sdaemon, img)
    assert leftovers(sdaemon) == []


def test_import_unnamed_archive_needs_a_name(sdaemon, images, tmp_path):
    f = tmp_path / "busybox.tar"
    skopeo_archive(images, "busybox", f"docker-archive:{f}")
    r = sdaemon.cli("container-image", "import", f, check=1)
    assert r.stderr.startswith("nanocl: ") and re.search(r"name|ref", r.stderr, re.I), \
        r.stderr
    assert sdaemon.request("GET", "/v1/images")[2] == []
    sdaemon.cli("container-image", "import", f, "other/name:tag", check=0)
    img = get_image(sdaemon, "other/name:tag")
    assert img["names"] == ["docker.io/other/name:tag"]
    assert_same_tree(images.unpacked("busybox"), sdaemon, img)


def test_import_oci_archive(sdaemon, images, tmp_path):
    f = tmp_path / "layered-oci.tar"
    skopeo_archive(images, "layered", f"oci-archive:{f}")
    sdaemon.cli("container-image", "import", f, "oci/layered:1.0", check=0)
    img = get_image(sdaemon, "oci/layered:1.0")
    assert img["id"] == images.facts("layered")["id"]
    assert_same_tree(images.unpacked("layered"), sdaemon, img)


def test_import_oci_layout_directory(sdaemon, images, tmp_path):
    # A layout directory (not an archive): the CLI sends a tar of it.
    d = tmp_path / "layout"
    skopeo_archive(images, "layered", f"oci:{d}:only")
    sdaemon.cli("container-image", "import", d, "dir/layered:1", check=0)
    img = get_image(sdaemon, "dir/layered:1")
    assert img["id"] == images.facts("layered")["id"]
    assert_same_tree(images.unpacked("layered"), sdaemon, img)
    # A directory that is not a layout fails with a message, leaving nothing.
    (tmp_path / "notlayout").mkdir()
    (tmp_path / "notlayout" / "hello.txt").write_text("hi")
    r = sdaemon.cli("container-image", "import", tmp_path / "notlayout", "dir/bad:1", check=1)
    assert "index.json" in r.stderr, r.stderr
    assert get_image(sdaemon, "dir/bad:1") is None


def test_import_from_stdin_and_api(sdaemon, images, tmp_path):
    f = tmp_path / "busybox.tar"
    skopeo_archive(images, "busybox", f"docker-archive:{f}")
    with open(f, "rb") as inp:
        r = subprocess.run([str(NANOCL), "-H", sdaemon.host, "container-image", "import", "-",
                            "stdin/busybox:1.0"], stdin=inp, capture_output=True,
                           timeout=120, env=clean_env())
    assert r.returncode == 0, r.stderr
    assert get_image(sdaemon, "stdin/busybox:1.0")["id"] == images.facts("busybox")["id"]
    with open(f, "rb") as inp:
        status, headers, lines = stream(sdaemon, "POST", "/v1/images/import?ref=api/bb:2",
                                        raw=inp, headers={
                                            "Content-Length": str(f.stat().st_size),
                                            "Content-Type": "application/x-tar"})
    assert status == 200 and headers["content-type"].startswith("application/x-ndjson")
    assert lines[-1]["status"] == "done", lines[-3:]
    assert "docker.io/api/bb:2" in lines[-1]["image"]["names"]


@pytest.mark.parametrize("content", [b"", b"not a tar at all" * 100,
                                     tar_bytes([f_("hello.txt", b"hi")])],
                         ids=["empty", "text", "plain-tar"])
def test_import_garbage(sdaemon, tmp_path, content):
    f = tmp_path / "junk.tar"
    f.write_bytes(content)
    for _ in range(25):  # a fast failure, again and again: the stream must survive it
        r = sdaemon.cli("container-image", "import", f, "junk/x:1")
        assert r.returncode == 1 and r.stderr.startswith("nanocl: "), \
            (r.returncode, r.stderr, sdaemon.running())
    assert sdaemon.running(), f"nanocld died:\n{sdaemon.log()[-2000:]}"
    assert get_image(sdaemon, "junk/x:1") is None
    assert leftovers(sdaemon) == []


# --------------------------------------------------------------------------- tag, history


def test_tag_normalises_and_moves(sdaemon, registry):
    bb, lay = f"{registry.addr}/busybox:1.0", f"{registry.addr}/layered:1.0"
    sdaemon.cli("container-image", "create", bb, check=0)
    sdaemon.cli("container-image", "create", lay, check=0)
    sdaemon.cli("container-image", "tag", bb, "my/busybox:stable", check=0)
    sdaemon.cli("container-image", "tag", bb, "plain", check=0)
    names = get_image(sdaemon, bb)["names"]
    assert {"docker.io/my/busybox:stable", "docker.io/library/plain:latest", bb} <= set(names)
    assert get_image(sdaemon, "plain")["id"] == get_image(sdaemon, bb)["id"]
    status, _, body = sdaemon.request("POST", f"/v1/images/{lay}/tag",
                                      {"name": "my/busybox:stable"})
    assert status == 201 and "docker.io/my/busybox:stable" in body["names"], (status, body)
    assert get_image(sdaemon, "my/busybox:stable")["id"] == get_image(sdaemon, lay)["id"]
    assert "docker.io/my/busybox:stable" not in get_image(sdaemon, bb)["names"]

    r = sdaemon.cli("container-image", "tag", "nope/nope:1", "x:1", check=1)
    assert "nope/nope:1" in r.stderr
    status, _, body = sdaemon.request("POST", f"/v1/images/{bb}/tag", {"name": "Bad:Name:x"})
    check_error(status, body, 422, "invalid", "Bad:Name:x")
    status, _, body = sdaemon.request("POST", "/v1/images/nope/nope:1/tag", {"name": "x:1"})
    check_error(status, body, 404, "not_found")


def test_list_sorted_by_first_name(sdaemon, registry):
    """docs/api.md: GET /v1/images is sorted by first name.  Each image gets one name,
    chosen so that name order is neither pull order (newest first) nor id order."""
    refs = [f"{registry.addr}/{n}:1.0" for n in ("busybox", "layered", "multi")]
    ids = []
    for ref in refs:
        sdaemon.cli("container-image", "create", ref, check=0)
        ids.append(get_image(sdaemon, ref)["id"])
    assert len(set(ids)) == 3
    avoid = [sorted(range(3), key=lambda i: ids[i]), [2, 1, 0]]
    order = next(p for p in itertools.permutations(range(3)) if list(p) not in avoid)
    for rank, i in enumerate(order):
        sdaemon.cli("container-image", "tag", refs[i], f"sorted/name-{rank}:1", check=0)
        sdaemon.cli("container-image", "rm", refs[i], check=0)
    listed = sdaemon.request("GET", "/v1/images")[2]
    firsts = [img["names"][0] for img in listed]
    assert firsts == [f"docker.io/sorted/name-{r}:1" for r in range(3)], \
        f"GET /v1/images is not sorted by first name: {firsts}"
    assert cli_json(sdaemon, "container-image", "ls") == listed


def test_history(sdaemon, registry):
    ref = f"{registry.addr}/layered:1.0"
    sdaemon.cli("container-image", "create", ref, check=0)
    out = sdaemon.cli("container-image", "history", ref, check=0).stdout.splitlines()
    cols = [out[0].find(c) for c in ("CREATED", "CREATED BY", "SIZE", "COMMENT")]
    assert -1 not in cols and cols == sorted(cols), out[0]
    assert "layer:big" in out[1] and "config:busybox" in out[-1], out
    hist = cli_json(sdaemon, "container-image", "history", ref)
    assert [h["created_by"] for h in hist] == list(reversed(LAYERED_HISTORY))
    for h in hist:
        assert set(h) >= {"created", "created_by", "comment", "empty_layer", "size"}, h
        assert isinstance(h["size"], int)
    assert [h["empty_layer"] for h in hist] == [False] * 5 + [True]
    assert hist[-1]["size"] == 0 and hist[0]["size"] > 16 << 20
    status, _, body = sdaemon.request("GET", f"/v1/images/{ref}/history")
    assert status == 200 and body == hist
    status, _, body = sdaemon.request("GET", "/v1/images/nope/nope:1/history")
    check_error(status, body, 404, "not_found")


# --------------------------------------------------------------------------- rm, df


def test_rm_frees_unshared_and_keeps_shared(sdaemon, registry, images):
    bb, lay = f"{registry.addr}/busybox:1.0", f"{registry.addr}/layered:1.0"
    fb, fl = images.facts("busybox"), images.facts("layered")
    assert fl["chain_ids"][0] == fb["chain_ids"][0], "layered is not built on busybox"
    sdaemon.cli("container-image", "create", bb, check=0)
    sdaemon.cli("container-image", "create", lay, check=0)
    df0 = df(sdaemon)
    assert df0["images"]["count"] == 2 and df0["layers"]["count"] == len(fl["chain_ids"])

    r = sdaemon.cli("container-image", "rm", lay, check=0)
    assert f"Untagged: {lay}" in r.stdout and f"Deleted: {fl['id']}" in r.stdout, r.stdout
    assert get_image(sdaemon, lay) is None
    for chain, digest in zip(fl["chain_ids"][1:], fl["layer_digests"][1:]):
        assert not layer_exists(sdaemon, chain), f"layer {chain} kept after rm"
        assert not blob_path(sdaemon, digest).exists(), f"blob {digest} kept after rm"
    assert layer_exists(sdaemon, fb["chain_ids"][0]), "the shared base layer was removed"
    assert blob_path(sdaemon, fb["layer_digests"][0]).is_file()
    assert_same_tree(images.unpacked("busybox"), sdaemon, get_image(sdaemon, bb))
    df1 = df(sdaemon)
    assert df1["images"]["count"] == 1 and df1["layers"]["count"] == 1
    for k in ("blobs", "layers"):
        assert df1[k]["size"] < df0[k]["size"], (k, df0, df1)
    cli_df = cli_json(sdaemon, "system", "df")
    assert cli_df == df1
    assert "images" in sdaemon.cli("system", "df", check=0).stdout.lower()

    status, _, body = sdaemon.request("DELETE", f"/v1/images/{bb}")
    assert status == 200, body
    assert body["untagged"] == [bb] and body["deleted"] == [fb["id"]] and body["freed"] > 0
    assert not layer_exists(sdaemon, fb["chain_ids"][0])
    assert not blob_path(sdaemon, fb["layer_digests"][0]).exists()
    df2 = df(sdaemon)
    assert [df2[k]["count"] for k in ("images", "layers")] == [0, 0], df2
    assert df2["layers"]["size"] < df1["layers"]["size"]
    assert leftovers(sdaemon) == []


def test_rm_names_and_ids(sdaemon, registry, images):
    bb = f"{registry.addr}/busybox:1.0"
    fid = images.facts("busybox")["id"]
    sdaemon.cli("container-image", "create", bb, check=0)
    sdaemon.cli("container-image", "tag", bb, "second/name:1", check=0)

    r = sdaemon.cli("container-image", "rm", fid, check=1)
    assert r.stderr.startswith("nanocl: ")
    status, _, body = sdaemon.request("DELETE", f"/v1/images/{fid}")
    check_error(status, body, 409, "conflict")

    r = sdaemon.cli("container-image", "rm", "second/name:1", check=0)
    assert "Untagged: docker.io/second/name:1" in r.stdout and "Deleted" not in r.stdout
    assert get_image(sdaemon, bb)["names"] == [bb]
    assert blob_path(sdaemon, images.facts("busybox")["layer_digests"][0]).is_file()

    sdaemon.cli("container-image", "tag", bb, "second/name:1", check=0)
    r = sdaemon.cli("container-image", "rm", "-f", fid[7:19], check=0)
    assert f"Deleted: {fid}" in r.stdout, r.stdout
    assert sdaemon.request("GET", "/v1/images")[2] == []

    r = sdaemon.cli("container-image", "rm", "nope/nope:1", check=1)
    assert "nope/nope:1" in r.stderr, r.stderr
    status, _, body = sdaemon.request("DELETE", "/v1/images/nope/nope:1")
    check_error(status, body, 404, "not_found")


def test_id_prefix_lookup_and_ambiguity(sdaemon, registry):
    """Two images whose ids share their first 4 hex digits: the 4-digit prefix is
    ambiguous (409), a longer distinct prefix finds each."""
    layer = tar_bytes([d_("etc"), f_("etc/hello", b"hello\n")])
    diff = [sha256_bytes(layer)]
    seen = {}
    for i in range(200000):
        labels = {"n": str(i)}
        p = sha256_bytes(raw_config(diff, labels=labels))[7:11]
        if p in seen:
            pair = [seen[p], labels]
            break
        seen[p] = labels
    refs, ids = [], []
    for k, labels in enumerate(pair):
        img = registry.push_raw("prefix/img", f"v{k}", raw_image([layer], labels=labels))
        refs.append(f"{registry.addr}/prefix/img:v{k}")
        ids.append(img["id"])
        sdaemon.cli("container-image", "create", refs[-1], check=0)
    assert ids[0][7:11] == ids[1][7:11]
    status, _, body = sdaemon.request("GET", f"/v1/images/{ids[0][7:11]}")
    check_error(status, body, 409, "conflict")
    n = next(i for i in range(4, 64) if ids[0][7:7 + i] != ids[1][7:7 + i]) + 1
    for img_id in ids:
        assert get_image(sdaemon, img_id[7:7 + n])["id"] == img_id
        assert get_image(sdaemon, img_id)["id"] == img_id
    r = sdaemon.cli("container-image", "inspect", ids[0][7:11], check=1)
    assert ids[0][7:11] in r.stderr, r.stderr
    assert json.loads(sdaemon.cli("-o", "json", "container-image", "inspect",
                                  ids[1][7:7 + n], check=0).stdout)["id"] == ids[1]
