"""``hpo dashboard URL``: serve the dashboard of a store or journal on 127.0.0.1.

    hpo dashboard sqlite:///exp.db              # http://127.0.0.1:8080
    hpo dashboard mongo://host:27017/db/jobs --port 9000
    hpo dashboard search.jsonl                  # a trials_save_file
    hpo dashboard sqlite:///exp.db --allow-write   # also queue points, cancel queued trials

>>> import argparse
>>> parser = argparse.ArgumentParser(); add_arguments(parser)
>>> args = parser.parse_args(["sqlite:///exp.db", "--port", "0"])
>>> args.port, args.allow_write
(0, False)
"""

from __future__ import annotations

import sys


def add_arguments(parser):
    parser.add_argument("url", metavar="URL",
                        help="sqlite:///exp.db, mongo://host:port/db/jobs, or a trials_save_file")
    parser.add_argument("--port", type=int, default=8080,
                        help="port on 127.0.0.1 (default 8080; 0 picks a free one)")
    parser.add_argument("--allow-write", action="store_true",
                        help="let the page queue points and cancel queued trials (off by default)")


def run(args):
    from .server import make_server
    from .source import SourceError

    try:
        server = make_server(args.url, port=args.port, allow_write=args.allow_write)
    except (SourceError, ImportError, ValueError, OSError) as e:
        print(f"hpo dashboard: error: {e}", file=sys.stderr)
        return 1
    # The first line says where to look (tests read it to learn a port chosen with --port 0).
    print(f"hpo dashboard: serving {server.api.source.url} at "
          f"http://127.0.0.1:{server.server_port}/ (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a user stops the server; leave quietly
    finally:
        server.server_close()
        server.api.source.close()
    return 0
