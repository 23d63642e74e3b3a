#!/usr/bin/env bash
# Build, once, the BigQuery emulator's own virtual environment (its pins clash with the project's).
#
#   scripts/bqemulator-venv.sh [VENV]        (default: .venv-bq beside this repository's .venv)
#
# Idempotent: a stamp file holds the pin set; when it matches, nothing is done. It installs
# bqemulator with DuckDB 1.5.5 and the spatial extension from its PyPI wheel (DuckDB cannot download
# extensions here), then installs that extension into VENV/duckdb-home, the HOME the emulator must be
# started with. Needs only PyPI. Takes ~30 s on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="$(realpath -m "${1:-.venv-bq}")"
PYTHON="${PYTHON:-python3.11}"
PINS="bqemulator==1.4.0 duckdb==1.5.5 duckdb-extension-spatial==1.5.5 numpy==2.4.6"
STAMP="$VENV/.relpredict-stamp"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$PINS" ] && [ -x "$VENV/bin/bqemulator" ]; then
    exit 0
fi
command -v "$PYTHON" >/dev/null || { echo "$PYTHON not found: install Python 3.11 (or set PYTHON)" >&2; exit 1; }
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
# shellcheck disable=SC2086  # PINS is a list of requirement specifiers
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $PINS
mkdir -p "$VENV/duckdb-home"
HOME="$VENV/duckdb-home" "$VENV/bin/python" - <<'PY'
import pathlib

import duckdb
import duckdb_extension_spatial

files = list(pathlib.Path(duckdb_extension_spatial.__file__).parent.rglob("*.duckdb_extension"))
if not files:
    raise SystemExit("duckdb-extension-spatial holds no .duckdb_extension file")
con = duckdb.connect()
con.execute(f"INSTALL '{files[0]}'")
con.execute("LOAD spatial")
PY
echo "$PINS" > "$STAMP"
