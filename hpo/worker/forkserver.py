"""One preloaded process that forks local workers: one interpreter start-up for N workers.

Starting a Python interpreter and importing hpo, numpy, scipy and a store module costs most of
a second of CPU; doing it once per local worker made ``fmin(..., n_workers=8)`` on two cores
spend seconds before the first trial. The fork server is started once (with the driver's
``sys.path`` and environment), imports all that, then forks each worker on request.

Protocol, JSON lines over two pipes: the driver sends ``{"op": "spawn", "id", "argv"}`` and
``{"op": "signal", "id", "signum"}``; the server answers ``{"op": "started", "id", "pid"}``
and ``{"op": "exited", "id", "pid", "status"}`` (a process exit code; negative: the signal
that killed it). The server reaps its children, so exit statuses are never lost.

No orphans: when the driver dies (even by SIGKILL) the server reads EOF on its command pipe,
stops its workers (SIGTERM: each puts its trial back; SIGKILL after ``stop_timeout``) and
exits; when the server dies, each worker reads EOF on a lifeline pipe and stops itself.

>>> server = ForkServer(env=dict(os.environ), stop_timeout=5)
>>> server.running
False
"""

from __future__ import annotations

import json
import os
import queue
import selectors
import signal
import subprocess
import sys
import threading
import time
import traceback

STORE_MODULES = {"sqlite": "hpo.stores.sqlite", "mongo": "hpo.stores.mongo"}


class ForkServer:
    """The driver's end: start the server, ask for workers and signals, read its events."""

    def __init__(self, env, stop_timeout):
        self.env, self.stop_timeout = env, float(stop_timeout)
        self.proc = None
        self._cmd = None
        self._events = queue.Queue()

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        """Start the server process; it preloads while the caller goes on."""
        cmd_r, cmd_w = os.pipe()
        evt_r, evt_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hpo.worker.forkserver", str(cmd_r), str(evt_w),
                 str(self.stop_timeout)],
                env=self.env, stdin=subprocess.DEVNULL, pass_fds=(cmd_r, evt_w))
        finally:
            os.close(cmd_r)
            os.close(evt_w)
        self._cmd = os.fdopen(cmd_w, "wb", buffering=0)
        events = os.fdopen(evt_r, "rb")
        threading.Thread(target=self._read_events, args=(events, self._events), daemon=True,
                         name="hpo fork server events").start()

    @staticmethod
    def _read_events(events, out):
        with events:
            for line in events:
                out.put(json.loads(line))
        out.put({"op": "gone"})  # EOF: the server exited or was killed

    def _send(self, message):
        """False when the server is gone (its exit is reported as a ``gone`` event)."""
        try:
            self._cmd.write(json.dumps(message).encode() + b"\n")
            return True
        except (BrokenPipeError, ValueError):  # ValueError: the pipe was closed by close()
            return False

    def spawn(self, worker_id, argv):
        return self._send({"op": "spawn", "id": worker_id, "argv": list(argv)})

    def signal(self, worker_id, signum):
        return self._send({"op": "signal", "id": worker_id, "signum": int(signum)})

    def events(self, timeout=0.0):
        """The events received so far, waiting up to ``timeout`` seconds for the first one."""
        out = []
        try:
            out.append(self._events.get(timeout=timeout) if timeout > 0
                       else self._events.get_nowait())
            while True:
                out.append(self._events.get_nowait())
        except queue.Empty:
            return out

    def close(self):
        """Close the command pipe (the server then stops what is left and exits) and wait."""
        if self._cmd is not None:
            self._cmd.close()
        if self.proc is not None:
            try:
                self.proc.wait(timeout=self.stop_timeout + 10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# -- the server process ----------------------------------------------------------------------------

def _preload():
    import cloudpickle  # noqa: F401  -- every domain is a cloudpickle
    import numpy  # noqa: F401
    import scipy  # noqa: F401

    from . import cli  # noqa: F401  -- hpo, the worker, the store protocol
    from ..stores import StoreURLError, parse_store_url

    try:
        scheme = parse_store_url(os.environ.get("HPO_STORE_URL", "")).scheme
        __import__(STORE_MODULES[scheme])
    except (StoreURLError, ImportError) as e:
        # The worker reports a bad url or a missing driver (pymongo) itself, with its status.
        print(f"hpo fork server: not preloading the store module: {e}", file=sys.stderr)


def _reseed():
    # Forked workers share the server's random state; numpy's global generator is not
    # reseeded at fork the way the random module is, and objectives may use it unseeded.
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()


def _watch_lifeline(fd):
    def watch():
        while os.read(fd, 1):
            continue  # nothing is ever written: read returns only at EOF
        os.kill(os.getpid(), signal.SIGTERM)  # the server died: stop gracefully
    threading.Thread(target=watch, daemon=True, name="hpo lifeline").start()


def _child(argv, close_fds, lifeline_r):
    """Runs in a forked child: become a worker, never return."""
    status = 70
    try:
        signal.set_wakeup_fd(-1)
        for fd in close_fds:
            os.close(fd)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _watch_lifeline(lifeline_r)
        _reseed()
        sys.argv = ["hpo-worker", *argv]  # what an objective reading sys.argv should see
        from .cli import main

        status = main(argv) or 0
    except SystemExit as e:  # argparse errors
        status = e.code if isinstance(e.code, int) else 2
    except BaseException:  # noqa: BLE001 -- report, then exit with a crash status
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError) as e:  # a closed stream: nothing more to say
                os.write(2, f"hpo worker: could not flush output: {e}\n".encode())
        os._exit(status)


class _Server:
    def __init__(self, cmd_fd, evt_fd, stop_timeout):
        self.cmd_fd, self.evt_fd, self.stop_timeout = cmd_fd, evt_fd, stop_timeout
        self.children = {}  # pid -> worker id
        self.pids = {}  # worker id -> pid
        self.driver_gone = False
        self.terminated = False
        self.lifeline_r, self.lifeline_w = os.pipe()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *a: None)  # a handler, so the wakeup fd is written
        signal.signal(signal.SIGTERM, self._on_sigterm)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.cmd_fd, selectors.EVENT_READ)
        self.selector.register(self.wake_r, selectors.EVENT_READ)

    def _on_sigterm(self, signum, frame):
        self.terminated = True

    def send(self, message):
        if self.driver_gone:
            return
        try:
            os.write(self.evt_fd, json.dumps(message).encode() + b"\n")
        except BrokenPipeError:
            self.driver_gone = True

    def spawn(self, worker_id, argv):
        close_fds = [self.cmd_fd, self.evt_fd, self.lifeline_w, self.wake_r, self.wake_w,
                     self.selector.fileno()]
        try:
            pid = os.fork()
        except OSError as e:
            self.send({"op": "exited", "id": worker_id, "pid": None, "status": None,
                       "error": f"fork failed: {e}"})
            return
        if pid == 0:
            _child(argv, close_fds, self.lifeline_r)
        self.children[pid], self.pids[worker_id] = worker_id, pid
        self.send({"op": "started", "id": worker_id, "pid": pid})

    def reap(self):
        while self.children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            worker_id = self.children.pop(pid, None)
            if worker_id is not None:
                self.pids.pop(worker_id, None)
                self.send({"op": "exited", "id": worker_id, "pid": pid,
                           "status": os.waitstatus_to_exitcode(status)})

    def handle(self, line):
        message = json.loads(line)
        if message["op"] == "spawn":
            self.spawn(message["id"], message["argv"])
        elif message["op"] == "signal":
            pid = self.pids.get(message["id"])
            if pid is not None:  # only a child not reaped yet: its pid cannot be reused
                os.kill(pid, message["signum"])

    def serve(self):
        buffer = b""
        while not (self.driver_gone or self.terminated):
            for key, _ in self.selector.select():
                if key.fd == self.wake_r:
                    while _drain(self.wake_r):
                        continue
                    continue
                data = os.read(self.cmd_fd, 65536)
                if not data:
                    self.driver_gone = True
                    break
                buffer += data
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    self.handle(line)
            self.reap()
        self.stop_children()

    def stop_children(self):
        """SIGTERM every child (each puts its trial back), SIGKILL those left at the deadline."""
        for pid in list(self.children):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        while self.children and time.monotonic() < deadline:
            self.selector.select(timeout=max(0.0, min(0.5, deadline - time.monotonic())))
            while _drain(self.wake_r):
                continue
            self.reap()
        for pid in list(self.children):
            os.kill(pid, signal.SIGKILL)
        while self.children:
            pid, status = os.waitpid(-1, 0)
            worker_id = self.children.pop(pid, None)
            if worker_id is not None:
                self.send({"op": "exited", "id": worker_id, "pid": pid,
                           "status": os.waitstatus_to_exitcode(status)})


def _drain(fd):
    try:
        return os.read(fd, 4096)
    except BlockingIOError:
        return b""


def main(argv=None):
    cmd_fd, evt_fd, stop_timeout = (sys.argv[1:] if argv is None else argv)
    # Ctrl-C reaches the whole process group: the driver decides, and stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _preload()
    _Server(int(cmd_fd), int(evt_fd), float(stop_timeout)).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
