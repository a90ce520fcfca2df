// The map: grids coloured by an indicator of the chosen period (the target is the legend's break),
// a click opens the grid's card. MapLibre on WebGL; the basemap is a plain background unless the
// server configures a tile source (GRIDOPS_BASEMAP_URL).
import * as maplibregl from "../vendor/maplibre-gl/maplibre-gl.mjs";
import * as api from "./api.js";
import { el, num, withUnit } from "./fmt.js";

export const COLOURS = { met: "#2e9d57", near: "#f0a030", bad: "#d64541", none: "#9aa4b1", target: "#3a78c2" };
const CLASS = { none: 0, bad: 1, near: 2, met: 3, target: 4 };
const NEAR = 0.9; // within 10 % of the target: 接近

export function createMap(container, basemap) {
  const sources = {}, layers = [{ id: "background", type: "background", paint: { "background-color": "#e9edf2" } }];
  if (basemap?.url) {
    sources.basemap = { type: "raster", tiles: [basemap.url], tileSize: 256, maxzoom: basemap.max_zoom || 18,
      attribution: basemap.attribution || "" };
    layers.push({ id: "basemap", type: "raster", source: "basemap" });
  }
  const map = new maplibregl.Map({
    container, style: { version: 8, sources, layers }, center: [113.5, 23.1], zoom: 12,
    attributionControl: basemap?.url ? { compact: true } : false, dragRotate: false, pitchWithRotate: false,
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-left");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
  return map;
}

/** Every grid of the user's territory (the API filters), page by page. */
export async function loadGrids(map) {
  const features = [];
  for (let page = 1; ; page++) {
    const fc = await api.get("/grids/geojson", { page, page_size: 5000 });
    features.push(...fc.features);
    if (features.length >= fc.total || fc.features.length === 0) break;
  }
  const data = { type: "FeatureCollection", features };
  map.addSource("grids", { type: "geojson", data, promoteId: "code" });
  const state = ["coalesce", ["feature-state", "cls"], 0];
  map.addLayer({ id: "grids-fill", type: "fill", source: "grids", paint: {
    "fill-color": ["match", state, 4, COLOURS.target, 3, COLOURS.met, 2, COLOURS.near, 1, COLOURS.bad, COLOURS.none],
    "fill-opacity": 0.55 } });
  map.addLayer({ id: "grids-line", type: "line", source: "grids", paint: { "line-color": "#34495e", "line-width": 0.6, "line-opacity": 0.6 } });
  map.addLayer({ id: "grids-selected", type: "line", source: "grids", filter: ["==", ["get", "code"], ""],
    paint: { "line-color": "#1a237e", "line-width": 3 } });
  const b = new maplibregl.LngLatBounds();
  for (const f of features) for (const poly of f.geometry.coordinates) for (const [x, y] of poly[0]) b.extend([x, y]);
  map.gridBounds = b.isEmpty() ? null : b;
  fitGrids(map);
  return features;
}

// Street outlines (thick) and community outlines (thin) over the grid fill; the map's level makes its
// own outline stand out. Line width, opacity: [normal, emphasised].
const OUTLINES = { street: { colour: "#0d1b2a", width: [3, 4], opacity: [0.8, 1] },
  community: { colour: "#1b3a5c", width: [1.6, 2.4], opacity: [0.75, 1] } };
const NO_FEATURES = { type: "FeatureCollection", features: [] };

/** The outlines of the user's streets and communities (GET /divisions/geojson), read once. A map
 * without them still works: only a lost session is an error here. */
export function fetchOutlines() {
  return Promise.all(Object.keys(OUTLINES).map((level) => api.get("/divisions/geojson", { level }).catch((e) => {
    if (e.status === 401) throw e;
    console.warn("outlines", level, e);
    return NO_FEATURES;
  }))).then(([street, community]) => ({ street, community }));
}

/** Adds the outlines as line layers above the grid fill and lines, below the selected grid. */
export function addOutlines(map, outlines) {
  for (const level of ["community", "street"]) { // the street drawn over its communities' edges
    const o = OUTLINES[level];
    map.addSource(`${level}-outlines`, { type: "geojson", data: outlines[level] });
    map.addLayer({ id: `${level}-outline`, type: "line", source: `${level}-outlines`, layout: { "line-join": "round" },
      paint: { "line-color": o.colour, "line-width": o.width[0], "line-opacity": o.opacity[0] } }, "grids-selected");
  }
}

function emphasise(map, level) {
  for (const [name, o] of Object.entries(OUTLINES)) {
    if (!map.getLayer(`${name}-outline`)) continue;
    const i = name === level ? 1 : 0;
    map.setPaintProperty(`${name}-outline`, "line-width", o.width[i]);
    map.setPaintProperty(`${name}-outline`, "line-opacity", o.opacity[i]);
  }
}

/** The whole territory in view: on load, and whenever the wall screen's size changes. */
export function fitGrids(map) {
  if (map.gridBounds) map.fitBounds(map.gridBounds, { padding: 30, duration: 0 });
}

function classify(v) {
  if (v.value === null || v.value === undefined) return "none";
  if (v.target === null || v.target === undefined) return "target";
  const ge = v.direction !== "<=";
  if (ge ? v.value >= v.target : v.value <= v.target) return "met";
  const near = ge ? v.value >= v.target * NEAR : v.value <= v.target / NEAR;
  return near ? "near" : "bad";
}

/** Which grids an area row covers: its code is a prefix of theirs (a street's ends in 000). */
function gridsOf(scope, features) {
  const [level, code] = scope.split(":");
  const key = level === "street" ? "street_code" : level === "community" ? "community_code" : "code";
  const want = level === "street" ? code.slice(0, 9) : code;
  return features.filter((f) => (level === "street" ? f.properties[key].slice(0, 9) : f.properties[key]) === want);
}

/** Colours the grids by `indicator` over `period`; returns the scope's own value and the counts. */
export async function colour(map, features, { scope, period, level, indicator }) {
  const res = await api.get("/indicators/areas", { scope, period, level, indicator });
  const counts = { met: 0, near: 0, bad: 0, none: 0, target: 0 };
  const byGrid = new Map(features.map((f) => [f.properties.code, "none"]));
  for (const row of res.rows.slice(1)) {
    const cls = classify(row.values[0]);
    for (const f of gridsOf(row.scope, features)) byGrid.set(f.properties.code, cls);
  }
  for (const [code, cls] of byGrid) { counts[cls]++; map.setFeatureState({ source: "grids", id: code }, { cls: CLASS[cls] }); }
  map.setPaintProperty("grids-line", "line-opacity", level === "grid" ? 0.6 : 0.15);
  emphasise(map, level);
  map.getContainer().dataset.colours = Object.entries(counts).map(([k, n]) => `${k}:${n}`).join(",");
  map.getContainer().dataset.indicator = indicator;
  return { own: res.rows[0].values[0], counts };
}

export function renderLegend(box, own, counts) {
  box.replaceChildren();
  const t = own.target, u = own.unit, ge = own.direction !== "<=";
  box.append(el("div", { class: "legend-title" }, own.name_zh), el("div", { class: "legend-own" }, `全域 ${withUnit(own.value, u)}`));
  const rows = t === null || t === undefined
    ? [["target", "有数据（无目标值）"], ["none", "无数据"]]
    : [["met", `${ge ? "≥" : "≤"} ${num(t)}${u === "%" ? "%" : ""} 达标（目标）`],
       ["near", ge ? `${num(t * NEAR)} – ${num(t)} 接近` : `${num(t)} – ${num(t / NEAR)} 接近`],
       ["bad", ge ? `< ${num(t * NEAR)} 未达标` : `> ${num(t / NEAR)} 未达标`], ["none", "无数据"]];
  for (const [cls, label] of rows) {
    box.append(el("div", { class: "legend-row" }, el("span", { class: `swatch sw-${cls}` }), label, el("b", {}, ` ${counts[cls]}`)));
  }
  box.append(el("div", { class: "legend-row legend-lines" }, el("span", { class: "line-swatch street" }), "街道界",
    el("span", { class: "line-swatch community" }), "社区界"));
}

/** The grid's card in one request (GET /grids/{code}/card); its parts from older endpoints if absent. */
export async function gridCard(code, period) {
  try {
    return await api.get(`/grids/${code}/card`, { period });
  } catch (e) {
    if (e.status === 401 || e.status === 403) throw e;
    const [grid, indicators] = await Promise.all([api.get(`/grids/${code}`), api.get("/indicators", { scope: `grid:${code}`, period })]);
    return { grid, workers: null, events: null, devices: null,
      indicators: indicators.map((v) => ({ code: v.code, name: v.name_zh, value: v.value, unit: v.unit, target: v.target,
        met: v.status === "no_data" ? null : v.status === "met" })) };
  }
}

export function renderCard(box, card, onClose, onEvents) {
  const g = card.grid;
  box.replaceChildren(...[
    el("button", { class: "close", title: "关闭", onclick: onClose }, "×"),
    el("h3", {}, g.name), el("div", { class: "muted" }, `${g.code} · ${g.street_name || g.street_code || ""} ${g.community_name || ""}`),
    card.workers ? el("p", {}, "网格员：", card.workers.map((w) => `${w.name}（${w.username}）`).join("、") || "未配备") : null,
    card.events ? el("p", { class: "card-events" }, `在办 ${card.events.open} · `, el("span", { class: "warn" }, `预警 ${card.events.warning}`),
      " · ", el("span", { class: "bad" }, `超期 ${card.events.overdue}`), " ", el("button", { class: "link", onclick: () => onEvents(g.code) }, "查看事件")) : null,
    card.devices ? el("p", {}, `设备 在线 ${card.devices.online} / 离线 ${card.devices.offline} / 共 ${card.devices.total}`) : null,
    el("table", { class: "card-ind" }, card.indicators.map((i) => el("tr", {},
      el("td", {}, i.name), el("td", {}, withUnit(i.value, i.unit)), el("td", { class: "muted" }, i.target === null ? "" : `目标 ${num(i.target)}`),
      el("td", { class: i.met === null ? "muted" : i.met ? "ok" : "bad" }, i.met === null ? "无数据" : i.met ? "达标" : "未达标")))),
  ].filter(Boolean)); // parts the API did not give are left out
  box.hidden = false;
}

export { maplibregl };
