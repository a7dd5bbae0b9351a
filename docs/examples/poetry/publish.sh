#!/usr/bin/env bash
# poetry publish to PyOCI, a repository named pyoci. `poetry publish` uploads the project's
# own dist/; here the sample's files are copied there.
set -euo pipefail
cat >pyproject.toml <<'TOML'
[project]
name = "hello-pyoci"
version = "0.1.0"
requires-python = ">=3.8"
TOML
mkdir -p dist && cp "$DIST_DIR"/* dist/
export POETRY_REPOSITORIES_PYOCI_URL="$PYOCI_INDEX"
export POETRY_HTTP_BASIC_PYOCI_USERNAME="$PYOCI_USERNAME" POETRY_HTTP_BASIC_PYOCI_PASSWORD="$PYOCI_PASSWORD"
poetry publish --repository pyoci
