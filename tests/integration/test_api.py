"""nanocld's HTTP API over its unix socket (and TCP), statuses as in docs/api.md."""

import http.client
import os
import re
import threading

import pytest

from conftest import (check_error, connection_for, free_tcp_port, http_request, ping,
                      raw_socket_for, read_response, run_cli)

MIB = 1024 * 1024
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def names(daemon):
    status, _, body = daemon.request("GET", "/v1/namespaces")
    assert status == 200
    return [ns["name"] for ns in body]


def raw_exchange(host, method, head, chunks=(), timeout=30.0):
    """Writes `head` then `chunks` from a thread while reading the answer, so a server
    that answers early (413) and stops reading cannot dead-lock the test."""
    s = raw_socket_for(host, timeout=timeout)

    def send():
        try:
            s.sendall(head)
            for c in chunks:
                s.sendall(c)
        except OSError:
            pass  # the server may close after answering early

    t = threading.Thread(target=send, daemon=True)
    t.start()
    try:
        resp = http.client.HTTPResponse(s, method=method)
        resp.begin()
        return read_response(resp)
    finally:
        s.close()
        t.join(timeout)


def post_head(host_hdr, length=None, chunked=False, path="/v1/namespaces"):
    lines = [f"POST {path} HTTP/1.1", f"Host: {host_hdr}", "Content-Type: application/json"]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    else:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunk(data):
    return b"%x\r\n" % len(data) + data + b"\r\n"


def nested_object(depth):
    """A JSON object `depth` levels deep whose top level has a valid name."""
    inner = "{}"
    for _ in range(depth - 2):
        inner = '{"a":' + inner + "}"
    return '{"name":"deep","a":' + inner + "}"


# ------------------------------------------------------------------ system

def test_ping_get(daemon):
    status, headers, body = daemon.request("GET", "/_ping")
    assert status == 200
    assert headers.get("content-type", "").startswith("text/plain")
    assert body == "OK"


def test_ping_head(daemon):
    status, headers, body = daemon.request("HEAD", "/_ping")
    assert status == 200
    assert body is None


def test_version(daemon):
    status, headers, v = daemon.request("GET", "/version")
    assert status == 200
    assert headers.get("content-type", "").startswith("application/json")
    assert re.match(r"^\d+\.\d+\.\d+", v["version"]), v
    assert v["api_version"] == "v1"
    assert isinstance(v["git_commit"], str) and v["git_commit"]
    assert v["os"] == "linux"
    assert v["arch"] == os.uname().machine
    assert set(v["build"]) >= {"buildtype", "sanitize", "store"}, v
    assert v["build"]["store"] == "sqlite"


# ------------------------------------------------------------------ namespaces, success

def test_list_has_global_and_is_sorted(daemon):
    for n in ("zz-sort", "aa-sort", "mm-sort"):
        assert daemon.request("POST", "/v1/namespaces", {"name": n})[0] == 201
    status, headers, body = daemon.request("GET", "/v1/namespaces")
    assert status == 200
    assert headers.get("content-type", "").startswith("application/json")
    got = [ns["name"] for ns in body]
    assert "global" in got
    assert got == sorted(got)
    for ns in body:
        assert TIME_RE.match(ns["created_at"]), ns


def test_create_get_delete(daemon):
    status, headers, created = daemon.request("POST", "/v1/namespaces", {"name": "api-crud"})
    assert status == 201, created
    assert headers.get("content-type", "").startswith("application/json")
    assert created["name"] == "api-crud"
    assert TIME_RE.match(created["created_at"]), created
    status, _, got = daemon.request("GET", "/v1/namespaces/api-crud")
    assert status == 200 and got == created
    status, _, body = daemon.request("DELETE", "/v1/namespaces/api-crud")
    assert status == 204 and body is None
    status, _, body = daemon.request("GET", "/v1/namespaces/api-crud")
    check_error(status, body, 404, "not_found", "api-crud")


def test_keep_alive_several_requests_one_connection(daemon):
    conn = connection_for(daemon.host)
    try:
        for path in ("/_ping", "/version", "/v1/namespaces", "/v1/namespaces/global"):
            status, _, _ = daemon.request("GET", path, conn=conn)
            assert status == 200, path
    finally:
        conn.close()


# ------------------------------------------------------------------ 404 / 405 / 409

@pytest.mark.parametrize("path", ["/", "/v1", "/v1/nope", "/v2/namespaces",
                                  "/v1/namespaces/global/extra"])
def test_unknown_route_404(daemon, path):
    status, headers, body = daemon.request("GET", path)
    check_error(status, body, 404, "not_found", path)
    assert headers.get("content-type", "").startswith("application/json")


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_missing_namespace_404(daemon, method):
    status, _, body = daemon.request(method, "/v1/namespaces/api-nobody")
    check_error(status, body, 404, "not_found", "api-nobody")


@pytest.mark.parametrize("method,path,allowed", [
    ("PUT", "/v1/namespaces", {"GET", "POST"}),
    ("DELETE", "/v1/namespaces", {"GET", "POST"}),
    ("POST", "/v1/namespaces/global", {"GET", "DELETE"}),
    ("PATCH", "/v1/namespaces/global", {"GET", "DELETE"}),
    ("POST", "/_ping", {"GET", "HEAD"}),
    ("DELETE", "/version", {"GET"}),
])
def test_method_not_allowed_405(daemon, method, path, allowed):
    status, headers, body = daemon.request(method, path)
    check_error(status, body, 405, "method_not_allowed", method)
    assert "allow" in headers, f"405 without an Allow header: {headers}"
    listed = {m.strip().upper() for m in headers["allow"].split(",")}
    assert allowed <= listed, headers["allow"]
    assert method not in listed


def test_duplicate_409(daemon):
    assert daemon.request("POST", "/v1/namespaces", {"name": "api-dup"})[0] == 201
    status, _, body = daemon.request("POST", "/v1/namespaces", {"name": "api-dup"})
    check_error(status, body, 409, "conflict", "api-dup")
    assert names(daemon).count("api-dup") == 1


def test_delete_global_409(daemon):
    status, _, body = daemon.request("DELETE", "/v1/namespaces/global")
    check_error(status, body, 409, "conflict", "global")
    assert "global" in names(daemon)


# ------------------------------------------------------------------ 422

@pytest.mark.parametrize("body,mention", [
    ({}, "name"),
    ({"name": 5}, "name"),
    ({"name": None}, "name"),
    ({"name": ["a"]}, "name"),
    ({"name": {"x": 1}}, "name"),
    ({"name": True}, "name"),
    ({"name": "api-extra", "extra": 1}, "extra"),
    ({"name": "api-extra2", "Name": "x"}, "Name"),
], ids=["missing", "int", "null", "array", "object", "bool", "unknown", "unknown-case"])
def test_invalid_body_422(daemon, body, mention):
    status, _, resp = daemon.request("POST", "/v1/namespaces", body)
    check_error(status, resp, 422, "invalid", mention)
    left = names(daemon)
    assert "api-extra" not in left and "api-extra2" not in left


@pytest.mark.parametrize("bad", ["", "Dev", "-dev", "dev-", "d_ev", "d.ev", "dév", "a b",
                                 "a" * 64, "dev\n"])
def test_bad_name_in_body_422(daemon, bad):
    status, _, resp = daemon.request("POST", "/v1/namespaces", {"name": bad})
    check_error(status, resp, 422, "invalid", *([bad.strip()] if bad.strip() else []))
    assert bad not in names(daemon)


@pytest.mark.parametrize("good", ["a", "9", "a-b", "a" * 63, "0abc-123"])
def test_boundary_names_201(daemon, good):
    status, _, resp = daemon.request("POST", "/v1/namespaces", {"name": good})
    assert status == 201, resp
    assert daemon.request("DELETE", f"/v1/namespaces/{good}")[0] == 204


@pytest.mark.parametrize("bad", ["Dev", "d_ev", "a" * 64, "dev-"])
def test_bad_name_in_path_422(daemon, bad):
    status, _, resp = daemon.request("GET", f"/v1/namespaces/{bad}")
    check_error(status, resp, 422, "invalid", bad)


# ------------------------------------------------------------------ 400

@pytest.mark.parametrize("raw", [
    b'{"name":', b"not json", b"", b'{"name":"x"} {}', b"{'name':'x'}",
    b'{"name":"\xff"}',
], ids=["truncated", "text", "empty", "trailing", "single-quotes", "bad-utf8"])
def test_malformed_json_400(daemon, raw):
    status, _, body = daemon.request("POST", "/v1/namespaces", raw_body=raw,
                                     headers={"Content-Type": "application/json"})
    check_error(status, body, 400, "bad_request")


@pytest.mark.parametrize("raw", [b"[]", b'["name"]', b'"dev"', b"42", b"null", b"true"])
def test_body_not_object_400(daemon, raw):
    status, _, body = daemon.request("POST", "/v1/namespaces", raw_body=raw,
                                     headers={"Content-Type": "application/json"})
    check_error(status, body, 400, "bad_request")


def test_depth_64_is_parsed_65_is_refused(daemon):
    # 64 levels: parsed, then refused for the unknown field "a" (422).
    status, _, body = daemon.request("POST", "/v1/namespaces", raw_body=nested_object(64))
    check_error(status, body, 422, "invalid", "a")
    # 65 levels: refused before looking at the fields (400).
    status, _, body = daemon.request("POST", "/v1/namespaces", raw_body=nested_object(65))
    check_error(status, body, 400, "bad_request")
    assert "deep" not in names(daemon)


@pytest.mark.parametrize("depth", [1000, 100000])
def test_very_deep_json_400_and_daemon_survives(daemon, depth):
    raw = b"[" * depth + b"]" * depth
    status, _, body = daemon.request("POST", "/v1/namespaces", raw_body=raw)
    check_error(status, body, 400, "bad_request")
    raw = b'{"a":' * depth + b"1" + b"}" * depth
    status, _, body = daemon.request("POST", "/v1/namespaces", raw_body=raw)
    check_error(status, body, 400, "bad_request")
    assert ping(daemon.host)


# ------------------------------------------------------------------ 413 and header cap

def padded_body(name, size):
    """A valid body of exactly `size` bytes (JSON whitespace padding)."""
    core = b'{"name":"%s"' % name.encode()
    return core + b" " * (size - len(core) - 1) + b"}"


def test_body_of_exactly_1mib_is_accepted(daemon):
    body = padded_body("api-cap-ok", MIB)
    assert len(body) == MIB
    status, _, resp = raw_exchange(daemon.host, "POST", post_head("x", len(body)), [body])
    assert status == 201, resp


def test_body_over_1mib_with_content_length_413(daemon):
    body = padded_body("api-cap-cl", MIB + 1)
    status, _, resp = raw_exchange(daemon.host, "POST", post_head("x", len(body)), [body])
    check_error(status, resp, 413, "too_large")
    assert "api-cap-cl" not in names(daemon)


def test_huge_content_length_413_without_sending(daemon):
    status, _, resp = raw_exchange(daemon.host, "POST", post_head("x", 64 * MIB), [])
    check_error(status, resp, 413, "too_large")
    assert ping(daemon.host)


def test_chunked_small_body_accepted(daemon):
    chunks = [chunk(b'{"name":'), chunk(b'"api-chunked"}'), b"0\r\n\r\n"]
    status, _, resp = raw_exchange(daemon.host, "POST", post_head("x", chunked=True), chunks)
    assert status == 201, resp
    assert "api-chunked" in names(daemon)


def test_chunked_body_over_1mib_413(daemon):
    body = padded_body("api-cap-chunked", MIB + 4096)
    piece = 64 * 1024
    chunks = [chunk(body[i:i + piece]) for i in range(0, len(body), piece)] + [b"0\r\n\r\n"]
    status, _, resp = raw_exchange(daemon.host, "POST", post_head("x", chunked=True), chunks)
    check_error(status, resp, 413, "too_large")
    assert "api-cap-chunked" not in names(daemon)


def test_headers_of_8kib_accepted(daemon):
    head = (b"GET /_ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (8 * 1024) + b"\r\n\r\n")
    status, _, body = raw_exchange(daemon.host, "GET", head)
    assert status == 200 and body == "OK"


def test_headers_over_32kib_refused(daemon):
    # docs/api.md: request line and headers are capped at 32 KiB in all.
    head = (b"GET /_ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (33 * 1024) + b"\r\n\r\n")
    status, _, _ = raw_exchange(daemon.host, "GET", head)
    assert status in (413, 431), status
    assert ping(daemon.host)


# ------------------------------------------------------------------ concurrency

def test_concurrent_creates_all_succeed(daemon):
    results = {}

    def create(i):
        n = f"api-conc-{i}"
        # no retry on EAGAIN: 50 clients connecting at once must fit the listen backlog
        conn = connection_for(daemon.host, retry_eagain=False)
        try:
            results[n] = daemon.request("POST", "/v1/namespaces", {"name": n}, conn=conn)[0]
        except Exception as e:  # noqa: BLE001 - recorded and asserted below
            results[n] = repr(e)
        finally:
            conn.close()

    threads = [threading.Thread(target=create, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 50
    bad = {n: s for n, s in results.items() if s != 201}
    assert not bad, bad
    present = set(names(daemon))
    assert set(results) <= present


def test_concurrent_same_name_one_winner(daemon):
    statuses = []
    lock = threading.Lock()

    def create():
        s = daemon.request("POST", "/v1/namespaces", {"name": "api-race"})[0]
        with lock:
            statuses.append(s)

    threads = [threading.Thread(target=create) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(statuses) == [201] + [409] * 19, statuses
    assert names(daemon).count("api-race") == 1


# ------------------------------------------------------------------ TCP listener

def test_tcp_listener(daemon_factory):
    port = free_tcp_port()
    tcp = f"tcp://127.0.0.1:{port}"
    d = daemon_factory(hosts=[tcp])
    status, _, body = http_request(tcp, "GET", "/_ping")
    assert status == 200 and body == "OK"
    status, _, _ = http_request(tcp, "POST", "/v1/namespaces", {"name": "via-tcp"})
    assert status == 201
    r = run_cli(tcp, "namespace", "ls", "-q", check=0)
    assert "via-tcp" in r.stdout.splitlines()
    r = d.cli("namespace", "inspect", "via-tcp", "-o", "json", check=0)
    assert '"via-tcp"' in r.stdout
