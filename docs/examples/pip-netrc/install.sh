#!/usr/bin/env bash
# Install with pip, the credentials in ~/.netrc (pip reads it for any host it talks to), so
# they are neither in the index URL nor in shell history.
set -euo pipefail
host="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).hostname)' "$PYOCI_INDEX")"
umask 077
cat >>"$HOME/.netrc" <<NETRC
machine $host
login $PYOCI_USERNAME
password $PYOCI_PASSWORD
NETRC
python3 -m venv .venv
.venv/bin/pip install --index-url "$PYOCI_INDEX" hello-pyoci
.venv/bin/python -c 'import hello_pyoci; print(hello_pyoci.GREETING)'
