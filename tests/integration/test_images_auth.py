"""Registry credentials: htpasswd basic auth and bearer tokens, `nanocl login/logout`,
CONFIG_DIR/auth.json, against real docker-registry instances."""

import re
import stat

import pytest

from conftest import check_error, free_tcp_port
from images_check import get_image
from registry import (PASSWORD, USER, auth_registry, bearer_auth_registry,  # noqa: F401
                      images, insecure_args, registry)

AUTH_RE = re.compile(r"auth|unauthori[sz]ed|credential|login", re.I)
BAD_CREDS_RE = re.compile(r"unauthori[sz]ed|denied|incorrect|invalid|wrong|credential|"
                          r"authentication", re.I)


@pytest.fixture
def adaemon(daemon_factory, auth_registry, bearer_auth_registry):
    return daemon_factory(extra_args=insecure_args(auth_registry, bearer_auth_registry))


def auth_file(d):
    return d.config_dir / "auth.json"


def stored(d, registry):
    p = auth_file(d)
    return p.exists() and registry.addr in p.read_text()


def assert_auth_required(r, reg):
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert r.stderr.startswith("nanocl: "), r.stderr
    assert AUTH_RE.search(r.stderr), f"no word about authentication: {r.stderr!r}"
    assert reg.addr in r.stderr, f"the registry is not named: {r.stderr!r}"


def test_pull_without_login_needs_auth(adaemon, auth_registry):
    ref = f"{auth_registry.addr}/busybox:1.0"
    r = adaemon.cli("container-image", "create", ref)
    assert_auth_required(r, auth_registry)
    assert get_image(adaemon, ref) is None


def test_login_with_wrong_password(adaemon, auth_registry):
    r = adaemon.cli("login", auth_registry.addr, "-u", USER, "-p", "wrong", check=1)
    assert r.stderr.startswith("nanocl: ") and BAD_CREDS_RE.search(r.stderr), r.stderr
    assert not stored(adaemon, auth_registry)
    status, _, body = adaemon.request("POST", "/v1/login", {
        "registry": auth_registry.addr, "username": USER, "password": "wrong"})
    check_error(status, body, 422, "invalid")
    status, _, body = adaemon.request("POST", "/v1/login", {
        "registry": auth_registry.addr, "username": "mallory", "password": PASSWORD})
    check_error(status, body, 422, "invalid")


def test_login_pull_logout(adaemon, auth_registry, images):
    ref = f"{auth_registry.addr}/busybox:1.0"
    adaemon.cli("login", auth_registry.addr, "-u", USER, "-p", PASSWORD, check=0)
    p = auth_file(adaemon)
    assert p.is_file(), "CONFIG_DIR/auth.json not written"
    assert stat.S_IMODE(p.stat().st_mode) == 0o600, oct(p.stat().st_mode)
    assert stored(adaemon, auth_registry)

    adaemon.cli("container-image", "create", ref, check=0)
    assert get_image(adaemon, ref)["id"] == images.facts("busybox")["id"]

    # credentials survive a restart
    adaemon.cli("container-image", "rm", ref, check=0)
    adaemon.restart()
    adaemon.cli("container-image", "pull", ref, check=0)

    adaemon.cli("logout", auth_registry.addr, check=0)
    assert not stored(adaemon, auth_registry), "logout left the credentials in auth.json"
    adaemon.cli("container-image", "rm", ref, check=0)
    assert_auth_required(adaemon.cli("container-image", "create", ref), auth_registry)

    r = adaemon.cli("logout", auth_registry.addr, check=1)
    assert auth_registry.addr in r.stderr, r.stderr
    status, _, body = adaemon.request("POST", "/v1/logout", {"registry": auth_registry.addr})
    check_error(status, body, 404, "not_found")


def test_login_password_stdin(adaemon, auth_registry):
    adaemon.cli("login", auth_registry.addr, "-u", USER, "--password-stdin",
                input=PASSWORD + "\n", check=0)
    assert stored(adaemon, auth_registry)
    status, _, body = adaemon.request("POST", "/v1/login", {
        "registry": auth_registry.addr, "username": USER, "password": PASSWORD})
    assert status == 200 and body == {"status": "Login Succeeded"}, (status, body)


def test_login_unreachable_registry(adaemon):
    dead = f"127.0.0.1:{free_tcp_port()}"
    status, _, body = adaemon.request("POST", "/v1/login", {
        "registry": dead, "username": USER, "password": PASSWORD})
    check_error(status, body, 503, "unavailable")
    r = adaemon.cli("login", dead, "-u", USER, "-p", PASSWORD, check=1)
    assert dead in r.stderr, r.stderr
    assert not auth_file(adaemon).exists() or dead not in auth_file(adaemon).read_text()


@pytest.mark.parametrize("body", [{}, {"registry": "x:1"}, {"registry": 1, "username": "u",
                                                           "password": "p"},
                                  {"registry": "x:1", "username": "u", "password": "p",
                                   "email": "e"}])
def test_login_body_errors(adaemon, body):
    status, _, resp = adaemon.request("POST", "/v1/login", body)
    check_error(status, resp, 422, "invalid")


def test_bearer_token_endpoint_with_credentials(adaemon, bearer_auth_registry, images):
    front = bearer_auth_registry
    ref = f"{front.addr}/busybox:1.0"
    assert_auth_required(adaemon.cli("container-image", "create", ref), front)
    adaemon.cli("login", front.addr, "-u", USER, "-p", "wrong", check=1)
    adaemon.cli("login", front.addr, "-u", USER, "-p", PASSWORD, check=0)
    front.token_requests.clear()
    adaemon.cli("container-image", "create", ref, check=0)
    assert get_image(adaemon, ref)["id"] == images.facts("busybox")["id"]
    assert front.token_requests, "no token was asked for"
    assert all(had_basic for _, had_basic in front.token_requests), front.token_requests
    assert any(q.get("scope") == "repository:busybox:pull" and q.get("service") == "test"
               for q, _ in front.token_requests), front.token_requests
