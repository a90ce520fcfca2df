// Device points: one clustered GeoJSON source (clustering runs in MapLibre's worker, drawing on the
// GPU), clusters coloured by their worst member through clusterProperties; no DOM node per device.
// Live through the device feed (GET /devices/feed), resumed from the snapshot's cursor; after every
// reconnect the snapshot is read again. Without the device endpoints the map simply has no devices.
import * as api from "./api.js";
import { openFeed } from "./sse.js";

export const SEVERITY = { online: 0, maintenance: 1, unknown: 2, offline: 3 };
export const STATUS_ZH = { online: "在线", offline: "离线", maintenance: "维护中", unknown: "未知" };
export const KIND_ZH = { camera: "视频监控", access_controller: "门禁", link: "政法网链路", terminal: "视联网终端" };
const COLOUR = ["match", ["get", "sev"], 0, "#2e9d57", 1, "#3a78c2", 2, "#9aa4b1", "#d64541"];
const WORST = ["step", ["get", "worst"], "#2e9d57", 1, "#3a78c2", 2, "#9aa4b1", 3, "#d64541"];

function withSeverity(f) { f.properties.sev = SEVERITY[f.properties.status] ?? 2; return f; }

async function snapshot() {
  try {
    return await api.get("/devices/geojson");
  } catch (e) {
    if (e.status === 404 || e.status === 405) return null; // the device endpoints are not deployed: no layer
    throw e;
  }
}

export async function startDevices(map, { feedSeconds = 300, onStatusChange, onFeedStatus } = {}) {
  const fc = await snapshot();
  if (!fc) return null;
  const byCode = new Map();
  const index = (data) => { byCode.clear(); for (const f of data.features) byCode.set(f.properties.code, withSeverity(f)); };
  index(fc);
  map.addSource("devices", { type: "geojson", data: { type: "FeatureCollection", features: fc.features }, promoteId: "code",
    cluster: true, clusterRadius: 40, clusterMaxZoom: 15, clusterProperties: { worst: ["max", ["get", "sev"]] } });
  map.addLayer({ id: "device-clusters", type: "circle", source: "devices", filter: ["has", "point_count"], paint: {
    "circle-color": WORST, "circle-opacity": 0.85, "circle-stroke-color": "#fff", "circle-stroke-width": 1.5,
    "circle-radius": ["step", ["get", "point_count"], 9, 20, 13, 200, 18, 2000, 24] } });
  map.addLayer({ id: "device-points", type: "circle", source: "devices", filter: ["!", ["has", "point_count"]], paint: {
    "circle-color": COLOUR, "circle-radius": 6, "circle-stroke-color": "#fff", "circle-stroke-width": 1.5 } });
  map.on("click", "device-clusters", async (e) => {
    const f = e.features[0];
    const zoom = await map.getSource("devices").getClusterExpansionZoom(f.properties.cluster_id);
    map.easeTo({ center: f.geometry.coordinates, zoom });
  });

  let pending = false;
  const source = () => map.getSource("devices");
  const resetAll = () => source().setData({ type: "FeatureCollection", features: [...byCode.values()] });
  function apply(item) {
    const f = byCode.get(item.code);
    if (!f || item.lon === null || item.lon === undefined) {
      if (item.lon === null || item.lon === undefined) return; // a device without a location is not on the map
      byCode.set(item.code, withSeverity({ type: "Feature", id: item.code, geometry: { type: "Point", coordinates: [item.lon, item.lat] },
        properties: { code: item.code, kind: item.kind, name: item.code, status: item.status, online: item.online, grid_code: item.grid_code } }));
      pending = true; return;
    }
    const before = f.properties.status;
    Object.assign(f.properties, { status: item.status, online: item.online, sev: SEVERITY[item.status] ?? 2 });
    try {
      source().updateData({ update: [{ id: item.code, addOrUpdateProperties: [
        { key: "status", value: item.status }, { key: "online", value: item.online }, { key: "sev", value: f.properties.sev }] }] });
    } catch { pending = true; }
    if (before !== item.status) onStatusChange?.(f, before);
  }
  const flush = setInterval(() => { if (pending) { pending = false; resetAll(); } }, 500);

  let first = true;
  const feed = openFeed("/devices/feed", {
    lastId: fc.cursor ?? 0, query: { seconds: feedSeconds, poll: 0.5 },
    onStatus: onFeedStatus,
    async onOpen(state) { // after a reconnect: a fresh snapshot, and the feed from its cursor
      if (first) { first = false; return; }
      const again = await snapshot();
      if (again) { index(again); resetAll(); state.lastId = again.cursor ?? state.lastId; }
    },
    onMessage(kind, item) { if (kind === "status" || item.code) apply(item); },
  });
  return { byCode, stop() { feed.stop(); clearInterval(flush); } };
}
