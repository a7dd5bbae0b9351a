#!/usr/bin/env bash
# poetry: PyOCI as an explicit source (only packages that name it come from it).
# Credentials: `poetry config http-basic.pyoci USER PASSWORD`, or by environment
# POETRY_HTTP_BASIC_PYOCI_USERNAME / _PASSWORD as here.
set -euo pipefail
cat >pyproject.toml <<'TOML'
[project]
name = "uses-hello"
version = "0.1.0"
requires-python = ">=3.8"

[tool.poetry]
package-mode = false
TOML
poetry source add --priority=explicit pyoci "$PYOCI_INDEX"
export POETRY_HTTP_BASIC_PYOCI_USERNAME="$PYOCI_USERNAME" POETRY_HTTP_BASIC_PYOCI_PASSWORD="$PYOCI_PASSWORD"
export POETRY_VIRTUALENVS_IN_PROJECT=true
poetry add --source pyoci hello-pyoci
.venv/bin/python -c 'import hello_pyoci; print(hello_pyoci.GREETING)'
