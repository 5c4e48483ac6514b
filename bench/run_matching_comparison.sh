#!/usr/bin/env bash
# ehm match vs Splink 5 (DuckDB, unsupervised) on FEBRL 1-4 and a synthetic
# child-referral set. One command, from the repository root:
#   bench/run_matching_comparison.sh
# Needs python3 (3.10+) with venv, cargo, and access to PyPI and crates.io.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/target-matching}"
if [ ! -x bench/.venv/bin/python ]; then
  python3 -m venv bench/.venv
  bench/.venv/bin/pip install -q recordlinkage splink duckdb
fi
cargo build -q --release -p ehm-matching --example ehm_match --example gen_referrals
BIN="$CARGO_TARGET_DIR/release/examples/ehm_match"
[ -f bench/data/febrl4/truth.csv ] || bench/.venv/bin/python bench/convert_febrl.py bench/data
[ -f bench/data/referrals/truth.csv ] || "$CARGO_TARGET_DIR/release/examples/gen_referrals" bench/data/referrals 20000 5000 7
[ -f bench/data/referrals5k/truth.csv ] || "$CARGO_TARGET_DIR/release/examples/gen_referrals" bench/data/referrals5k 5000 5000 5
mkdir -p bench/out
echo "BENCH_REPEAT=${BENCH_REPEAT:-3} timed runs per system and set (median reported)" >&2
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
bench/.venv/bin/python bench/compare.py "$BIN" bench/data bench/out "$@" | tee bench/out/results.md
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
