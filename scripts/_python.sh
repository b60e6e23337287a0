# Sourced by scripts/_venv.sh and .ci/run: finds the Pythons assist-ws runs on (3.11 to 3.13).
#
#   python_info CMD    prints "X.Y PATH" when CMD (a path or a command) runs a supported
#                      Python; PATH is the real path of the interpreter it was made from (a
#                      virtual environment's Python names the Python it was made from)
#   find_python X.Y    prints the PATH of a Python X.Y: python3.Y on PATH first, then
#                      pyenv's (`pyenv root`/versions/X.Y.*, the newest first), then python3
#   pick_python        prints "X.Y PATH" of $ASSIST_PYTHON when set, else of the newest
#                      supported Python found
SUPPORTED_PYTHONS="3.13 3.12 3.11"

python_info() {
  local info
  command -v "$1" >/dev/null 2>&1 || return 1
  info="$("$1" -c '
import os, sys, sysconfig
if (3, 11) <= sys.version_info[:2] <= (3, 13) and not sysconfig.get_config_var("Py_GIL_DISABLED"):
    base = getattr(sys, "_base_executable", None) or sys.executable
    print("%d.%d %s" % (sys.version_info[:2] + (os.path.realpath(base),)))' 2>/dev/null)" || return 1
  case "$info" in
    3.1[1-3]\ /*) echo "$info" ;;
    *) return 1 ;;
  esac
}

_pyenv_pythons() {
  local root
  if command -v pyenv >/dev/null 2>&1 && root="$(pyenv root 2>/dev/null)"; then :; else
    root="${PYENV_ROOT:-$HOME/.pyenv}"
  fi
  local found=()
  shopt -s nullglob
  found=("$root"/versions/"$1".*/bin/python"$1")
  shopt -u nullglob
  [ "${#found[@]}" -gt 0 ] && printf '%s\n' "${found[@]}" | sort -V -r
  return 0
}

find_python() {
  local want="$1" candidate info
  local candidates=("python$want")
  mapfile -t -O 1 candidates < <(_pyenv_pythons "$want")
  candidates+=(python3 python)
  for candidate in "${candidates[@]}"; do
    if info="$(python_info "$candidate")" && [ "${info%% *}" = "$want" ]; then
      echo "${info#* }"
      return 0
    fi
  done
  return 1
}

pick_python() {
  local version path
  if [ -n "${ASSIST_PYTHON:-}" ]; then
    if ! python_info "$ASSIST_PYTHON"; then
      echo "ASSIST_PYTHON=$ASSIST_PYTHON is not a Python 3.11, 3.12 or 3.13" >&2
      return 1
    fi
    return 0
  fi
  for version in $SUPPORTED_PYTHONS; do
    if path="$(find_python "$version")"; then
      echo "$version $path"
      return 0
    fi
  done
  echo "assist-ws needs Python 3.11, 3.12 or 3.13 (none found on PATH or under pyenv;" \
       "ASSIST_PYTHON names one)" >&2
  return 1
}
