"""The dashboard's HTTP server: the standard library's ``ThreadingHTTPServer``.

It serves the page and its scripts from the package (``hpo/dashboard/static``), the plotting
library from the installed ``plotly`` distribution (its ``plotly.min.js``; nothing is
fetched from the internet), and the JSON API of :mod:`hpo.dashboard.api`:

=====================================  ==================================================
``GET /api/experiments``               the store's experiments
``GET /api/summary?exp=K``             counts by status, best trial, a revision number
``GET /api/trials?exp=K&status=&sort=&desc=&offset=&limit=``  one page of the table
``GET /api/history|slices|parallel|importances|intermediate?exp=K``  figure data
``GET /api/trial?exp=K&tid=N``         one trial, its architecture and parents
``POST /api/enqueue`` / ``/api/cancel``  only with ``allow_write=True``
=====================================  ==================================================

``exp`` absent means the experiment without a key (``exp_key=None``). The server listens on
127.0.0.1 and answers only requests whose ``Host`` is that address or ``localhost`` (so
a web page elsewhere cannot reach it through DNS rebinding), and refuses cross-origin writes.

>>> import os, tempfile, threading, urllib.request, json
>>> from hpo import fmin, hp, rand
>>> path = os.path.join(tempfile.mkdtemp(), "search.jsonl")
>>> _ = fmin(lambda x: x ** 2, hp.uniform("x", -1, 1), algo=rand.suggest, max_evals=3,
...          trials_save_file=path, show_progressbar=False)
>>> server = make_server(path, port=0)
>>> thread = threading.Thread(target=server.serve_forever, daemon=True); thread.start()
>>> url = f"http://127.0.0.1:{server.server_port}/api/summary"
>>> json.load(urllib.request.urlopen(url))["n_trials"]
3
>>> server.shutdown(); server.server_close()
"""

from __future__ import annotations

import json
import logging
import mimetypes
import os
import threading
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .api import DashboardAPI, WriteDisabled
from .source import SourceError, UnknownExperiment, open_source

logger = logging.getLogger(__name__)

STATIC = os.path.join(os.path.dirname(__file__), "static")
PANELS = ("history", "slices", "parallel", "importances", "intermediate")


def plotly_js_path():
    """The ``plotly.min.js`` shipped in the installed ``plotly`` package (``hpo[dashboard]``)."""
    try:
        import plotly
    except ImportError as e:
        raise ImportError("the dashboard draws its figures with plotly.js from the plotly "
                          "package: pip install 'hpo[dashboard]'") from e
    path = os.path.join(os.path.dirname(plotly.__file__), "package_data", "plotly.min.js")
    if not os.path.isfile(path):
        raise ImportError(f"the installed plotly ({plotly.__version__}) has no {path}; "
                          f"reinstall it: pip install --force-reinstall plotly")
    return path


class BadRequest(ValueError):
    """A request's parameter is missing or malformed."""


def _int(query, name, default):
    text = query.get(name, [None])[0]
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {text!r}") from None


def _exp(query):
    return query["exp"][0] if query.get("exp", [""])[0] != "" else None


class Handler(BaseHTTPRequestHandler):
    """Routes requests to the API and the static files (set ``server.api``)."""

    server_version = "hpo-dashboard"

    def log_message(self, format, *args):
        logger.debug("%s %s", self.address_string(), format % args)

    # -- plumbing ----------------------------------------------------------------------------

    def _send(self, status, body, content_type, cache=False):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=3600" if cache else "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status, value):
        body = json.dumps(value, separators=(",", ":"), allow_nan=False).encode()
        self._send(status, body, "application/json")

    def _host_allowed(self):
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
        return host in ("127.0.0.1", "localhost", "::1")

    def _static(self, name):
        if name == "plotly.min.js":
            path = self.server.plotly_js
        else:
            path = os.path.join(STATIC, name)
            if os.path.dirname(os.path.normpath(path)) != STATIC or not os.path.isfile(path):
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no static file {name!r}"})
                return
        with open(path, "rb") as f:
            body = f.read()
        kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind.endswith("javascript"):
            kind += "; charset=utf-8"
        self._send(HTTPStatus.OK, body, kind, cache=name == "plotly.min.js")

    # -- requests ----------------------------------------------------------------------------

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        if not self._host_allowed():
            self._json(HTTPStatus.FORBIDDEN, {"error": "unexpected Host header"})
            return
        parts = urllib.parse.urlsplit(self.path)
        path, query = parts.path, urllib.parse.parse_qs(parts.query)
        if path in ("/", "/index.html"):
            self._static("index.html")
        elif path.startswith("/static/"):
            self._static(path[len("/static/"):])
        elif path == "/favicon.ico":
            self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon", cache=True)
        elif path.startswith("/api/"):
            self._answer(lambda: self._get_api(path[len("/api/"):], query))
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no page {path!r}"})

    def _get_api(self, name, query):
        api = self.server.api
        if name == "experiments":
            return api.experiments()
        exp = _exp(query)
        if name == "summary":
            return api.summary(exp)
        if name == "trials":
            return api.trials_page(
                exp, status=query.get("status", [None])[0] or None,
                sort=query.get("sort", ["tid"])[0], descending=query.get("desc", ["0"])[0] == "1",
                offset=_int(query, "offset", 0), limit=_int(query, "limit", 50))
        if name in PANELS:
            return getattr(api, name)(exp)
        if name == "trial":
            tid = _int(query, "tid", None)
            if tid is None:
                raise BadRequest("tid is required: /api/trial?exp=K&tid=N")
            return api.trial(exp, tid)
        raise LookupError(f"no API endpoint {name!r}")

    def do_POST(self):
        origin = self.headers.get("Origin")
        if not self._host_allowed() or (origin and urllib.parse.urlsplit(origin).hostname
                                         not in ("127.0.0.1", "localhost", "::1")):
            self._json(HTTPStatus.FORBIDDEN, {"error": "cross-origin writes are refused"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._json(HTTPStatus.BAD_REQUEST, {"error": "the body must be JSON"})
            return
        api = self.server.api
        name = urllib.parse.urlsplit(self.path).path
        if name == "/api/enqueue":
            self._answer(lambda: api.enqueue(body.get("exp"), body.get("point")))
        elif name == "/api/cancel":
            self._answer(lambda: api.cancel(body.get("exp"), body.get("tid")))
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no API endpoint {name!r}"})

    def _answer(self, compute):
        try:
            value = compute()
        except WriteDisabled as e:
            self._json(HTTPStatus.FORBIDDEN, {"error": str(e)})
        except (UnknownExperiment, LookupError) as e:
            self._json(HTTPStatus.NOT_FOUND, {"error": str(e)})
        except (BadRequest, ValueError, TypeError) as e:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(e)})
        except SourceError as e:
            self._json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": str(e)})
        except Exception as e:
            # A bug, not a bad request: the page shows the error, the log has the traceback.
            logger.exception("dashboard: %s failed", self.path)
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{type(e).__name__}: {e}"})
        else:
            self._json(HTTPStatus.OK, value)


def make_server(url, port=8080, host="127.0.0.1", allow_write=False, min_interval=0.5,
                warm_up=True):
    """A ``ThreadingHTTPServer`` serving the dashboard of ``url`` (not started: call
    ``serve_forever()``). ``port=0`` picks a free port (``server.server_port``).

    ``warm_up``: read the first experiment in a background thread right away, so that a page
    opened a moment later does not wait for the first read of a large store."""
    if not (isinstance(port, int) and 0 <= port <= 65535):
        raise ValueError(f"port must be an int from 0 to 65535, got {port!r}")
    plotly_js = plotly_js_path()
    source = open_source(url)
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    server.api = DashboardAPI(source, min_interval=min_interval, allow_write=allow_write)
    server.plotly_js = plotly_js
    if warm_up:
        threading.Thread(target=server.api.warm_up, name="hpo-dashboard-warm-up",
                         daemon=True).start()
    return server
