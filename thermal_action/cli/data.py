"""``thermal-action data VERB``: dataset tools, one module per verb."""

from __future__ import annotations

import argparse

from thermal_action.cli import (
    data_build,
    data_replay,
    data_stats,
    data_synth,
    data_validate,
    data_zones,
)

VERBS = {
    "synth": data_synth,
    "build": data_build,
    "validate": data_validate,
    "stats": data_stats,
    "replay": data_replay,
    "zones": data_zones,
}


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(name, help="dataset tools: " + ", ".join(VERBS))
    verbs = parser.add_subparsers(dest="data_command", metavar="VERB", required=True)
    for verb, module in VERBS.items():
        module.add_parser(verbs, verb)


def run(args: argparse.Namespace) -> int:
    return VERBS[args.data_command].run(args)
