"""Test images for nanocl's image tests, built once per pytest session.

Everything comes from real tools: `umoci` builds an OCI image layout from busybox-static,
hand-made tar layers (opaque whiteouts, a big random file) are appended with
`umoci raw add-layer`, and the multi-arch index is written into the layout by hand.
`umoci unpack` of the same tag is the reference tree the tests compare nanocl's layers
with.  Malicious layers are made with Python's tarfile, so no tool sanitises them.
"""

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

BUSYBOX = Path("/bin/busybox")
APPLETS = ("sh", "ls", "cat", "echo", "mkdir", "rm", "cp", "mv", "ln", "chmod", "chown",
           "id", "true", "false", "sleep", "env", "grep", "head", "tail", "wc", "stat",
           "find", "test", "uname", "ps", "kill", "nc", "wget", "ping", "nslookup",
           "httpd", "ip", "hostname", "timeout", "seq", "printf")
BIG_MIB = int(os.environ.get("NANOCL_TEST_BIG_MIB", "32"))  # 100 for benchmarks
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

# created_by of each history entry of the layered image, oldest first
LAYERED_HISTORY = ("config:busybox", "layer:busybox", "layer:content", "layer:removals",
                   "layer:opaque", "layer:big")


def run(*argv, cwd=None):
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True, cwd=cwd,
                       timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))}: exit {r.returncode}\n"
                           f"{r.stdout}\n{r.stderr}")
    return r.stdout


def sha256_bytes(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def chain_ids(diff_ids):
    """OCI ChainIDs: chain[0] = diff[0]; chain[n] = sha256(chain[n-1] + " " + diff[n])."""
    out = []
    for d in diff_ids:
        out.append(d if not out else sha256_bytes(f"{out[-1]} {d}".encode()))
    return out


# --------------------------------------------------------------------------- tar helpers


def tar_bytes(entries):
    """An uncompressed tar from [(TarInfo kwargs dict, data bytes or None)]."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for spec, data in entries:
            ti = tarfile.TarInfo(spec["name"])
            ti.type = spec.get("type", tarfile.REGTYPE)
            ti.mode = spec.get("mode", 0o644 if ti.type == tarfile.REGTYPE else 0o755)
            ti.uid = spec.get("uid", 0)
            ti.gid = spec.get("gid", 0)
            ti.mtime = spec.get("mtime", 1700000000)
            ti.linkname = spec.get("linkname", "")
            if data is not None:
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
            else:
                t.addfile(ti)
    return buf.getvalue()


def d_(name, mode=0o755):
    return ({"name": name, "type": tarfile.DIRTYPE, "mode": mode}, None)


def f_(name, data, mode=0o644, uid=0, gid=0):
    return ({"name": name, "mode": mode, "uid": uid, "gid": gid}, data)


def gz(data):
    return gzip.compress(data, mtime=0)


# --------------------------------------------------------------------------- layout


class Layout:
    """An OCI image layout on disk (read side + the few writes we do by hand)."""

    def __init__(self, path):
        self.path = Path(path)

    def blob_path(self, digest):
        return self.path / "blobs" / "sha256" / digest.split(":", 1)[1]

    def blob(self, digest):
        return self.blob_path(digest).read_bytes()

    def json_blob(self, digest):
        return json.loads(self.blob(digest))

    def put_blob(self, data):
        digest = sha256_bytes(data)
        self.blob_path(digest).write_bytes(data)
        return digest

    def index(self):
        return json.loads((self.path / "index.json").read_text())

    def descriptor(self, tag):
        for m in self.index()["manifests"]:
            if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
                return m
        raise KeyError(tag)

    def add_tag(self, tag, desc):
        idx = self.index()
        idx["manifests"] = [m for m in idx["manifests"] if m.get("annotations", {}).get(
            "org.opencontainers.image.ref.name") != tag]
        d = dict(desc)
        d["annotations"] = {"org.opencontainers.image.ref.name": tag}
        idx["manifests"].append(d)
        (self.path / "index.json").write_text(json.dumps(idx))

    def manifest(self, tag):
        """(digest, manifest dict) of a tag naming a single-platform manifest."""
        desc = self.descriptor(tag)
        return desc["digest"], self.json_blob(desc["digest"])

    def facts(self, tag):
        """What nanocl should report for the image: id, digest, layers, config."""
        mdigest, man = self.manifest(tag)
        cfg = self.json_blob(man["config"]["digest"])
        diff_ids = cfg["rootfs"]["diff_ids"]
        return {
            "id": man["config"]["digest"],
            "digest": mdigest,
            "manifest": man,
            "config": cfg,
            "layer_digests": [l["digest"] for l in man["layers"]],
            "layer_sizes": [l["size"] for l in man["layers"]],
            "media_types": [l["mediaType"] for l in man["layers"]],
            "diff_ids": diff_ids,
            "chain_ids": chain_ids(diff_ids),
            "size": sum(l["size"] for l in man["layers"]),
        }


# --------------------------------------------------------------------------- builders


def _populate_busybox(root):
    (root / "bin").mkdir(mode=0o755)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    os.chmod(root / "bin" / "busybox", 0o755)
    for a in APPLETS:
        os.symlink("busybox", root / "bin" / a)
    (root / "etc").mkdir(mode=0o755)
    (root / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
    (root / "etc" / "group").write_text("root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n")
    (root / "tmp").mkdir()
    os.chmod(root / "tmp", 0o1777)
    (root / "root").mkdir(mode=0o700)


def _populate_content(root):
    data = root / "data"
    (data / "keep").mkdir(parents=True)
    (data / "keep" / "f").write_text("version 1\n")
    (data / "gone" / "sub").mkdir(parents=True)
    (data / "gone" / "sub" / "g").write_text("removed with its directory\n")
    (data / "gone" / "top").write_text("also removed\n")
    (data / "rmfile").write_text("removed in a later layer\n")
    (data / "h1").write_text("hard-linked three times\n")
    os.link(data / "h1", data / "h2")
    os.link(data / "h1", data / "h3")
    os.symlink("../data/keep/f", data / "sl")
    os.symlink("/bin/busybox", data / "abs")
    os.symlink("does/not/exist", data / "dangling")
    (data / "empty").write_bytes(b"")
    (data / "with space \u00fc.txt").write_text("odd name\n")
    (data / "f2d").write_text("a file that becomes a directory\n")
    (data / "d2f").mkdir()
    (data / "d2f" / "inner").write_text("a directory that becomes a file\n")
    (data / "chmodme").write_text("mode changes later\n")
    os.chmod(data / "chmodme", 0o644)
    (data / "sticky").mkdir()
    os.chmod(data / "sticky", 0o1777)
    deep = data.joinpath(*[f"d{i}" for i in range(12)])
    deep.mkdir(parents=True)
    (deep / "leaf").write_bytes(os.urandom(100000))
    (root / "usr" / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, root / "usr" / "bin" / "suid")
    os.chmod(root / "usr" / "bin" / "suid", 0o4755)
    (root / "usr" / "bin" / "sgid").write_text("#!/bin/sh\n")
    os.chmod(root / "usr" / "bin" / "sgid", 0o2755)
    home = root / "home" / "user"
    home.mkdir(parents=True)
    (home / "owned").write_text("belongs to 1000:1000\n")
    os.chown(home / "owned", 1000, 1000)
    os.chmod(home / "owned", 0o640)
    os.chown(home, 1000, 1000)
    os.chmod(home, 0o750)
    (root / "opq").mkdir()
    (root / "opq" / "old1").write_text("hidden by the opaque directory\n")
    (root / "opq" / "olddir").mkdir()
    (root / "opq" / "olddir" / "x").write_text("also hidden\n")


def _change_content(root):
    data = root / "data"
    os.unlink(data / "rmfile")
    shutil.rmtree(data / "gone")
    (data / "keep" / "f").write_text("version 2, changed in an upper layer\n")
    os.unlink(data / "f2d")
    (data / "f2d").mkdir()
    (data / "f2d" / "now").write_text("inside the new directory\n")
    os.chmod(data / "chmodme", 0o600)
    os.chown(data / "chmodme", 1000, 1000)


def _opaque_layer():
    return tar_bytes([
        d_("opq"),
        f_("opq/.wh..wh..opq", b""),
        f_("opq/new1", b"the only file left in opq\n"),
        d_("data"),
        f_("data/.wh.h3", b""),
        f_("data/d2f", b"now a file\n"),  # a file replacing a directory of a lower layer
    ])


def _big_layer(path, mib):
    """An uncompressed tar with big/random.bin of `mib` MiB of random bytes."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        ti = tarfile.TarInfo("big")
        ti.type = tarfile.DIRTYPE
        ti.mode = 0o755
        t.addfile(ti)

        class Rand(io.RawIOBase):
            def __init__(self, n):
                self.left = n

            def readable(self):
                return True

            def readinto(self, b):
                n = min(len(b), self.left, 1 << 20)
                b[:n] = os.urandom(n)
                self.left -= n
                return n

        ti = tarfile.TarInfo("big/random.bin")
        ti.size = mib << 20
        ti.mode = 0o644
        t.addfile(ti, io.BufferedReader(Rand(ti.size)))


def _add_multi(layout, base_tag, tag):
    """An OCI index (linux/amd64 + linux/arm64) re-using `base_tag`'s layers; each
    platform gets its own config (architecture and a label differ)."""
    _, man = layout.manifest(base_tag)
    cfg = layout.json_blob(man["config"]["digest"])
    descs = []
    for arch in ("amd64", "arm64"):
        c = json.loads(json.dumps(cfg))
        c["architecture"] = arch
        c.setdefault("config", {}).setdefault("Labels", {})["test.platform"] = arch
        cb = json.dumps(c).encode()
        m = json.loads(json.dumps(man))
        m["config"] = {"mediaType": OCI_CONFIG, "digest": layout.put_blob(cb),
                       "size": len(cb)}
        mb = json.dumps(m).encode()
        descs.append({"mediaType": OCI_MANIFEST, "digest": layout.put_blob(mb),
                      "size": len(mb), "platform": {"architecture": arch, "os": "linux"}})
    ib = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                     "manifests": descs}).encode()
    layout.add_tag(tag, {"mediaType": OCI_INDEX, "digest": layout.put_blob(ib),
                         "size": len(ib)})


class BuiltImages:
    """The session's images in one OCI layout: tags `busybox`, `layered`, `multi`
    (an index); reference trees from `umoci unpack` in `unpacked(tag)`."""

    def __init__(self, base, big_mib=BIG_MIB):
        self.base = Path(base)
        self.layout = Layout(self.base / "layout")
        self.big_mib = big_mib
        self._build()

    def _build(self):
        L = self.layout.path
        b = self.base / "bundle"
        run("umoci", "init", "--layout", L)
        run("umoci", "new", "--image", f"{L}:empty")
        run("umoci", "config", "--image", f"{L}:empty", "--config.cmd", "sh",
            "--config.env", "PATH=/usr/bin:/bin", "--config.env", "LANG=C.UTF-8",
            "--config.workingdir", "/", "--config.label", "org.example.test=nanocl",
            "--history.created_by", "config:busybox")
        run("umoci", "unpack", "--image", f"{L}:empty", b)
        _populate_busybox(b / "rootfs")
        run("umoci", "repack", "--refresh-bundle", "--history.created_by", "layer:busybox",
            "--image", f"{L}:busybox", b)
        _populate_content(b / "rootfs")
        run("umoci", "repack", "--refresh-bundle", "--history.created_by", "layer:content",
            "--image", f"{L}:layered-2", b)
        _change_content(b / "rootfs")
        run("umoci", "repack", "--refresh-bundle", "--history.created_by", "layer:removals",
            "--image", f"{L}:layered-3", b)
        opq = self.base / "opaque.tar"
        opq.write_bytes(_opaque_layer())
        run("umoci", "raw", "add-layer", "--history.created_by", "layer:opaque",
            "--image", f"{L}:layered-3", "--tag", "layered-4", opq)
        big = self.base / "big.tar"
        _big_layer(big, self.big_mib)
        run("umoci", "raw", "add-layer", "--history.created_by", "layer:big",
            "--image", f"{L}:layered-4", "--tag", "layered", big)
        opq.unlink()
        big.unlink()
        shutil.rmtree(b)
        _add_multi(self.layout, "busybox", "multi")
        self.unpacked_dirs = {}
        for tag in ("busybox", "layered"):
            self.unpacked(tag)

    def unpacked(self, tag):
        """The rootfs `umoci unpack` makes of `tag` (cached)."""
        if tag not in self.unpacked_dirs:
            dest = self.base / "unpacked" / tag
            dest.parent.mkdir(exist_ok=True)
            run("umoci", "unpack", "--image", f"{self.layout.path}:{tag}", dest)
            self.unpacked_dirs[tag] = dest / "rootfs"
        return self.unpacked_dirs[tag]

    def facts(self, tag):
        return self.layout.facts(tag)

    def multi_facts(self):
        """{"index": digest, "amd64": facts-like dict, "arm64": …} of the `multi` tag."""
        desc = self.layout.descriptor("multi")
        idx = self.layout.json_blob(desc["digest"])
        out = {"index": desc["digest"]}
        for m in idx["manifests"]:
            man = self.layout.json_blob(m["digest"])
            out[m["platform"]["architecture"]] = {"digest": m["digest"],
                                                  "id": man["config"]["digest"]}
        return out


# --------------------------------------------------------------------------- raw images


def raw_config(diff_ids, arch="amd64", labels=None, history=None):
    """The config blob raw_image() makes (bytes; its sha256 is the image id)."""
    cfg = {"architecture": arch, "os": "linux", "created": "2026-01-02T03:04:05Z",
           "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"], "Labels": labels or {}},
           "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
           "history": history or [{"created": "2026-01-02T03:04:05Z",
                                   "created_by": f"raw layer {i}"}
                                  for i in range(len(diff_ids))]}
    return json.dumps(cfg).encode()


def compress(data, how):
    """(blob, OCI media type) of a layer tar: how = "gzip", "zstd" or "none"."""
    if how == "gzip":
        return gz(data), OCI_LAYER_GZIP
    if how == "zstd":
        out = subprocess.run(["zstd", "-q", "-c", "-3"], input=data, capture_output=True,
                             check=True).stdout
        return out, "application/vnd.oci.image.layer.v1.tar+zstd"
    return data, "application/vnd.oci.image.layer.v1.tar"


def raw_image(layer_tars, arch="amd64", labels=None, history=None, compression=None):
    """Blobs of an image made of `layer_tars` (uncompressed tar bytes, gzipped unless
    `compression` lists another way per layer): {"config", "layers", "manifest"} bytes
    plus their digests and the chain ids."""
    packed = [compress(t, how) for t, how in
              zip(layer_tars, compression or ["gzip"] * len(layer_tars))]
    gzs = [p[0] for p in packed]
    diff_ids = [sha256_bytes(t) for t in layer_tars]
    cb = raw_config(diff_ids, arch, labels, history)
    man = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": OCI_CONFIG, "digest": sha256_bytes(cb), "size": len(cb)},
           "layers": [{"mediaType": mt, "digest": sha256_bytes(g), "size": len(g)}
                      for g, mt in packed]}
    mb = json.dumps(man).encode()
    return {"config": cb, "layers": gzs, "manifest": mb, "id": sha256_bytes(cb),
            "digest": sha256_bytes(mb), "layer_digests": [sha256_bytes(g) for g in gzs],
            "diff_ids": diff_ids, "chain_ids": chain_ids(diff_ids)}


def malicious_images(outside, tag):
    """{kind: {"tars": [layer tar], "absent": [paths that must not appear], "names":
    [file names that must appear nowhere], "victim": a file that must keep one link}}
    of layers trying to write outside their root; `outside` is an existing absolute
    directory."""
    outside = Path(outside)
    up = "../" * 40
    rel_outside = str(outside).lstrip("/")
    victim = outside / f"victim-{tag}"
    sym = lambda name, target: ({"name": name, "type": tarfile.SYMTYPE,
                                 "linkname": target}, None)
    return {
        "dotdot": {"tars": [tar_bytes([f_(f"../escape-{tag}", b"x"),
                                       f_(f"{up}{rel_outside}/dotdot-{tag}", b"x")])],
                   "absent": [outside / f"dotdot-{tag}"], "names": [f"escape-{tag}"]},
        "absolute": {"tars": [tar_bytes([f_(f"{outside}/absolute-{tag}", b"x")])],
                     "absent": [outside / f"absolute-{tag}"], "names": []},
        "symlink": {"tars": [tar_bytes([sym("l", str(outside)),
                                        f_(f"l/pwned-{tag}", b"x")])],
                    "absent": [outside / f"pwned-{tag}"], "names": []},
        "symlink-relative": {"tars": [tar_bytes([sym("r", f"{up}{rel_outside}"),
                                                 f_(f"r/pwned-rel-{tag}", b"x")])],
                             "absent": [outside / f"pwned-rel-{tag}"], "names": []},
        "hardlink": {"tars": [tar_bytes([({"name": "hl", "type": tarfile.LNKTYPE,
                                           "linkname": f"{up}{str(victim).lstrip('/')}"},
                                          None),
                                         f_("hl", b"overwritten through a hard link\n")])],
                     "absent": [], "names": [], "victim": victim},
    }
