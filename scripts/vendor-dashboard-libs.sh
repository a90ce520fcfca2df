#!/usr/bin/env bash
# Re-vendor the dashboard's JavaScript libraries from the npm registry (run by hand, once per upgrade;
# nothing is fetched at install or run time). Usage: scripts/vendor-dashboard-libs.sh [maplibre-ver] [echarts-ver]
# Then open the dashboard, run tests/dashboard, and commit server/dashboard/static/vendor/.
set -euo pipefail
cd "$(dirname "$0")/.."
MAPLIBRE=${1:-$(npm view maplibre-gl version)}
ECHARTS=${2:-$(npm view echarts version)}
VENDOR=server/dashboard/static/vendor
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack -q "maplibre-gl@$MAPLIBRE" "echarts@$ECHARTS" >/dev/null)
mkdir -p "$tmp/m" "$tmp/e"
tar xzf "$tmp/maplibre-gl-$MAPLIBRE.tgz" -C "$tmp/m"
tar xzf "$tmp/echarts-$ECHARTS.tgz" -C "$tmp/e"
rm -rf "$VENDOR/maplibre-gl" "$VENDOR/echarts"
mkdir -p "$VENDOR/maplibre-gl" "$VENDOR/echarts"
# MapLibre 6 ships ES modules; its worker is a module loaded from beside maplibre-gl.mjs (CSP worker-src 'self').
cp "$tmp"/m/package/dist/{maplibre-gl.mjs,maplibre-gl-worker.mjs,maplibre-gl-shared.mjs,maplibre-gl.css} \
   "$tmp"/m/package/LICENSE.txt "$VENDOR/maplibre-gl/"
cp "$tmp"/e/package/dist/echarts.esm.min.mjs "$tmp"/e/package/{LICENSE,NOTICE} "$VENDOR/echarts/"
{
  echo "# Vendored by scripts/vendor-dashboard-libs.sh from the npm registry; licences beside each library."
  echo "maplibre-gl $MAPLIBRE BSD-3-Clause $(sha256sum "$tmp/maplibre-gl-$MAPLIBRE.tgz" | cut -c1-64)"
  echo "echarts $ECHARTS Apache-2.0 $(sha256sum "$tmp/echarts-$ECHARTS.tgz" | cut -c1-64)"
} > "$VENDOR/VERSIONS"
cat "$VENDOR/VERSIONS"
