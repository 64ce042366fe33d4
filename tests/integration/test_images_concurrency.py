"""Image pulls racing each other, garbage collection and shutdown; blobs served through
redirects."""

import signal
import threading

import pytest

from images_check import (api_pull, assert_same_tree, done_image, get_image, images_dir,
                          leftovers)
from registry import FrontRegistry, front_registry, images, insecure_args, registry  # noqa: F401


def in_thread(fn, *args, **kw):
    out = {}

    def run():
        try:
            out["result"] = fn(*args, **kw)
        except Exception as e:  # reported by the test that joins
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def test_concurrent_pulls_of_one_image(daemon_factory, registry, images):
    d = daemon_factory(extra_args=insecure_args(registry))
    ref = f"{registry.addr}/layered:1.0"
    runs = [in_thread(api_pull, d, ref) for _ in range(4)]
    for t, out in runs:
        t.join(300)
        assert not t.is_alive() and "error" not in out, out
        assert done_image(*out["result"][::2])["id"] == images.facts("layered")["id"]
    layers = sorted(p.name for p in (images_dir(d) / "layers").iterdir())
    assert layers == sorted(c[7:] for c in images.facts("layered")["chain_ids"])
    assert_same_tree(images.unpacked("layered"), d, get_image(d, ref))
    assert leftovers(d) == []


def test_concurrent_pulls_sharing_a_base_layer(daemon_factory, registry, images):
    d = daemon_factory(extra_args=insecure_args(registry))
    refs = [f"{registry.addr}/{n}:1.0" for n in ("busybox", "layered", "multi",
                                                  "v2s2/busybox")]
    runs = [in_thread(api_pull, d, r) for r in refs]
    for t, out in runs:
        t.join(300)
        assert not t.is_alive() and "error" not in out, out
        done_image(*out["result"][::2])
    for tag, ref in (("busybox", refs[0]), ("layered", refs[1])):
        assert_same_tree(images.unpacked(tag), d, get_image(d, ref))
    assert leftovers(d) == []


def test_rm_during_pull_keeps_the_layers_the_pull_needs(daemon_factory, front_registry,
                                                        images):
    """busybox's layer is the base of layered: removing busybox while layered is being
    pulled must not take that layer away from the pull."""
    front = front_registry()
    d = daemon_factory(extra_args=insecure_args(front))
    bb, lay = f"{front.addr}/busybox:1.0", f"{front.addr}/layered:1.0"
    d.cli("container-image", "create", bb, check=0)
    hold = front.hold(images.facts("layered")["layer_digests"][-1], after=1 << 20)
    pull_t, pull_out = in_thread(api_pull, d, lay)
    assert hold["reached"].wait(120), "the big layer was never fetched"
    rm_t, rm_out = in_thread(d.cli, "container-image", "rm", bb)
    rm_t.join(3)  # give the removal a chance to run (or block) while the pull is held
    front.release()
    pull_t.join(300)
    rm_t.join(60)
    assert "error" not in pull_out and "error" not in rm_out, (pull_out, rm_out)
    assert rm_out["result"].returncode == 0, rm_out["result"].stderr
    img = done_image(*pull_out["result"][::2])
    assert get_image(d, bb) is None
    assert_same_tree(images.unpacked("layered"), d, img)
    assert leftovers(d) == []


def test_sigterm_during_a_stalled_pull(daemon_factory, front_registry, images):
    """SIGTERM ends a pull stuck on a silent registry: nanocld exits 0 (docs: in-flight
    requests get at most 10 s), and after a restart nothing of the pull is left."""
    front = front_registry()
    d = daemon_factory(extra_args=insecure_args(front))
    ref = f"{front.addr}/layered:1.0"
    hold = front.hold(images.facts("layered")["layer_digests"][-1], after=1 << 20)
    pull_t, pull_out = in_thread(api_pull, d, ref)
    try:
        assert hold["reached"].wait(120), "the big layer was never fetched"
        d.proc.send_signal(signal.SIGTERM)
        d.proc.wait(30)  # upper bound only: the contract is 10 s
        assert d.proc.returncode == 0, f"exit {d.proc.returncode}:\n{d.log()[-3000:]}"
    finally:
        front.release()
    pull_t.join(60)
    if "result" in pull_out:
        status, _, lines = pull_out["result"]
        assert not lines or lines[-1].get("status") != "done", lines[-1:]
    d.start()
    assert get_image(d, ref) is None
    assert leftovers(d) == []
    d.cli("container-image", "create", ref, check=0)
    assert_same_tree(images.unpacked("layered"), d, get_image(d, ref))


def test_blobs_behind_redirects(daemon_factory, registry, images):
    """A registry that answers blob GETs with 307 to another server (object storage):
    the pull follows, and the bearer token is not sent to the other server."""
    storage = FrontRegistry(registry)
    front = FrontRegistry(registry, bearer=True, redirect_blobs_to=storage)
    try:
        d = daemon_factory(extra_args=insecure_args(front, storage))
        ref = f"{front.addr}/layered:1.0"
        d.cli("container-image", "create", ref, check=0)
        assert_same_tree(images.unpacked("layered"), d, get_image(d, ref))
        assert storage.count(kind="blobs") >= len(images.facts("layered")["layer_digests"])
        leaked = [(p, a) for p, a in storage.auth_headers if a]
        assert leaked == [], f"credentials sent to the redirect target: {leaked}"
    finally:
        front.stop()
        storage.stop()
