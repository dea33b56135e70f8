#!/usr/bin/env bash
# Runs every check and test Cordon has: formatting, lints, unit, property, parser-corpus and
# end-to-end tests. Starts whatever the tests need and stops it afterwards. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

# A build cache outside the clone, so repeated runs (and CI on the same machine) stay fast.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cordon/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

if [ ! -d ../shared/corpus ]; then
  echo "error: ../shared/corpus is missing: the tests read the real alert corpus from there" >&2
  exit 1
fi

# The AWS emulator (moto in server mode) in a venv outside the clone; tests start their own
# moto_server instances on free 127.0.0.1 ports and stop them when done. The mock vendor APIs are
# started the same way (in-process, or the cordon-mockapi binary for end-to-end tests).
echo "== AWS emulator (moto)"
CORDON_MOTO_SERVER="$(bash scripts/setup-moto.sh | tail -n 1)"
export CORDON_MOTO_SERVER

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
