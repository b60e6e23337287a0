# Sourced by scripts/run, scripts/test, scripts/bench and scripts/regen-wsdl: picks the Python
# (ASSIST_PYTHON, else the newest of 3.11 to 3.13 found: scripts/_python.sh), makes (once) and
# activates its virtual environment, .venv-X.Y (or $ASSIST_VENV), and installs the project into
# it.  The environment is made anew when it was made from another interpreter than the one
# picked; one is kept per Python version, so switching versions reinstalls nothing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EXTRAS="${1:-}"
source "$ROOT/scripts/_python.sh"
PICKED="$(pick_python)"
PYTHON_VERSION="${PICKED%% *}"
PYTHON="${PICKED#* }"
VENV="${ASSIST_VENV:-$ROOT/.venv-$PYTHON_VERSION}"
if { [ -e "$VENV/bin/python" ] || [ -L "$VENV/bin/python" ]; } && [ "$(python_info "$VENV/bin/python" || true)" != "$PICKED" ]; then
  if [ ! -f "$VENV/pyvenv.cfg" ]; then
    echo "$VENV is not a virtual environment of $PYTHON; remove it or set ASSIST_VENV" >&2
    exit 1
  fi
  echo "$VENV was made from another Python than $PYTHON: making it anew" >&2
  rm -rf "$VENV"
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
# Install (again) when the project's metadata changed since the last install.
STAMP="$VENV/.assist-installed${EXTRAS:+-$EXTRAS}"
if [ ! -f "$STAMP" ] || [ "$ROOT/setup.cfg" -nt "$STAMP" ] || [ "$ROOT/pyproject.toml" -nt "$STAMP" ]; then
  "$VENV/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
  "$VENV/bin/python" -m pip install --quiet -e "$ROOT${EXTRAS:+[$EXTRAS]}"
  touch "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
