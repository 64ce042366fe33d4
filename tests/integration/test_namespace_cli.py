"""`nanocl namespace …` and `nanocl version` against a real nanocld (docs/cli.md)."""

import json
import os
import re

import pytest

from conftest import clean_env, run_cli

NAME_RULE_BAD = ["Dev", "dev-", "d_ev", "d.ev", "dév", "a" * 64, "dev space"]
USAGE_RE = re.compile(r"usage", re.I)
VERSION_RE = re.compile(r"\d+\.\d+\.\d+")


def yaml_scalars(text):
    """Flat `key: value` pairs of a simple YAML document (quotes and '- ' removed)."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("- "):
            line = line[2:].strip()
        m = re.match(r"""^["']?([A-Za-z_][\w-]*)["']?\s*:\s*(.*)$""", line)
        if m:
            val = m.group(2).strip()
            if len(val) >= 2 and val[0] == val[-1] and val[0] in "'\"":
                val = val[1:-1]
            out.setdefault(m.group(1), []).append(val)
    return out


def api_names(daemon):
    status, _, body = daemon.request("GET", "/v1/namespaces")
    assert status == 200
    return [ns["name"] for ns in body]


def check_failed(r, *mentions, code=1):
    assert r.returncode == code, f"exit {r.returncode}, expected {code}: {r.stderr!r}"
    assert r.stderr.startswith("nanocl: "), f"stderr lacks the 'nanocl: ' prefix: {r.stderr!r}"
    for m in mentions:
        assert m in r.stderr, f"stderr does not name {m!r}: {r.stderr!r}"


# ------------------------------------------------------------------ create / ls / inspect / rm

def test_fresh_store_has_global(daemon_factory):
    d = daemon_factory()
    r = d.cli("namespace", "ls", "-q", check=0)
    assert r.stdout.split() == ["global"]


def test_create_prints_name_and_ls_shows_it(daemon):
    r = daemon.cli("namespace", "create", "cli-one", check=0)
    assert "cli-one" in r.stdout.split()
    assert "cli-one" in api_names(daemon)
    r = daemon.cli("namespace", "ls", check=0)
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "CREATED"], lines[0]
    first_cols = [line.split()[0] for line in lines[1:] if line.strip()]
    assert "cli-one" in first_cols and "global" in first_cols


def test_ls_quiet_prints_names_only(daemon):
    daemon.cli("namespace", "create", "cli-quiet", check=0)
    r = daemon.cli("namespace", "ls", "-q", check=0)
    lines = r.stdout.splitlines()
    assert sorted(lines) == sorted(api_names(daemon))
    assert "cli-quiet" in lines


def test_list_alias_and_ns_alias(daemon):
    daemon.cli("ns", "create", "cli-alias", check=0)
    r = daemon.cli("ns", "list", "-q", check=0)
    assert "cli-alias" in r.stdout.splitlines()
    r = daemon.cli("ns", "inspect", "cli-alias", "-o", "json", check=0)
    assert json.loads(r.stdout)["name"] == "cli-alias"
    daemon.cli("ns", "rm", "cli-alias", check=0)
    assert "cli-alias" not in api_names(daemon)


def test_ls_json_matches_api(daemon):
    daemon.cli("namespace", "create", "cli-json", check=0)
    r = daemon.cli("namespace", "ls", "-o", "json", check=0)
    listed = json.loads(r.stdout)
    _, _, api = daemon.request("GET", "/v1/namespaces")
    assert listed == api


@pytest.mark.parametrize("where", ["before", "after"])
def test_output_option_before_group_or_after_verb(daemon, where):
    args = ["namespace", "inspect", "global"]
    args = ["-o", "json", *args] if where == "before" else [*args, "--output", "json"]
    r = daemon.cli(*args, check=0)
    obj = json.loads(r.stdout)
    _, _, api = daemon.request("GET", "/v1/namespaces/global")
    assert obj == api


def test_ls_yaml(daemon):
    daemon.cli("namespace", "create", "cli-yaml", check=0)
    r = daemon.cli("namespace", "ls", "-o", "yaml", check=0)
    assert r.stdout.lstrip().startswith("-"), f"not a YAML sequence: {r.stdout!r}"
    names = yaml_scalars(r.stdout).get("name", [])
    assert sorted(names) == sorted(api_names(daemon))


def test_inspect_default_is_yaml_and_json_on_request(daemon):
    daemon.cli("namespace", "create", "cli-inspect", check=0)
    _, _, api = daemon.request("GET", "/v1/namespaces/cli-inspect")
    r = daemon.cli("namespace", "inspect", "cli-inspect", check=0)
    kv = yaml_scalars(r.stdout)
    assert kv.get("name") == ["cli-inspect"], r.stdout
    assert kv.get("created_at") == [api["created_at"]], r.stdout
    r2 = daemon.cli("namespace", "inspect", "cli-inspect", "-o", "yaml", check=0)
    assert r2.stdout == r.stdout
    r3 = daemon.cli("namespace", "inspect", "cli-inspect", "-o", "json", check=0)
    assert json.loads(r3.stdout) == api


def test_inspect_missing_fails(daemon):
    r = daemon.cli("namespace", "inspect", "cli-no-such")
    check_failed(r, "cli-no-such")
    assert r.stdout == ""


@pytest.mark.parametrize("verb", ["rm", "remove", "delete"])
def test_rm_and_aliases(daemon, verb):
    name = f"cli-rm-{verb}"
    daemon.cli("namespace", "create", name, check=0)
    r = daemon.cli("namespace", verb, name, check=0)
    assert name in r.stdout.split()
    assert name not in api_names(daemon)


def test_rm_several(daemon):
    for n in ("cli-s1", "cli-s2"):
        daemon.cli("namespace", "create", n, check=0)
    r = daemon.cli("namespace", "rm", "cli-s1", "cli-s2", check=0)
    assert r.stdout.split() == ["cli-s1", "cli-s2"]
    names = api_names(daemon)
    assert "cli-s1" not in names and "cli-s2" not in names


def test_inspect_invalid_name_fails(daemon):
    r = daemon.cli("namespace", "inspect", "Bad_Name")
    check_failed(r, "Bad_Name")


def test_rm_several_stops_at_first_failure(daemon):
    for n in ("cli-m1", "cli-m3"):
        daemon.cli("namespace", "create", n, check=0)
    r = daemon.cli("namespace", "rm", "cli-m1", "cli-m2-missing", "cli-m3")
    check_failed(r, "cli-m2-missing")
    assert "cli-m1" in r.stdout.split()
    names = api_names(daemon)
    assert "cli-m1" not in names
    assert "cli-m3" in names, "rm went on after the first failure"


def test_global_cannot_be_removed(daemon):
    r = daemon.cli("namespace", "rm", "global")
    check_failed(r, "global")
    assert "global" in api_names(daemon)


def test_duplicate_create_fails(daemon):
    daemon.cli("namespace", "create", "cli-dup", check=0)
    r = daemon.cli("namespace", "create", "cli-dup")
    check_failed(r, "cli-dup")
    assert api_names(daemon).count("cli-dup") == 1


@pytest.mark.parametrize("bad", NAME_RULE_BAD)
def test_invalid_names_refused(daemon, bad):
    r = daemon.cli("namespace", "create", bad)
    check_failed(r, bad)
    assert bad not in api_names(daemon)


@pytest.mark.parametrize("good", ["a", "0", "1-2", "a" * 63])
def test_boundary_names_accepted(daemon, good):
    daemon.cli("namespace", "create", good, check=0)
    assert good in api_names(daemon)
    daemon.cli("namespace", "rm", good, check=0)


# ------------------------------------------------------------------ usage errors and help

USAGE_ERRORS = [
    [],
    ["frobnicate"],
    ["namespace"],
    ["namespace", "frobnicate"],
    ["namespace", "create"],
    ["namespace", "inspect"],
    ["namespace", "rm"],
    ["--frobnicate", "namespace", "ls"],
    ["namespace", "ls", "--frobnicate"],
    ["-o", "xml", "namespace", "ls"],
    ["namespace", "ls", "-o"],
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=lambda a: " ".join(a) or "<none>")
def test_usage_errors_exit_2(daemon, args):
    r = daemon.cli(*args)
    assert r.returncode == 2, f"exit {r.returncode}: {r.stderr!r}"
    assert r.stderr.strip(), "a usage error must say what is wrong on stderr"


@pytest.mark.parametrize("args", [["frobnicate"], ["namespace", "create"]])
def test_usage_errors_need_no_daemon(tmp_path, args):
    r = run_cli(f"unix://{tmp_path}/nobody.sock", *args)
    assert r.returncode == 2, f"exit {r.returncode}: {r.stderr!r}"


def test_unknown_group_is_named(daemon):
    r = daemon.cli("frobnicate")
    assert "frobnicate" in r.stderr


HELP_LEVELS = [
    (["--help"], ["namespace", "version"]),
    (["namespace", "--help"], ["create", "ls", "inspect", "rm"]),
    (["ns", "--help"], ["create", "ls", "inspect", "rm"]),
    (["namespace", "create", "--help"], ["create"]),
    (["namespace", "ls", "--help"], ["-q"]),
    (["namespace", "inspect", "--help"], ["inspect"]),
    (["namespace", "rm", "--help"], ["rm"]),
    (["version", "--help"], ["version"]),
]


@pytest.mark.parametrize("args,mentions", HELP_LEVELS, ids=lambda a: " ".join(a))
def test_help_at_every_level(tmp_path, args, mentions):
    # --help needs no daemon: point the CLI at nothing.
    r = run_cli(f"unix://{tmp_path}/nobody.sock", *args)
    assert r.returncode == 0, r.stderr
    assert USAGE_RE.search(r.stdout), f"no usage on stdout: {r.stdout!r}"
    for m in mentions:
        assert m in r.stdout, f"help does not mention {m!r}: {r.stdout!r}"


# ------------------------------------------------------------------ version

def test_client_version_option(daemon):
    r = run_cli(None, "--version", check=0)
    _, _, server = daemon.request("GET", "/version")
    assert VERSION_RE.search(r.stdout), r.stdout
    assert server["version"] in r.stdout


def test_version_prints_client_and_server(daemon):
    r = daemon.cli("version", check=0)
    _, _, server = daemon.request("GET", "/version")
    low = r.stdout.lower()
    assert "client" in low and "server" in low, r.stdout
    assert server["version"] in r.stdout


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_version_structured(daemon, fmt):
    r = daemon.cli("version", "-o", fmt, check=0)
    _, _, server = daemon.request("GET", "/version")
    if fmt == "json":
        doc = json.loads(r.stdout)
        assert set(doc) == {"client", "server"}, doc
        assert doc["server"] == server
        assert doc["client"]["version"] == server["version"]
    else:
        top = [line.rstrip(":").strip() for line in r.stdout.splitlines()
               if line and not line[0].isspace()]
        assert sorted(top) == ["client", "server"], r.stdout
        assert server["version"] in r.stdout
        assert server["api_version"] in r.stdout


def test_version_with_daemon_down(tmp_path):
    host = f"unix://{tmp_path}/down.sock"
    r = run_cli(host, "version")
    check_failed(r, "cannot reach nanocld at " + host)
    assert VERSION_RE.search(r.stdout), "the client part must still be printed"


# ------------------------------------------------------------------ host selection

def test_nanocl_host_env_is_used(daemon):
    r = run_cli(None, "namespace", "ls", "-q", env=clean_env(NANOCL_HOST=daemon.host), check=0)
    assert "global" in r.stdout.splitlines()


def test_host_option_beats_env(daemon, tmp_path):
    env = clean_env(NANOCL_HOST=f"unix://{tmp_path}/wrong.sock")
    r = run_cli(daemon.host, "namespace", "ls", "-q", env=env, check=0)
    assert "global" in r.stdout.splitlines()
    r = run_cli(None, "namespace", "ls", "-q", env=env)
    check_failed(r, f"unix://{tmp_path}/wrong.sock")


def test_long_host_option(daemon):
    r = run_cli(None, "--host", daemon.host, "namespace", "ls", "-q", check=0)
    assert "global" in r.stdout.splitlines()


def test_default_host(tmp_path):
    if os.path.exists("/run/nanocl/nanocl.sock"):
        pytest.skip("a nanocld seems to run at the default socket on this machine")
    r = run_cli(None, "namespace", "ls")
    check_failed(r, "unix:///run/nanocl/nanocl.sock")


def test_daemon_down_one_line(tmp_path):
    host = f"unix://{tmp_path}/down.sock"
    r = run_cli(host, "namespace", "ls")
    check_failed(r, f"cannot reach nanocld at {host}")
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert r.stdout == ""
