"""Checks for nanocl's image tests: the daemon's image store on disk, overlay mounts of
its layers compared with `umoci unpack`, and the ndjson pull/import streams."""

import contextlib
import json
import os
import re
import stat
import subprocess
import tempfile
from pathlib import Path

from conftest import connection_for
from images_build import sha256_file

HEX64 = re.compile(r"^[0-9a-f]{64}$")
TEMPISH = re.compile(r"tmp|temp|partial|part$|incomplete|download|staging|^\.", re.I)
IMAGE_FIELDS = ("id", "digest", "names", "os", "architecture", "created", "pulled_at",
                "size", "layers", "config")
LAYER_FIELDS = ("digest", "diff_id", "chain_id", "size", "media_type")
CONFIG_FIELDS = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels",
                 "ExposedPorts", "StopSignal")

# --------------------------------------------------------------------------- the store


def images_dir(d):
    return d.state_dir / "images"


def blob_path(d, digest):
    return images_dir(d) / "blobs" / "sha256" / digest.split(":", 1)[1]


def layer_path(d, chain_id):
    """STATE_DIR/images/layers/<chain id hex> (or its `diff` subdirectory if the store
    keeps the tree there)."""
    p = images_dir(d) / "layers" / chain_id.split(":", 1)[1]
    return p / "diff" if (p / "diff").is_dir() and not (p / "diff").is_symlink() else p


def layer_exists(d, chain_id):
    return (images_dir(d) / "layers" / chain_id.split(":", 1)[1]).exists()


def leftovers(d):
    """Things under STATE_DIR/images that look unfinished: in blobs/sha256/ and layers/,
    any entry whose name is not 64 hex digits (empty or not); elsewhere, files whose
    name, or whose directory's name, looks temporary (empty directories are fine); a
    blob whose bytes do not hash to its name."""
    root = images_dir(d)
    bad = []
    if not root.exists():
        return bad
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        rel = here.relative_to(root)
        in_temp = any(TEMPISH.search(part) for part in rel.parts)
        for n in dirnames + filenames:
            p = here / n
            if rel in (Path("blobs/sha256"), Path("layers")):
                if not HEX64.match(n):
                    bad.append(str(p))
                elif rel == Path("blobs/sha256") and p.is_file() and \
                        sha256_file(p).split(":")[1] != n:
                    bad.append(f"{p} (content does not match its name)")
            elif n in filenames and (in_temp or TEMPISH.search(n)):
                bad.append(str(p))
        if rel == Path("layers"):
            dirnames[:] = []  # a layer's own tree may hold anything (/tmp, dot files)
    return bad


def files_named(root, names):
    """Paths under root (recursively, not following symlinks) whose name is in names."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        out += [os.path.join(dirpath, n) for n in dirnames + filenames if n in names]
    return out


# --------------------------------------------------------------------------- trees


def tree(root):
    """{relative path: (type, mode, uid, gid, size, sha256|link target)} of everything
    under root (root itself excluded), plus hard-link groups {frozenset of paths}."""
    root = Path(root)
    entries, inodes = {}, {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            rel = str(p.relative_to(root))
            st = os.lstat(p)
            m = st.st_mode
            if stat.S_ISLNK(m):
                entry = ("symlink", None, st.st_uid, st.st_gid, None, os.readlink(p))
            elif stat.S_ISDIR(m):
                entry = ("dir", oct(stat.S_IMODE(m)), st.st_uid, st.st_gid, None, None)
            elif stat.S_ISREG(m):
                entry = ("file", oct(stat.S_IMODE(m)), st.st_uid, st.st_gid, st.st_size,
                         sha256_file(p))
                inodes.setdefault((st.st_dev, st.st_ino), set()).add(rel)
            elif stat.S_ISCHR(m):
                entry = ("chardev", oct(stat.S_IMODE(m)), st.st_uid, st.st_gid, None,
                         (os.major(st.st_rdev), os.minor(st.st_rdev)))
            else:
                entry = (stat.filemode(m)[0], oct(stat.S_IMODE(m)), st.st_uid, st.st_gid,
                         None, None)
            entries[rel] = entry
    links = {frozenset(s) for s in inodes.values() if len(s) > 1}
    return entries, links


def tree_diff(expected_root, actual_root):
    """A readable list of the differences between two trees (empty when equal)."""
    exp, exp_links = tree(expected_root)
    act, act_links = tree(actual_root)
    out = []
    for p in sorted(set(exp) - set(act)):
        out.append(f"missing: {p} {exp[p][:2]}")
    for p in sorted(set(act) - set(exp)):
        out.append(f"unexpected: {p} {act[p]}")
    for p in sorted(set(exp) & set(act)):
        if exp[p] != act[p]:
            out.append(f"differs: {p}: expected {exp[p]}, got {act[p]}")
    if exp_links != act_links:
        out.append(f"hard links: expected {sorted(map(sorted, exp_links))}, "
                   f"got {sorted(map(sorted, act_links))}")
    return out


@contextlib.contextmanager
def overlay(lowers):
    """Mounts `lowers` (topmost first) read-only as one overlay; yields the mount point."""
    with tempfile.TemporaryDirectory(prefix="nanocl-ovl-") as tmp:
        mnt = Path(tmp) / "mnt"
        empty = Path(tmp) / "empty"
        mnt.mkdir()
        empty.mkdir()
        dirs = [str(p) for p in lowers] + [str(empty)]  # overlay wants two lowers at least
        r = subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                            "ro,lowerdir=" + ":".join(dirs), str(mnt)],
                           capture_output=True, text=True)
        assert r.returncode == 0, f"mount overlay {dirs}: {r.stderr}"
        try:
            yield mnt
        finally:
            subprocess.run(["umount", str(mnt)], check=False)


@contextlib.contextmanager
def image_overlay(d, image):
    """The overlay of an image object's layers (from its chain ids) in daemon d."""
    chain = [l["chain_id"] for l in image["layers"]]
    for c in chain:
        assert layer_path(d, c).is_dir(), f"layer {c} not on disk at {layer_path(d, c)}"
    with overlay([layer_path(d, c) for c in reversed(chain)]) as mnt:
        yield mnt


def assert_same_tree(expected_root, d, image):
    with image_overlay(d, image) as mnt:
        diff = tree_diff(expected_root, mnt)
    assert not diff, "the image's overlay differs from umoci unpack:\n  " + \
        "\n  ".join(diff[:60])


# --------------------------------------------------------------------------- streams


def stream(d, method, path, body=None, raw=None, headers=None, on_line=None, timeout=300):
    """A request answered with ndjson (pull, import): returns (status, headers, lines),
    lines parsed; a non-200 answer gives its parsed JSON body as the only `line`.
    on_line(obj) is called as each line arrives."""
    c = connection_for(d.host, timeout=timeout)
    hdrs = dict(headers or {})
    payload = raw
    if body is not None:
        payload = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    try:
        if hasattr(payload, "read"):
            c.putrequest(method, path)
            for k, v in hdrs.items():
                c.putheader(k, v)
            c.endheaders()
            while True:
                chunk = payload.read(1 << 20)
                if not chunk:
                    break
                c.send(chunk)
        else:
            c.request(method, path, body=payload, headers=hdrs)
        r = c.getresponse()
        h = {k.lower(): v for k, v in r.getheaders()}
        if r.status != 200:
            data = r.read()
            try:
                return r.status, h, [json.loads(data)]
            except ValueError:
                return r.status, h, [data]
        lines = []
        while True:
            raw_line = r.readline()
            if not raw_line:
                break
            if not raw_line.strip():
                continue
            obj = json.loads(raw_line)
            lines.append(obj)
            if on_line:
                on_line(obj)
        return r.status, h, lines
    finally:
        c.close()


def api_pull(d, ref, platform=None, **kw):
    body = {"ref": ref}
    if platform:
        body["platform"] = platform
    return stream(d, "POST", "/v1/images/pull", body=body, **kw)


def done_image(status, lines):
    """The image of a successful stream (asserts it ended in status done)."""
    assert status == 200, f"status {status}: {lines}"
    assert lines, "empty stream"
    assert lines[-1].get("status") == "done", f"stream did not end in done: {lines[-3:]}"
    return lines[-1]["image"]


def cli_json(d, *args, check=0):
    r = d.cli("-o", "json", *args, check=check)
    return json.loads(r.stdout) if check == 0 else r


def get_image(d, ref):
    status, _, body = d.request("GET", f"/v1/images/{ref}")
    return body if status == 200 else None


def image_refs(d):
    status, _, body = d.request("GET", "/v1/images")
    assert status == 200, body
    return body


def all_names(d):
    return sorted(n for img in image_refs(d) for n in img["names"])
