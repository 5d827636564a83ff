#!/usr/bin/env bash
# The documented check of the HTML reports in a real browser: grade the examples, then take
# screenshots of a student's feedback and of the class summary with headless Chromium (Debian's
# package `chromium`; `apt-get install chromium`). Look at the PNGs it prints.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/tmp/grader-screenshots}
python3 dev.py grader grade submissions_example/ --timeout 5 --out "$out/results" >/dev/null
# feedback files are named <student>-<hash>.html (grader.common.text.report_name)
for page in "$out"/results/feedback/dana-*.html "$out"/results/feedback/threads_instead_of_processes-*.html "$out"/results/summary.html; do
  page=${page#"$out/"}
  name=$(basename "$page" .html)
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$(mktemp -d)" --hide-scrollbars \
    --window-size=1200,2400 --screenshot="$out/$name.png" "file://$out/$page" 2>/dev/null
  echo "$out/$name.png"
done
