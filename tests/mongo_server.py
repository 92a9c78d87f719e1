"""A MongoDB-protocol server for the tests: SecantusDB started on loopback, or a real MongoDB.

``HPO_TEST_MONGO_URL=mongodb://host:port`` makes the tests use that server instead of
starting one. SecantusDB (``pip install SecantusDB==0.7.0b3``) is a test-only tool.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

MONGO_URL_ENV = "HPO_TEST_MONGO_URL"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_binary():
    candidate = os.path.join(os.path.dirname(sys.executable), "secantusd-py")
    return candidate if os.path.exists(candidate) else shutil.which("secantusd-py")


def ping(host, port, timeout=0.5, username=None, password=None):
    import pymongo

    client = pymongo.MongoClient(host=host, port=port, serverSelectionTimeoutMS=int(timeout * 1000),
                                 connectTimeoutMS=int(timeout * 1000), username=username,
                                 password=password)
    try:
        client.admin.command("ping")
        return True
    except Exception:  # noqa: BLE001 -- any failure means "not up yet"
        return False
    finally:
        client.close()


class MongoTestServer:
    """``secantusd-py`` on 127.0.0.1 with its data in ``storage``; restartable on the same port."""

    def __init__(self, storage, port=None, auth=False):
        self.storage, self.port, self.auth = str(storage), port or free_port(), auth
        self.host = "127.0.0.1"
        self.proc = None
        self.log = os.path.join(self.storage + ".log")

    def start(self, deadline=60.0):
        binary = server_binary()
        if binary is None:
            pytest.skip("secantusd-py is not installed (pip install SecantusDB==0.7.0b3)")
        cmd = [binary, "--host", self.host, "--port", str(self.port), "--storage-path",
               self.storage, "--sync-on-commit", "--log-level", "WARNING"]
        if self.auth:
            cmd.append("--auth")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"secantusd-py exited with {self.proc.returncode}; see {self.log}")
            # With --auth, an unauthenticated ping is still answered (handshake commands are).
            if ping(self.host, self.port):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"secantusd-py did not answer ping within {deadline} s; see {self.log}")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def url(self, database, collection="jobs", user=None, password=None):
        auth = f"{user}:{password}@" if user else ""
        return f"mongo://{auth}{self.host}:{self.port}/{database}/{collection}"


class ExternalServer:
    """A server given by ``$HPO_TEST_MONGO_URL`` (``mongodb://[user:pass@]host:port``)."""

    def __init__(self, url):
        from hpo.stores import parse_store_url

        parsed = parse_store_url(url.rstrip("/") + "/x")
        self.host, self.port = parsed.host, parsed.port
        self.auth_prefix = f"{parsed.username}:{parsed.password}@" if parsed.username else ""
        self.proc = None

    def url(self, database, collection="jobs"):
        return f"mongo://{self.auth_prefix}{self.host}:{self.port}/{database}/{collection}"
