#!/usr/bin/env bash
# Bootstrap a clone: the project's own venv (.venv) with every Python dependency, and the
# Debian packages the pipeline shells out to (redis-server, ffmpeg) or drives in tests
# (chromium: the browser tests use the system browser, never a downloaded one). Idempotent and quick
# when nothing changed: the venv is rebuilt only when pyproject.toml changes.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV=.venv
STAMP="$VENV/.pyproject.sha256"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"

need_apt=()
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || need_apt+=(ffmpeg)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    echo "bootstrap: missing ${need_apt[*]}; install them with apt-get (needs root)" >&2
    exit 1
  fi
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "bootstrap: installing Debian packages: ${need_apt[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

for tool in java mvn go; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "bootstrap: '$tool' not found on PATH (the local stack needs Java 17+, Maven and Go)" >&2
    exit 1
  }
done

if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: creating $VENV and installing photostream[dev]"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e '.[dev]'
  echo "$want" > "$STAMP"
fi

# The browser tests' JavaScript test dependencies (axe-core, for the accessibility audit),
# exactly as locked in tests/browser/package-lock.json: npm ci from the registry, and only
# when the lock changed; nothing is fetched at test time.
if command -v npm >/dev/null 2>&1; then
  lock="$(sha256sum tests/browser/package-lock.json | cut -d' ' -f1)"
  if [ "$(cat tests/browser/node_modules/.lock.sha256 2>/dev/null)" != "$lock" ]; then
    echo "bootstrap: npm ci in tests/browser (axe-core)"
    npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
    echo "$lock" > tests/browser/node_modules/.lock.sha256
  fi
else
  echo "bootstrap: npm not found: the browser tests' accessibility audit will fail" >&2
fi
