#!/usr/bin/env sh
# Runs the fixed-price flow benchmark with its defaults (about 2 minutes);
# extra arguments are passed through, e.g. benchmarks/run.sh --seconds 5
set -eu
cd "$(dirname "$0")/.."
exec "${PYTHON:-.venv/bin/python}" -m benchmarks.fixed_price_flow "$@"
