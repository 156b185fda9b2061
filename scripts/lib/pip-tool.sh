# Sourced by the ensure-*.sh scripts of tools that come from PyPI: installs a pinned package into an
# ignored venv under .tools/ the first time and prints the path of its command.
#   ensure_pip_tool NAME REQUIREMENT DIR MIN_MINOR COMMAND
# NAME names the tool in messages, REQUIREMENT is what pip installs ("moto[server]==5.2.5"), DIR the venv
# under .tools/, MIN_MINOR the lowest Python 3 minor version it runs on, COMMAND the venv's bin/ entry.
ensure_pip_tool() {
  local name="$1" requirement="$2" dir="$3" min_minor="$4" command="$5"
  local here dest done_marker python="" candidate minor
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  dest="$here/.tools/$dir"
  # Written last, so an interrupted install is redone rather than half-used.
  done_marker="$dest/.installed"
  if [[ ! -f "$done_marker" ]]; then
    for minor in 13 12 11 10 9; do
      ((minor < min_minor)) && continue
      for candidate in "python3.$minor" python3; do
        if command -v "$candidate" >/dev/null &&
          "$candidate" -c "import sys, venv; sys.exit(sys.version_info < (3, $min_minor))" 2>/dev/null; then
          python="$candidate"
          break 2
        fi
      done
    done
    if [[ -z "$python" ]]; then
      echo "ensure-$name: needs Python >= 3.$min_minor with venv (e.g. apt-get install python3-venv)" >&2
      return 1
    fi
    echo "ensure-$name: installing $requirement from PyPI into $dest" >&2
    rm -rf "$dest"
    "$python" -m venv "$dest"
    "$dest/bin/pip" install --quiet --disable-pip-version-check "$requirement" >&2
    touch "$done_marker"
  fi
  echo "$dest/bin/$command"
}
