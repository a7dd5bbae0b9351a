#!/usr/bin/env bash
# What Renovate reads from PyOCI: the PyPI-style JSON API, <index>/<project>/json, with the
# same credentials as the index (Renovate's hostRules). This prints the versions it sees.
set -euo pipefail
curl --fail --silent --show-error --user "$PYOCI_USERNAME:$PYOCI_PASSWORD" \
    "${PYOCI_INDEX}hello-pyoci/json" \
    | python3 -c 'import json, sys; print(" ".join(sorted(json.load(sys.stdin)["releases"])))'
