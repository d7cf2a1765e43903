"""``thermal-action doctor``: a thin parser over ``thermal_action.engine.doctor``."""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(
        name, help="check the environment (versions, compat fixes, registries, optionally a "
                   "dataset) and print the fix for each problem")
    parser.add_argument("--data-root", help="also check this dataset folder (data validate)")


def run(args: argparse.Namespace) -> int:
    from thermal_action.engine.doctor import diagnose, healthy

    checks = diagnose(args.data_root)
    width = max(len(check.name) for check in checks)
    for check in checks:
        label = "ok" if check.status == "ok" else check.status.upper()
        print(f"{label:4s}  {check.name:{width}s}  {check.detail}")
        if check.fix and check.status != "ok":
            print(f"{'':4s}  {'':{width}s}  fix: {check.fix}")
    failed = sum(check.status == "fail" for check in checks)
    warned = sum(check.status == "warn" for check in checks)
    print(f"{'healthy' if not failed else 'broken'}: {failed} problem{'' if failed == 1 else 's'}, "
          f"{warned} warning{'' if warned == 1 else 's'}")
    return 0 if healthy(checks) else 1
