#!/usr/bin/env bash
# Run the test suite again as an ordinary user (nobody), from a copy of this checkout, with
# Debian's python3: the protections that need root (cgroups) are then off, and the tests that
# can run as an ordinary user must pass all the same. Called by .ci/run when it runs as root.
set -euo pipefail
cd "$(dirname "$0")/.."
python=/usr/bin/python3
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null || [ ! -x "$python" ]; then
  echo "test_as_user: needs root, setpriv and $python; not run" >&2
  exit 0
fi
copy=$(mktemp -d /tmp/grader-as-user-XXXXXX)
trap 'rm -rf "$copy"' EXIT
git archive HEAD | tar -x -C "$copy"
chown -R nobody:nogroup "$copy"
chmod 755 "$copy"
cd "$copy"
setpriv --reuid=nobody --regid=nogroup --clear-groups \
  env -i PATH=/usr/bin:/bin HOME="$copy/.home" LANG=C.UTF-8 "$python" dev.py test -q
