#!/usr/bin/env bash
# uv publish: PyOCI speaks the upload API twine and uv use. In a project, the URL can also
# live in pyproject.toml as `publish-url` of a [[tool.uv.index]].
set -euo pipefail
uv publish --publish-url "$PYOCI_INDEX" \
    --username "$PYOCI_USERNAME" --password "$PYOCI_PASSWORD" \
    "$DIST_DIR"/*
