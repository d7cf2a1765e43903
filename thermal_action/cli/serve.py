"""``thermal-action serve``: follow many sensors over MQTT, publish their events and
alerts, keep the alerts in SQLite."""

from __future__ import annotations

import argparse
import signal
import sys


def add_parser(subparsers: argparse._SubParsersAction, name: str) -> None:
    parser = subparsers.add_parser(
        name, help="follow many live sensors over MQTT: events and fall alerts published "
                   "per sensor, alerts stored in SQLite")
    parser.add_argument("--config", required=True, metavar="SERVE_YAML",
                        help="the serve config (broker, model, sensors, store, sinks; see "
                             "docs/architecture.md)")
    parser.add_argument("--shard", metavar="K/N",
                        help="follow only the sensors whose id hashes to K of N processes")


def run(args: argparse.Namespace) -> int:
    from thermal_action.runtime.serve import build_server, load_serve_config, parse_shard

    shard = parse_shard(args.shard) if args.shard else None
    config = load_serve_config(args.config)
    server = build_server(config, shard)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: server.stop())
    web = None
    if config.dashboard is not None:
        from thermal_action.errors import ConfigError
        from thermal_action.runtime.dashboard import Dashboard, DashboardServer

        board = Dashboard(server.store, config.dashboard["token"],
                          sensors=config.sensors or (), zones=server.zones)
        server.watchers.append(board.update)
        web = DashboardServer(board, config.dashboard["host"], int(config.dashboard["port"]))
        try:
            web.start()
        except ValueError as exc:
            raise ConfigError(f"dashboard on {config.dashboard['host']}:"
                              f"{config.dashboard['port']}: {exc}") from None
        print(f"dashboard: http://{config.dashboard['host']}:{config.dashboard['port']}/"
              "?token=...", flush=True)
    broker = config.broker
    server.serve_forever(on_ready=lambda: print(
        f"serving {'any sensor' if config.sensors is None else len(config.sensors)} "
        f"{'' if config.sensors is None else 'sensors '}from {broker['host']}:{broker['port']}"
        f"{'' if shard is None else f' (shard {shard[0]}/{shard[1]})'}; alerts in "
        f"{config.store}", flush=True))
    if web is not None:
        web.stop()
    stats = server.stats()
    for sensor, numbers in sorted(stats["sensors"].items()):
        skipped = ", ".join(f"{count} {problem}" for problem, count in numbers["skipped"].items())
        print(f"{sensor}: {numbers['frames']} frames" + (f"; skipped {skipped}" if skipped
                                                          else ""))
    if any(numbers["frames"] for numbers in stats["sensors"].values()):
        print(f"latency, frame arrival to its events published: "
              f"p50 {stats['latency_p50_s'] * 1000:.1f} ms, "
              f"p99 {stats['latency_p99_s'] * 1000:.1f} ms")
    if stats["unknown_sensors"]:
        print("unknown sensors: " + ", ".join(f"{s} ({n} frames)" for s, n in
                                              sorted(stats["unknown_sensors"].items())),
              file=sys.stderr)
    return 0
