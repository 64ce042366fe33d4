"""Crash safety: `kill -9` nanocld in the middle of a burst of writes, restart it on the
same state dir, and check that nothing acknowledged was lost, nothing unasked appeared,
and the SQLite store is intact."""

import http.client
import sqlite3
import threading

import pytest

THREADS = 8
PER_THREAD = 500  # far more than the largest kill point: the burst is still going


class Burst:
    """THREADS threads creating unique namespaces `<prefix>-t<T>-<N>` until the daemon dies."""

    def __init__(self, daemon, prefix, kill_after):
        self.daemon = daemon
        self.prefix = prefix
        self.kill_after = kill_after
        self.lock = threading.Lock()
        self.attempted = set()
        self.acked = set()
        self.refused = []  # answers other than 201 while the daemon was alive
        self.reached = threading.Event()
        self.threads = [threading.Thread(target=self.worker, args=(t,), daemon=True)
                        for t in range(THREADS)]

    def worker(self, t):
        for i in range(PER_THREAD):
            name = f"{self.prefix}-t{t}-{i}"
            with self.lock:
                self.attempted.add(name)
            try:
                status, _, body = self.daemon.request("POST", "/v1/namespaces",
                                                      {"name": name})
            except (OSError, http.client.HTTPException):
                return  # the daemon is gone (or going)
            with self.lock:
                if 200 <= status < 300:
                    self.acked.add(name)
                    if len(self.acked) >= self.kill_after:
                        self.reached.set()
                else:
                    self.refused.append((name, status, body))
        self.reached.set()  # ran out of names: kill anyway (reported below)

    def run_and_kill(self, stopper=None):
        """Runs the burst; at the kill point calls `stopper` (default: kill -9) and
        returns what it returned."""
        for t in self.threads:
            t.start()
        assert self.reached.wait(120), "the burst never reached its kill point"
        result = (stopper or self.daemon.kill9)()
        for t in self.threads:
            t.join(60)
        assert not any(t.is_alive() for t in self.threads), "a client hung after the stop"
        return result


def listed_names(d):
    status, _, body = d.request("GET", "/v1/namespaces")
    assert status == 200, body
    return {ns["name"] for ns in body}


def integrity(db):
    con = sqlite3.connect(str(db))
    try:
        return con.execute("PRAGMA integrity_check").fetchall()
    finally:
        con.close()


def check_after_restart(d, burst, before):
    d.start()  # must start over the stale socket, pid file and a hot WAL
    names = listed_names(d)
    assert "global" in names
    lost = burst.acked - names
    assert not lost, f"{len(lost)} acknowledged creates lost, e.g. {sorted(lost)[:5]}"
    unasked = names - before - burst.attempted
    assert not unasked, f"names nobody asked for: {sorted(unasked)[:5]}"
    # the store still works: a new create, and a duplicate of an acknowledged one
    assert d.request("POST", "/v1/namespaces", {"name": f"{burst.prefix}-after"})[0] == 201
    if burst.acked:
        dup = sorted(burst.acked)[0]
        assert d.request("POST", "/v1/namespaces", {"name": dup})[0] == 409
    return names | {f"{burst.prefix}-after"}


@pytest.mark.parametrize("kill_after", [1, 60, 400])
def test_kill9_during_create_burst(daemon_factory, kill_after):
    d = daemon_factory()
    before = listed_names(d)
    burst = Burst(d, f"k{kill_after}", kill_after)
    burst.run_and_kill()
    assert not burst.refused, f"creates refused while alive: {burst.refused[:5]}"
    assert len(burst.acked) >= kill_after
    assert len(burst.acked) < len(burst.attempted), \
        "every create finished before the kill: the burst was not interrupted"
    check_after_restart(d, burst, before)
    assert d.stop() == 0, d.log()
    assert integrity(d.db) == [("ok",)]


def test_repeated_kills_on_one_state_dir(daemon_factory):
    d = daemon_factory()
    known = listed_names(d)
    for rnd, kill_after in enumerate((5, 120, 30)):
        burst = Burst(d, f"r{rnd}", kill_after)
        burst.run_and_kill()
        assert not burst.refused, f"round {rnd}: refused while alive: {burst.refused[:5]}"
        known = check_after_restart(d, burst, known)
    assert d.stop() == 0, d.log()
    assert integrity(d.db) == [("ok",)]
    d.start()
    assert listed_names(d) == known


def test_sigterm_during_create_burst(daemon_factory):
    d = daemon_factory()
    before = listed_names(d)
    burst = Burst(d, "term", 50)
    code = burst.run_and_kill(stopper=lambda: d.stop(timeout=25))
    assert code == 0, d.log()
    assert not d.sock.exists() and not d.pid_file.exists()
    # requests in flight finish; a request that arrives while stopping may get a 503
    for name, status, body in burst.refused:
        assert status == 503 and body.get("kind") == "unavailable", (name, status, body)
    assert integrity(d.db) == [("ok",)]
    check_after_restart(d, burst, before)
