#!/usr/bin/env bash
# Install with pip, the password in the system keyring: pip asks the `keyring` command for
# the password of the user named in the index URL (`--keyring-provider subprocess`). Install
# keyring once for your user, e.g. `pipx install keyring` or `uv tool install keyring`.
set -euo pipefail
# Store the password once (keyring reads it from stdin here, from a prompt otherwise).
printf '%s' "$PYOCI_PASSWORD" | keyring set "$PYOCI_INDEX" "$PYOCI_USERNAME"
# The username goes in the URL, the password stays in the keyring.
index_with_user="$(python3 -c 'import sys, urllib.parse as u; s = u.urlsplit(sys.argv[1]); print(s._replace(netloc=u.quote(sys.argv[2], safe="") + "@" + s.netloc).geturl())' "$PYOCI_INDEX" "$PYOCI_USERNAME")"
python3 -m venv .venv
.venv/bin/pip install --keyring-provider subprocess --index-url "$index_with_user" hello-pyoci
.venv/bin/python -c 'import hello_pyoci; print(hello_pyoci.GREETING)'
