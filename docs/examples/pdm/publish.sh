#!/usr/bin/env bash
# pdm publish uploads the project's own dist/ (built first unless --no-build).
set -euo pipefail
cat >pyproject.toml <<'TOML'
[project]
name = "hello-pyoci"
version = "0.1.0"
requires-python = ">=3.8"
TOML
mkdir -p dist && cp "$DIST_DIR"/* dist/
pdm publish --no-build --repository "$PYOCI_INDEX" \
    --username "$PYOCI_USERNAME" --password "$PYOCI_PASSWORD"
