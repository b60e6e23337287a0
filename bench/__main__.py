"""``python -m bench NAME [ARGS]``: run one benchmark module of this package."""

import importlib
import pkgutil
import sys

import bench


def main() -> None:
    names = sorted(m.name.replace("_", "-") for m in pkgutil.iter_modules(bench.__path__)
                   if not m.name.startswith("_") and m.name not in ("common", "echo"))
    if len(sys.argv) < 2 or sys.argv[1] not in names:
        sys.exit(f"usage: scripts/bench {{{'|'.join(names)}}} [options]")
    module = importlib.import_module(f"bench.{sys.argv[1].replace('-', '_')}")
    sys.argv = [f"scripts/bench {sys.argv[1]}"] + sys.argv[2:]
    module.main()


main()
