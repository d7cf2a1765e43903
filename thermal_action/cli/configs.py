"""``thermal-action configs``: list the shipped configs by short name."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    subparsers.add_parser(name, help="list the shipped configs")


def run(args: argparse.Namespace) -> int:
    from thermal_action.config import list_configs, resolve_config

    for name in list_configs():
        print(f"{name}  ({resolve_config(name)})")
    return 0
