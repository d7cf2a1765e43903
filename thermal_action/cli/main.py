"""``thermal-action`` entry point: one subcommand per module, errors as one line."""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Sequence

from thermal_action.cli import (
    configs,
    data,
    demo,
    detect,
    doctor,
    evaluate,
    export,
    fall_stage,
    infer,
    serve,
    test,
    train,
)

COMMANDS = {"demo": demo, "train": train, "test": test, "evaluate": evaluate, "detect": detect,
            "infer": infer, "serve": serve, "fall-stage": fall_stage, "export": export,
            "data": data, "configs": configs, "doctor": doctor}


def clean_error(exc: BaseException) -> str:
    """One line for an error that MMEngine's registry or a DataLoader worker re-wrapped."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    line = lines[-1] if lines else type(exc).__name__
    line = re.sub(r"^[\w.]+(Error|Exception): ", "", line)
    return re.sub(r"^(class `\w+` in [\w.]+: )+", "", line)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="thermal-action",
        description="Train, test and inspect SlowFast action models on thermal recordings.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        module.add_parser(subparsers, name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS:
        close = difflib.get_close_matches(argv[0], COMMANDS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        print(f"thermal-action: unknown command '{argv[0]}'{hint}", file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from thermal_action.engine.distributed import error_line
    from thermal_action.errors import ThermalActionError

    command = " ".join(filter(None, (args.command, getattr(args, "data_command", None))))
    try:
        return COMMANDS[args.command].run(args)
    except ThermalActionError as exc:
        line = error_line(command, clean_error(exc), exc)
        if line is not None:
            print(line, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"thermal-action {command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
