"""Command line: ``python -m assist_ws.emulator [--host H] [--port P] ...``.

Runs the processing-center emulator in the foreground until interrupted.
"""

from __future__ import annotations

import argparse
import sys

from .config import DEFAULT_CENTERS, EmulatorConfig, parse_center
from .server import make_server


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and serve; returns the process exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m assist_ws.emulator",
        description="Emulate Assist processing centers over SOAP 1.1.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument("--port", type=int, default=8081, help="port (default %(default)s)")
    parser.add_argument("--data", default="var/emulator.db",
                        help="SQLite ledger file (default %(default)s)")
    parser.add_argument("--center", action="append", default=[], metavar="SPEC",
                        help="NAME:CUR[:partial|nopartial[:HOLD_DAYS]]; repeatable; "
                             "replaces the default centers "
                             + ", ".join(c.name for c in DEFAULT_CENTERS))
    parser.add_argument("--late-seconds", type=float, default=25.0,
                        help="delay of the late test card's answer (default %(default)s)")
    parser.add_argument("--latency", type=float, default=0.0,
                        help="seconds every operation takes (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        centers = tuple(parse_center(s) for s in args.center) or DEFAULT_CENTERS
        config = EmulatorConfig(args.data, centers, args.late_seconds, args.latency)
    except ValueError as exc:
        parser.error(str(exc))
    server = make_server(config, args.host, args.port)
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"processing-center emulator listening on http://{host}:{server.server_port}/ "
          f"centers: {', '.join(c.name for c in config.centers)}; ledger {args.data}",
          file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
