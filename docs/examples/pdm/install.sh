#!/usr/bin/env bash
# pdm: PyOCI as a source in pyproject.toml for the packages named in include_packages (the
# others still come from PyPI); the credentials by environment: pdm expands ${VAR} in a
# source URL, so they stay out of pyproject.toml.
set -euo pipefail
cat >pyproject.toml <<'TOML'
[project]
name = "uses-hello"
version = "0.1.0"
requires-python = ">=3.8"
dependencies = ["hello-pyoci"]

[tool.pdm]
distribution = false

[[tool.pdm.source]]
name = "pyoci"
url = "${PYOCI_INDEX_WITH_CREDENTIALS}"
include_packages = ["hello-pyoci"]
TOML
PYOCI_INDEX_WITH_CREDENTIALS="$(python3 -c 'import sys, urllib.parse as u; s = u.urlsplit(sys.argv[1]); print(s._replace(netloc=u.quote(sys.argv[2], safe="") + ":" + u.quote(sys.argv[3], safe="") + "@" + s.netloc).geturl())' "$PYOCI_INDEX" "$PYOCI_USERNAME" "$PYOCI_PASSWORD")"
export PYOCI_INDEX_WITH_CREDENTIALS
python3 -m venv .venv
pdm use -f .venv
pdm install
.venv/bin/python -c 'import hello_pyoci; print(hello_pyoci.GREETING)'
