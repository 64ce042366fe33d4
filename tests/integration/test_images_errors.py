"""Pulls that must fail cleanly: broken blobs (digest mismatch, truncated, HTTP 500),
layers that try to write outside their root, and kill -9 in the middle of a pull."""

import threading

import pytest

from images_build import malicious_images, raw_image, sha256_file
from images_check import (api_pull, assert_same_tree, blob_path, files_named, get_image,
                          image_refs, layer_exists, leftovers)
from registry import (bad_registry, front_registry, images, insecure_args,  # noqa: F401
                      registry)

ESCAPE_WORDS = ("escap", "outside", "breakout", "break out", "traversal", "unsafe")


def assert_alive(d):
    assert d.running(), f"nanocld died:\n{d.log()[-3000:]}"
    status, _, _ = d.request("GET", "/_ping")
    assert status == 200


# --------------------------------------------------------------------------- broken blobs


@pytest.mark.parametrize("mode", ["digest-mismatch", "truncated", "500-on-blob"])
def test_broken_blob_leaves_nothing(daemon_factory, bad_registry, mode):
    bad = bad_registry(mode)
    d = daemon_factory(extra_args=insecure_args(bad))
    ref = f"{bad.addr}/layered:1.0"
    r = d.cli("container-image", "create", ref)
    assert r.returncode == 1, (r.returncode, r.stdout[-2000:], r.stderr)
    assert r.stderr.startswith("nanocl: "), r.stderr
    hexd = bad.victim.split(":")[1]
    assert hexd[:12] in r.stderr, f"the message does not name blob {bad.victim}: {r.stderr!r}"
    assert_alive(d)
    assert get_image(d, ref) is None
    assert image_refs(d) == []
    assert "layered" not in d.cli("container-image", "ls", check=0).stdout
    assert not blob_path(d, bad.victim).exists(), "the broken blob was kept"
    assert leftovers(d) == [], "temporary files left behind"


def test_broken_blob_stream_ends_in_error(daemon_factory, bad_registry):
    bad = bad_registry("digest-mismatch")
    d = daemon_factory(extra_args=insecure_args(bad))
    status, _, lines = api_pull(d, f"{bad.addr}/layered:1.0")
    assert status == 200, lines
    last = lines[-1]
    assert last["status"] == "error", lines[-3:]
    assert bad.victim in last["error"] and last["kind"] == "invalid", last
    assert not any(l["status"] == "done" for l in lines)
    assert leftovers(d) == []


def test_good_pull_after_failure(daemon_factory, bad_registry, registry, images):
    """A failed pull must not poison the store for the same layers from a good registry."""
    bad = bad_registry("truncated")
    d = daemon_factory(extra_args=insecure_args(bad, registry))
    d.cli("container-image", "create", f"{bad.addr}/layered:1.0", check=1)
    ref = f"{registry.addr}/layered:1.0"
    d.cli("container-image", "create", ref, check=0)
    img = get_image(d, ref)
    assert_same_tree(images.unpacked("layered"), d, img)
    assert sha256_file(blob_path(d, bad.victim)) == bad.victim
    assert leftovers(d) == []


# --------------------------------------------------------------------------- malicious


KINDS = ["dotdot", "absolute", "symlink", "symlink-relative", "hardlink"]


@pytest.mark.parametrize("kind", KINDS)
def test_malicious_layer_is_refused(daemon_factory, registry, tmp_path, kind):
    outside = tmp_path / "outside"
    outside.mkdir()
    tag = f"{kind}-{tmp_path.name}"[-40:].lower().replace("_", "-")
    spec = malicious_images(outside, tag)[kind]
    victim = spec.get("victim")
    if victim:
        victim.write_text("precious\n")
    name = f"evil/{kind}"
    img = registry.push_raw(name, "1", raw_image(spec["tars"]))
    d = daemon_factory(extra_args=insecure_args(registry))
    ref = f"{registry.addr}/{name}:1"
    try:
        r = d.cli("container-image", "create", ref)
        assert r.returncode == 1, f"{kind} layer pulled: exit {r.returncode} {r.stderr!r}"
        assert r.stderr.startswith("nanocl: ")
        assert any(w in r.stderr.lower() for w in ESCAPE_WORDS), \
            f"the message says nothing about escaping the layer: {r.stderr!r}"
        assert get_image(d, ref) is None
        assert_alive(d)
    finally:
        written = [str(p) for p in spec["absent"] if p.exists() or p.is_symlink()]
        written += files_named(d.base, set(spec["names"]))
        written += [str(p) for p in d.base.parent.iterdir() if p.name in spec["names"]]
        if victim:
            if victim.read_text() != "precious\n" or victim.stat().st_nlink != 1:
                written.append(f"{victim} (linked or overwritten)")
        assert written == [], f"{kind}: wrote outside the layer: {written}"
    assert not layer_exists(d, img["chain_ids"][0])
    assert leftovers(d) == []


# --------------------------------------------------------------------------- kill -9


def test_kill9_during_pull_then_pull_again(daemon_factory, front_registry, images):
    facts = images.facts("layered")
    big = facts["layer_digests"][-1]
    front = front_registry()
    hold = front.hold(big, after=4 << 20)
    d = daemon_factory(extra_args=insecure_args(front))
    ref = f"{front.addr}/layered:1.0"
    seen = threading.Event()
    result = {}

    def on_line(obj):
        if obj.get("digest") == big and obj.get("phase") == "downloading":
            seen.set()

    def puller():
        try:
            result["r"] = api_pull(d, ref, on_line=on_line)
        except Exception as e:  # the daemon dies under it: that is the point
            result["e"] = e

    t = threading.Thread(target=puller, daemon=True)
    t.start()
    assert hold["reached"].wait(120), "the big layer was never fetched"
    seen.wait(20)  # the first "downloading" line of the big layer, if it comes
    d.kill9()
    front.release()
    t.join(60)
    assert not t.is_alive()
    d.start()
    assert get_image(d, ref) is None, "an image record survived an unfinished pull"
    d.cli("container-image", "create", ref, check=0)
    img = get_image(d, ref)
    assert img["id"] == facts["id"]
    assert_same_tree(images.unpacked("layered"), d, img)
    assert sha256_file(blob_path(d, big)) == big
    assert leftovers(d) == [], "files of the killed pull are still there"
    assert seen.is_set(), "no 'downloading' line for the big layer before the kill"
