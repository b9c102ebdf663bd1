#!/usr/bin/env bash
# Fetches ECharts from the npm registry into fmd-web/assets/vendor/echarts (the dashboard embeds
# it, so it works offline). Run it to upgrade; commit the result.
#
#   scripts/vendor-echarts.sh [version]     # default: the version vendored now
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-6.1.0}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "echarts@$version" >/dev/null && tar xzf echarts-*.tgz)
dest=fmd-web/assets/vendor/echarts
mkdir -p "$dest"
cp "$work/package/dist/echarts.min.js" "$work/package/LICENSE" "$work/package/NOTICE" "$dest/"
echo "echarts $version vendored into $dest"
