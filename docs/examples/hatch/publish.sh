#!/usr/bin/env bash
# hatch publish (it probes the index before uploading; PyOCI answers as devpi would).
set -euo pipefail
hatch publish --repo "$PYOCI_INDEX" --user "$PYOCI_USERNAME" --auth "$PYOCI_PASSWORD" \
    --no-prompt --yes "$DIST_DIR"/*
