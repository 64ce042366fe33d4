"""Registries for nanocl's image tests, and the fixtures that start them.

- `Registry`: a real `docker-registry serve` (distribution 2.8) on 127.0.0.1:<free port>,
  filesystem storage in a tmp dir, optionally behind htpasswd (bcrypt) basic auth.
- `FrontRegistry`: a threaded Python proxy in front of a Registry that can demand bearer
  tokens (issued by its own /token endpoint, optionally behind basic auth), counts the
  requests it sees and can stall one blob mid-stream (for kill -9 tests).
- `BadRegistry`: serves one image copied from a real registry, with one layer broken
  ("digest-mismatch", "truncated" or "500-on-blob").

Test modules import the fixtures they use from here (`from registry import …`); the
images themselves are built once per session (images_build.py).
"""

import base64
import http.client
import http.server
import json
import secrets
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from conftest import Daemon, free_tcp_port
from images_build import (OCI_INDEX, OCI_MANIFEST, BuiltImages, raw_image, sha256_bytes)

USER, PASSWORD = "alice", "secret"
MANIFEST_ACCEPT = ", ".join([
    OCI_MANIFEST, OCI_INDEX,
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json"])
START_TIMEOUT = 20.0


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --------------------------------------------------------------------------- docker-registry


class Registry:
    """A real docker-registry; `addr` is 127.0.0.1:PORT."""

    def __init__(self, base, htpasswd_user=None):
        self.base = Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        self.port = free_tcp_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.creds = None
        self.log_path = self.base / "registry.log"
        auth = ""
        if htpasswd_user:
            user, password = htpasswd_user
            line = subprocess.run(["htpasswd", "-Bbn", user, password], check=True,
                                  capture_output=True, text=True).stdout.strip()
            (self.base / "htpasswd").write_text(line + "\n")
            auth = (f"auth:\n  htpasswd:\n    realm: nanocl-test\n"
                    f"    path: {self.base / 'htpasswd'}\n")
            self.creds = (user, password)
        (self.base / "config.yml").write_text(
            "version: 0.1\nlog:\n  level: info\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.base / 'data'}\n"
            "  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.addr}\n" + auth)
        self.proc = None

    def start(self):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(["docker-registry", "serve",
                                          str(self.base / "config.yml")],
                                         stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"docker-registry exited {self.proc.returncode}:\n"
                                     f"{self.log_path.read_text()}")
            try:
                status, _, _ = self.request("GET", "/v2/", auth=False)
                if status in (200, 401):
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"docker-registry did not answer /v2/ on {self.addr}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def request(self, method, path, body=None, headers=None, auth=True):
        h = dict(headers or {})
        if auth and self.creds:
            h["Authorization"] = basic(*self.creds)
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    # -- content
    def manifest(self, name, ref):
        """(bytes, media type, digest) of a manifest or index."""
        status, h, data = self.request("GET", f"/v2/{name}/manifests/{ref}",
                                       headers={"Accept": MANIFEST_ACCEPT})
        assert status == 200, f"GET manifest {name}:{ref}: {status} {data[:200]!r}"
        return data, h.get("content-type"), sha256_bytes(data)

    def blob(self, name, digest):
        status, _, data = self.request("GET", f"/v2/{name}/blobs/{digest}")
        assert status == 200, f"GET blob {name}@{digest}: {status}"
        return data

    def put_blob(self, name, data):
        digest = sha256_bytes(data)
        status, h, body = self.request("POST", f"/v2/{name}/blobs/uploads/")
        assert status == 202, f"POST upload {name}: {status} {body!r}"
        loc = urllib.parse.urlsplit(h["location"])
        q = loc.query + ("&" if loc.query else "") + urllib.parse.urlencode({"digest": digest})
        status, _, body = self.request("PUT", f"{loc.path}?{q}", body=data, headers={
            "Content-Type": "application/octet-stream", "Content-Length": str(len(data))})
        assert status == 201, f"PUT blob {digest}: {status} {body!r}"
        return digest

    def put_manifest(self, name, ref, data, media_type=OCI_MANIFEST):
        status, _, body = self.request("PUT", f"/v2/{name}/manifests/{ref}", body=data,
                                       headers={"Content-Type": media_type})
        assert status == 201, f"PUT manifest {name}:{ref}: {status} {body!r}"
        return sha256_bytes(data)

    def push_raw(self, name, tag, img):
        """Pushes a raw_image() dict through the HTTP API, untouched by any tool."""
        for layer in img["layers"]:
            self.put_blob(name, layer)
        self.put_blob(name, img["config"])
        self.put_manifest(name, tag, img["manifest"])
        return img

    def push_oci(self, layout, tag, name, fmt=None, all_=False):
        push_oci(layout, tag, self, name, fmt=fmt, all_=all_)


def push_oci(layout, tag, registry, name, fmt=None, all_=False):
    """skopeo copy oci:LAYOUT:TAG docker://ADDR/NAME (plain HTTP, creds if any)."""
    argv = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false"]
    if registry.creds:
        argv += ["--dest-creds", ":".join(registry.creds)]
    if fmt:
        argv += ["--format", fmt]
    if all_:
        argv += ["--all"]
    argv += [f"oci:{Path(getattr(layout, 'path', layout))}:{tag}",
             f"docker://{registry.addr}/{name}"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"{' '.join(argv)}: {r.stderr}"


# --------------------------------------------------------------------------- HTTP servers

HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection",
       "te", "trailer", "upgrade"}


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Base(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner = None  # set per server class

    def log_message(self, fmt, *args):
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else None

    def send_json(self, status, obj, headers=()):
        data = json.dumps(obj).encode()
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self):
        self.owner.handle(self)

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET


class _HTTPServerOwner:
    def _serve(self, host="127.0.0.1"):
        handler = type("Handler", (_Base,), {"owner": self})
        self.server = _Server((host, 0), handler)
        self.port = self.server.server_address[1]
        self.addr = f"{host}:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.lock = threading.Lock()
        self.requests = []  # (method, path) in arrival order
        self.served = []  # the same, for those a FrontRegistry passed on

    def record(self, h):
        with self.lock:
            self.requests.append((h.command, urllib.parse.urlsplit(h.path).path))

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def count(self, method=None, kind=None, served=False):
        """Requests seen, by method and kind ("blobs", "manifests", "token", "ping");
        served: only those passed on to the upstream registry (not 401 challenges)."""
        def kind_of(p):
            if p.startswith("/token"):
                return "token"
            if p.rstrip("/") == "/v2":
                return "ping"
            return "blobs" if "/blobs/" in p else "manifests" if "/manifests/" in p else "other"
        with self.lock:
            return sum(1 for m, p in (self.served if served else self.requests)
                       if (method is None or m == method) and (kind is None or kind_of(p) == kind))

    def reset(self):
        with self.lock:
            self.requests.clear()
            self.served.clear()


class FrontRegistry(_HTTPServerOwner):
    """A proxy in front of `upstream` (a Registry), listening on host:<free port>.

    bearer: demand `Authorization: Bearer <token>` issued by our /token endpoint.
    token_creds: (user, password) the /token endpoint requires as basic auth.
    hold(digest, after): stream `after` bytes of that blob, then wait for release().
    redirect_blobs_to: another front; blob GETs are answered 307 to the same path there
    (as registries on object storage do).
    """

    def __init__(self, upstream, bearer=False, token_creds=None, host="127.0.0.1",
                 redirect_blobs_to=None):
        self.upstream = upstream
        self.redirect_blobs_to = redirect_blobs_to  # another front: blob GETs answer 307
        self.auth_headers = []  # (path, Authorization header or None) of every request
        self.bearer = bearer
        self.token_creds = token_creds
        self.tokens = {}  # token -> scope
        self.token_requests = []  # (query dict, had basic auth)
        self.holds = {}
        self._serve(host)
        self.creds = None

    def hold(self, digest, after):
        self.holds[digest] = {"after": after, "reached": threading.Event(),
                              "release": threading.Event()}
        return self.holds[digest]

    def release(self):
        for h in self.holds.values():
            h["release"].set()
        self.holds = {}

    def stop(self):
        self.release()
        super().stop()

    def challenge(self, h, path):
        parts = path.split("/")
        params = f'realm="http://{self.addr}/token",service="test"'
        if len(parts) > 4 and parts[1] == "v2" and parts[-2] in ("manifests", "blobs"):
            params += f',scope="repository:{"/".join(parts[2:-2])}:pull"'
        h.send_json(401, {"errors": [{"code": "UNAUTHORIZED", "message": "token required"}]},
                    headers=[("WWW-Authenticate", "Bearer " + params),
                             ("Docker-Distribution-Api-Version", "registry/2.0")])

    def handle(self, h):
        self.record(h)
        url = urllib.parse.urlsplit(h.path)
        with self.lock:
            self.auth_headers.append((url.path, h.headers.get("Authorization")))
        if url.path == "/token":
            q = dict(urllib.parse.parse_qsl(url.query))
            auth = h.headers.get("Authorization", "")
            with self.lock:
                self.token_requests.append((q, auth.startswith("Basic ")))
            if self.token_creds and auth != basic(*self.token_creds):
                h.send_json(401, {"details": "bad credentials"},
                            headers=[("WWW-Authenticate", 'Basic realm="token"')])
                return
            token = secrets.token_hex(16)
            with self.lock:
                self.tokens[token] = q.get("scope", "")
            h.send_json(200, {"token": token, "access_token": token, "expires_in": 300})
            return
        if self.bearer:
            auth = h.headers.get("Authorization", "")
            if not (auth.startswith("Bearer ") and auth[7:] in self.tokens):
                self.challenge(h, url.path)
                return
        if self.redirect_blobs_to and h.command == "GET" and "/blobs/sha256:" in url.path:
            h.send_response(307)
            h.send_header("Location", f"http://{self.redirect_blobs_to.addr}{h.path}")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        self.proxy(h)

    def proxy(self, h):
        with self.lock:
            self.served.append((h.command, urllib.parse.urlsplit(h.path).path))
        body = h._body()
        c = http.client.HTTPConnection("127.0.0.1", self.upstream.port, timeout=120)
        try:
            c.putrequest(h.command, h.path, skip_accept_encoding=True)
            for k, v in h.headers.items():  # repeated headers (Accept) kept as they came
                if k.lower() not in HOP and k.lower() not in ("host", "authorization"):
                    c.putheader(k, v)
            if body:
                c.putheader("Content-Length", str(len(body)))
            c.endheaders(body)
            r = c.getresponse()
            length = r.getheader("Content-Length")
            data = None
            if length is None and h.command != "HEAD" and r.status not in (204, 304):
                data = r.read()
                length = str(len(data))
            h.send_response(r.status)
            for k, v in r.getheaders():
                if k.lower() not in HOP:
                    h.send_header(k, v)
            if length is not None:
                h.send_header("Content-Length", length)
            h.end_headers()
            if h.command == "HEAD":
                return
            if data is not None:
                h.wfile.write(data)
                return
            digest = url_digest(h.path)
            hold = self.holds.get(digest) if r.status == 200 else None
            sent = 0
            while True:
                chunk = r.read(64 * 1024)
                if not chunk:
                    break
                if hold and sent + len(chunk) >= hold["after"]:
                    cut = max(0, hold["after"] - sent)
                    h.wfile.write(chunk[:cut])
                    h.wfile.flush()
                    hold["reached"].set()
                    hold["release"].wait(120)
                    hold = None  # then the rest, if the client is still there
                    chunk = chunk[cut:]
                    sent += cut
                h.wfile.write(chunk)
                sent += len(chunk)
        except (OSError, http.client.HTTPException):
            h.close_connection = True
        finally:
            c.close()


def url_digest(path):
    p = urllib.parse.urlsplit(path).path
    return p.rsplit("/", 1)[-1] if "/blobs/" in p else None


class BadRegistry(_HTTPServerOwner):
    """Serves NAME:TAG copied from `source` (a Registry) with one blob broken.

    mode: "digest-mismatch" (bytes altered, same length), "truncated" (half the bytes
    under the full Content-Length, then the connection is closed), "500-on-blob".
    victim: index of the broken layer in the manifest (default: the last one).
    """

    MODES = ("digest-mismatch", "truncated", "500-on-blob")

    def __init__(self, source, name, tag, mode, victim=-1):
        assert mode in self.MODES, mode
        self.mode = mode
        self.name = name
        self.tag = tag
        self.manifest, self.media_type, self.digest = source.manifest(name, tag)
        man = json.loads(self.manifest)
        assert man.get("layers"), "BadRegistry needs a single-platform manifest"
        self.blobs = {man["config"]["digest"]: source.blob(name, man["config"]["digest"])}
        for l in man["layers"]:
            self.blobs[l["digest"]] = source.blob(name, l["digest"])
        self.victim = man["layers"][victim]["digest"]
        self.layer_digests = [l["digest"] for l in man["layers"]]
        self._serve()
        self.creds = None

    def handle(self, h):
        self.record(h)
        h._body()
        path = urllib.parse.urlsplit(h.path).path
        if path.rstrip("/") == "/v2":
            h.send_json(200, {}, headers=[("Docker-Distribution-Api-Version", "registry/2.0")])
            return
        prefix = f"/v2/{self.name}/"
        if h.command not in ("GET", "HEAD") or not path.startswith(prefix):
            h.send_json(404, {"errors": [{"code": "NAME_UNKNOWN", "message": "unknown"}]})
            return
        kind, _, ref = path[len(prefix):].partition("/")
        if kind == "manifests" and ref in (self.tag, self.digest):
            self.send(h, self.manifest, self.media_type, self.digest)
        elif kind == "blobs" and ref in self.blobs:
            data = self.blobs[ref]
            if ref != self.victim:
                self.send(h, data, "application/octet-stream", ref)
            elif self.mode == "500-on-blob":
                h.send_json(500, {"errors": [{"code": "UNKNOWN", "message": "disk on fire"}]})
            elif self.mode == "digest-mismatch":
                mid = len(data) // 2
                bad = data[:mid] + bytes(b ^ 0x5A for b in data[mid:mid + 64]) + data[mid + 64:]
                self.send(h, bad, "application/octet-stream", ref)
            else:  # truncated
                h.send_response(200)
                h.send_header("Content-Type", "application/octet-stream")
                h.send_header("Content-Length", str(len(data)))
                h.send_header("Docker-Content-Digest", ref)
                h.end_headers()
                if h.command == "GET":
                    h.wfile.write(data[:len(data) // 2])
                    h.wfile.flush()
                h.close_connection = True
        else:
            h.send_json(404, {"errors": [{"code": "BLOB_UNKNOWN" if kind == "blobs" else
                                          "MANIFEST_UNKNOWN", "message": "unknown"}]})

    @staticmethod
    def send(h, data, ctype, digest):
        h.send_response(200)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(data)))
        h.send_header("Docker-Content-Digest", digest)
        h.end_headers()
        if h.command == "GET":
            h.wfile.write(data)


# --------------------------------------------------------------------------- fixtures

_BUILT = {}


@pytest.fixture(scope="session")
def images(tmp_path_factory):
    """The session's BuiltImages (built once even when several modules import this)."""
    if "images" not in _BUILT:
        _BUILT["images"] = BuiltImages(tmp_path_factory.mktemp("images"))
    return _BUILT["images"]


STANDARD = (("busybox", "busybox:1.0", None, False), ("layered", "layered:1.0", None, False),
            ("multi", "multi:1.0", None, True), ("busybox", "v2s2/busybox:1.0", "v2s2", False))


def start_registry(tmp_path_factory, images, htpasswd_user=None, push=STANDARD):
    reg = Registry(tmp_path_factory.mktemp("registry"), htpasswd_user=htpasswd_user).start()
    try:
        for tag, name, fmt, all_ in push:
            reg.push_oci(images.layout, tag, name, fmt=fmt, all_=all_)
    except BaseException:
        reg.stop()
        raise
    return reg


@pytest.fixture(scope="module")
def registry(tmp_path_factory, images):
    """An anonymous docker-registry holding busybox:1.0, layered:1.0, multi:1.0 (index
    amd64+arm64) and v2s2/busybox:1.0 (Docker schema 2 media types)."""
    reg = start_registry(tmp_path_factory, images)
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory, images):
    """A docker-registry behind htpasswd basic auth (alice/secret) holding busybox:1.0."""
    reg = start_registry(tmp_path_factory, images, htpasswd_user=(USER, PASSWORD),
                         push=(("busybox", "busybox:1.0", None, False),))
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def bearer_registry(registry):
    """A bearer-token front over `registry`; its /token endpoint is anonymous."""
    front = FrontRegistry(registry, bearer=True)
    yield front
    front.stop()


@pytest.fixture(scope="module")
def bearer_auth_registry(registry):
    """A bearer-token front over `registry` whose /token endpoint wants alice/secret."""
    front = FrontRegistry(registry, bearer=True, token_creds=(USER, PASSWORD))
    yield front
    front.stop()


@pytest.fixture
def front_registry(registry):
    """make() -> a plain FrontRegistry over `registry` (counts requests, can stall)."""
    made = []

    def make(**kw):
        f = FrontRegistry(registry, **kw)
        made.append(f)
        return f

    yield make
    for f in made:
        f.stop()


@pytest.fixture
def bad_registry(registry):
    """make(mode, name="layered", tag="1.0", victim=-1) -> a BadRegistry."""
    made = []

    def make(mode, name="layered", tag="1.0", victim=-1):
        b = BadRegistry(registry, name, tag, mode, victim)
        made.append(b)
        return b

    yield make
    for b in made:
        b.stop()


def insecure_args(*registries):
    out = []
    for r in registries:
        out += ["--insecure-registry", r.addr]
    return out


def image_daemon(tmp_path_factory, *registries, **kw):
    """A Daemon told that every given registry is insecure (plain HTTP)."""
    extra = insecure_args(*registries) + list(kw.pop("extra_args", ()))
    return Daemon(tmp_path_factory.mktemp("daemon"), extra_args=extra, **kw)


def push_raw_image(reg, name, tag, layer_tars, **kw):
    return reg.push_raw(name, tag, raw_image(layer_tars, **kw))
