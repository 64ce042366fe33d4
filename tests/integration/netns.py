"""A nanocld in a network namespace of its own, made by the test: bridges, nftables
rules, DNS servers and published ports of one test never meet another's, nor the host's.

The namespace is `ip netns add`ed (so it outlives a kill -9 of nanocld and can be
entered by name); nanocld runs under `nsenter --net` (its network only: it shares the
test's mount namespace, so /proc/mounts shows its overlay mounts)."""

import glob
import os
import shutil
import tempfile
from pathlib import Path
import signal
import subprocess
import uuid

from conftest import Daemon
from registry import insecure_args

BUSYBOX = "/bin/busybox"


class NetnsDaemon(Daemon):
    def __init__(self, base, *registries, extra_args=(), **kw):
        self.netns = f"nctest-{uuid.uuid4().hex[:10]}"
        subprocess.run(["ip", "netns", "add", self.netns], check=True)
        self.netns_path = f"/run/netns/{self.netns}"
        self.sh("ip link set lo up")
        extra = insecure_args(*registries) + list(extra_args)
        # dnsmasq reads its hosts file as nobody: the run dir's parents must let others
        # through, as /run does. pytest keeps its own tmp root 0700 (and resets it when
        # any pytest session starts), so the run dir lives in a dir of its own.
        self.run_base = tempfile.mkdtemp(prefix="nanocl-test-run-")
        os.chmod(self.run_base, 0o711)
        start = kw.pop("start", True)
        super().__init__(base, extra_args=extra, start=False, **kw)
        self.run_dir = Path(self.run_base)
        self.sock = self.run_dir / "nanocl.sock"
        self.host = f"unix://{self.sock}"
        self.pid_file = self.run_dir / "nanocld.pid"
        if start:
            self.start()

    def argv_env(self):
        argv, env = super().argv_env()
        return ["nsenter", f"--net={self.netns_path}", "--"] + argv, env

    def run(self, *argv, timeout=30, check=None):
        """Runs argv in the daemon's network namespace (the test's view of "the host")."""
        r = subprocess.run(["nsenter", f"--net={self.netns_path}", "--", *argv],
                           capture_output=True, text=True, timeout=timeout)
        if check is not None:
            assert r.returncode == check, (argv, r.returncode, r.stdout, r.stderr)
        return r

    def sh(self, script, **kw):
        if not hasattr(self, "netns_path"):
            raise AssertionError("no netns yet")
        return self.run("sh", "-c", script, **kw)

    def links(self):
        return self.run("ip", "-o", "link", "show", check=0).stdout

    def nft(self):
        return self.run("nft", "list", "ruleset", check=0).stdout

    def teardown(self):
        super().teardown()
        # DNS servers outlive nanocld on purpose; the test's end is theirs.
        for f in glob.glob(str(self.run_dir / "dns" / "*.pid")):
            try:
                os.kill(int(open(f).read().strip()), signal.SIGKILL)
            except (ValueError, OSError):
                pass
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)
        shutil.rmtree(self.run_base, ignore_errors=True)
