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

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
