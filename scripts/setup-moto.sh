#!/usr/bin/env bash
# Installs the AWS emulator (moto in server mode) that the aws-iam connector's tests run against,
# in a Python venv outside the clone. Idempotent: does nothing when moto_server already works.
# Prints the path of `moto_server` on its last line.
#
#   CORDON_VENV          where the venv lives (default: $HOME/.cache/cordon/venv)
#   CORDON_MOTO_VERSION  the moto version to install (default: pinned below)
#
# Needs only python3 (3.9+) with pip, and PyPI reachable.
set -euo pipefail

VENV="${CORDON_VENV:-$HOME/.cache/cordon/venv}"
MOTO_VERSION="${CORDON_MOTO_VERSION:-5.2.5}"
PY="${PYTHON:-python3}"

installed() {
  [ -x "$VENV/bin/moto_server" ] &&
    "$VENV/bin/python" -c 'import moto.server, flask, werkzeug' >/dev/null 2>&1
}

if ! installed; then
  if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    mkdir -p "$(dirname "$VENV")"
    rm -rf "$VENV"
    # Debian's python3 without python3-venv has no ensurepip: fall back to virtualenv from PyPI.
    if ! "$PY" -m venv "$VENV" >/dev/null 2>&1; then
      rm -rf "$VENV"
      echo "setup-moto: 'python3 -m venv' failed, using virtualenv from PyPI" >&2
      "$PY" -m pip install --quiet --user --disable-pip-version-check virtualenv ||
        "$PY" -m pip install --quiet --user --break-system-packages --disable-pip-version-check virtualenv
      "$PY" -m virtualenv --quiet "$VENV"
    fi
  fi
  echo "setup-moto: installing moto[server]==$MOTO_VERSION into $VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
  if ! installed; then
    echo "setup-moto: error: moto_server is still not usable in $VENV" >&2
    exit 1
  fi
fi

echo "$VENV/bin/moto_server"
