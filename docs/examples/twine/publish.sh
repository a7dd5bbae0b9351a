#!/usr/bin/env bash
# Publish with twine. PYOCI_INDEX is the index URL, e.g.
# https://pyoci.example.com/ghcr.io/acme/ ; the username and password are the registry's
# (for ghcr.io: your GitHub user and a token with write:packages).
set -euo pipefail
twine upload --non-interactive \
    --repository-url "$PYOCI_INDEX" \
    --username "$PYOCI_USERNAME" --password "$PYOCI_PASSWORD" \
    "$DIST_DIR"/*
# Or keep them in ~/.pypirc:
#   [distutils]
#   index-servers = pyoci
#   [pyoci]
#   repository = https://pyoci.example.com/ghcr.io/acme/
#   username = <user>
#   password = <token>
# and run: twine upload -r pyoci dist/*
