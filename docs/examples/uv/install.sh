#!/usr/bin/env bash
# uv: PyOCI as an explicit index that only the packages pinned to it in [tool.uv.sources]
# come from (everything else from the default index, PyPI). Credentials by environment:
# UV_INDEX_<NAME>_USERNAME / _PASSWORD, <NAME> being the index name in upper case.
set -euo pipefail
cat >pyproject.toml <<TOML
[project]
name = "uses-hello"
version = "0.1.0"
requires-python = ">=3.8"
dependencies = ["hello-pyoci"]

[tool.uv]
package = false

[[tool.uv.index]]
name = "pyoci"
url = "$PYOCI_INDEX"
explicit = true

[tool.uv.sources]
hello-pyoci = { index = "pyoci" }
TOML
export UV_INDEX_PYOCI_USERNAME="$PYOCI_USERNAME" UV_INDEX_PYOCI_PASSWORD="$PYOCI_PASSWORD"
uv sync
.venv/bin/python -c 'import hello_pyoci; print(hello_pyoci.GREETING)'
