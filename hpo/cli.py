"""The ``hpo`` command: ``hpo --version``, ``hpo demo``, ``hpo worker``, ``hpo run``, and the
commands that watch and inspect a search: ``hpo dashboard``, ``hpo ls``, ``hpo show``,
``hpo export``, ``hpo best-model``.

Each subcommand lives with the code it drives; this module only dispatches, importing the
heavy parts (stores, Keras) lazily so ``hpo --version`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module, help). The module provides `add_arguments(parser)` and `run(args)`;
# "module:name" names an object of that module that provides them.
SUBCOMMANDS = {
    "demo": ("hpo.demo", "run a small real search and print the best configuration"),
    "worker": ("hpo.worker", "run trials from a shared store (same as hpo-worker)"),
    "run": ("hpo.template.cli", "search a Keras model file with <<...>> placeholders"),
    "dashboard": ("hpo.dashboard.cli", "serve a live web page of a store's experiments"),
    "ls": ("hpo.dashboard.commands:ls", "list the experiments of a store: trials by state, best loss"),
    "show": ("hpo.dashboard.commands:show", "the best trials of an experiment and their parameters"),
    "export": ("hpo.dashboard.commands:export", "an experiment's trials as CSV or JSON"),
    "best-model": ("hpo.dashboard.commands:best_model",
                   "save the best trial's Keras model (NAS and template experiments)"),
}


def _parser():
    from . import __version__

    parser = argparse.ArgumentParser(prog="hpo", description="hyperparameter optimization")
    parser.add_argument("--version", action="version", version=f"hpo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    if not argv or argv[0] not in SUBCOMMANDS:
        parser.parse_args(argv)  # handles --version / --help / unknown commands
        parser.print_help()
        return 2
    name, rest = argv[0], argv[1:]
    module_name, _, attribute = SUBCOMMANDS[name][0].partition(":")
    module = importlib.import_module(module_name)
    if attribute:
        module = getattr(module, attribute)
    sub = argparse.ArgumentParser(prog=f"hpo {name}", description=SUBCOMMANDS[name][1])
    module.add_arguments(sub)
    return module.run(sub.parse_args(rest)) or 0


def worker_main(argv=None):
    """Entry point of ``hpo-worker``."""
    return main(["worker", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
