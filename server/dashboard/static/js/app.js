// The dashboard: log-in, then the overview (map, devices, queue), the indicator board and the
// downloads, for command_center, district_admin, street_admin and auditor. Reads only the public API.
import * as api from "./api.js";
import { KIND_ZH, STATUS_ZH, startDevices } from "./devices.js";
import { setupDownloads } from "./downloads.js";
import { el, time, withUnit } from "./fmt.js";
import {
  addOutlines, colour, createMap, fetchOutlines, fitGrids, gridCard, loadGrids, maplibregl, renderCard, renderLegend,
} from "./map.js";
import { Queue } from "./queue.js";
import { alert, setupMute, setupWall } from "./wall.js";

const ROLES = { command_center: "指挥中心", district_admin: "区级管理员", street_admin: "街道管理员", auditor: "审计员" };
// The indicators a map can colour areas by (they have a value per area); the board shows them all.
const MAP_INDICATORS = ["closure_rate", "on_time_closure_rate", "visits_per_worker_month", "reports_per_worker_month",
  "online_rate", "satisfaction", "quality_score"];
const $ = (id) => document.getElementById(id);

function showLogin(message) {
  $("app-view").hidden = true; $("login-view").hidden = false;
  $("password-form").hidden = true; $("login-form").hidden = false;
  $("login-message").textContent = message || "";
}

/** An initial or reset password: the API serves nothing but this change until it is done. */
function askNewPassword(current) {
  $("login-view").hidden = false; $("app-view").hidden = true;
  $("login-form").hidden = true;
  const f = $("password-form"); f.hidden = false;
  f.elements.current.value = current || "";
  (current ? f.elements.new : f.elements.current).focus();
}

async function onPasswordChange(e) {
  e.preventDefault();
  const f = $("password-form"), msg = $("password-message");
  msg.textContent = "";
  if (f.elements.new.value !== f.elements.again.value) { msg.textContent = "两次输入的新密码不一致"; return; }
  try {
    await api.post("/auth/password", { current_password: f.elements.current.value, new_password: f.elements.new.value });
    f.reset(); f.hidden = true; $("login-form").hidden = false;
    await start();
  } catch (err) { msg.textContent = err.message; }
}

async function onLogin(e) {
  e.preventDefault();
  alert.unlock();
  const btn = $("login-submit"); btn.disabled = true; $("login-message").textContent = "";
  try {
    const password = $("login-password").value;
    const t = await api.login($("login-username").value.trim(), password);
    api.token.set(t.access_token);
    $("login-password").value = "";
    await start(t.must_change_password ? password : null);
  } catch (err) {
    api.token.clear();
    showLogin(err.message);
  } finally { btn.disabled = false; }
}

function periods(today) {
  const [y, m] = today.split("-").map(Number), out = [];
  for (let i = 0; i < 12; i++) { const d = new Date(Date.UTC(y, m - 1 - i, 1)); out.push([`${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`, `${d.getUTCFullYear()}年${d.getUTCMonth() + 1}月`]); }
  const q = Math.floor((m - 1) / 3) + 1;
  out.splice(1, 0, [`${y}-Q${q}`, `${y}年第${q}季度`], [`${y}`, `${y}年`]);
  return out;
}

function periodRange(p) { // Asia/Shanghai bounds of a month, quarter or year, for the queue's "仅本期间"
  const y = Number(p.slice(0, 4)); let m0 = 0, n = 12;
  if (/^\d{4}-Q\d$/.test(p)) { m0 = (Number(p.at(-1)) - 1) * 3; n = 3; } else if (/^\d{4}-\d{2}$/.test(p)) { m0 = Number(p.slice(5)) - 1; n = 1; }
  const iso = (yy, mm) => { const d = new Date(Date.UTC(yy, mm, 1)); return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}-01T00:00:00+08:00`; };
  return { reported_from: iso(y, m0), reported_to: iso(y, m0 + n) };
}

let running = null;

async function start(typedPassword = null) {
  const user = await api.get("/auth/me");
  if (!ROLES[user.role]) {
    api.token.clear();
    showLogin(user.role === "grid_worker" ? "网格员请使用网格员手机应用（本页面供指挥中心、区、街道管理员和审计员使用）。" : "该账号无权使用指挥中心页面。");
    return;
  }
  if (user.must_change_password) { askNewPassword(typedPassword); return; }
  const config = await api.get("/dashboard/config");
  const offset = new Date(config.now) - Date.now(); // the server's clock, for 预警 and the default period
  const street = user.role === "street_admin";
  const streets = await api.get("/streets");
  const ctx = {
    user, config, now: () => new Date(Date.now() + offset),
    scope: street ? `street:${user.street_code}` : `district:${user.district_code}`,
    scopeName: street ? (streets[0]?.name || user.street_code) : "全区", period: config.today.slice(0, 7),
    indicator: "closure_rate", level: "grid", periodRange: () => periodRange(ctx.period),
  };
  $("login-view").hidden = true; $("app-view").hidden = false;
  $("user-label").textContent = `${user.full_name}（${ROLES[user.role]}）`;
  document.body.dataset.role = user.role;
  if (!["command_center", "district_admin"].includes(user.role)) $("dl-weekly").hidden = true;
  if (street) $("level-select").querySelector('option[value="street"]').remove();

  const indicatorSelect = $("indicator-select"), periodSelect = $("period-select"), levelSelect = $("level-select");
  const catalogueP = api.get("/indicators", { scope: ctx.scope, period: ctx.period }); // while the map starts
  const map = createMap($("map"), config.basemap);
  const catalogue = await catalogueP;
  indicatorSelect.replaceChildren(...catalogue.filter((v) => MAP_INDICATORS.includes(v.code)).map((v) => el("option", { value: v.code }, v.name_zh)));
  periodSelect.replaceChildren(...periods(config.today).map(([v, label]) => el("option", { value: v }, label)));
  indicatorSelect.value = ctx.indicator; periodSelect.value = ctx.period;
  renderKpis(catalogue);

  window.gridops = { map, ctx }; // a handle for the browser tests and the bench, nothing secret in it
  const outlinesP = fetchOutlines(); // while the map and the grids load
  await new Promise((r) => (map.loaded() ? r() : map.once("load", r)));
  const features = await loadGrids(map);
  addOutlines(map, await outlinesP);
  const recolour = async () => {
    const { own, counts } = await colour(map, features, ctx);
    renderLegend($("legend"), own, counts);
  };
  await recolour();

  const card = $("grid-card");
  const closeCard = () => { card.hidden = true; map.setFilter("grids-selected", ["==", ["get", "code"], ""]); };
  map.on("click", "grids-fill", async (e) => {
    if (map.queryRenderedFeatures(e.point, { layers: map.getLayer("device-points") ? ["device-points", "device-clusters"] : [] }).length) return;
    const code = e.features[0].properties.code;
    map.setFilter("grids-selected", ["==", ["get", "code"], code]);
    card.dataset.code = code;
    try { renderCard(card, await gridCard(code, ctx.period), closeCard, (g) => { queue.filters.elements.grid_code.value = g; queue.refresh(); }); }
    catch (err) { card.replaceChildren(el("p", {}, err.message)); card.hidden = false; }
  });
  map.on("mouseenter", "grids-fill", () => { map.getCanvas().style.cursor = "pointer"; });
  map.on("mouseleave", "grids-fill", () => { map.getCanvas().style.cursor = ""; });

  // the selected event's location: one GeoJSON point, not a DOM marker
  map.addSource("event-pin", { type: "geojson", data: { type: "FeatureCollection", features: [] } });
  map.addLayer({ id: "event-pin", type: "circle", source: "event-pin", paint: { "circle-radius": 10, "circle-color": "#7b1fa2", "circle-stroke-color": "#fff", "circle-stroke-width": 3 } });
  const pinOnTop = () => { if (map.getLayer("device-points")) map.moveLayer("event-pin"); };
  const locate = (e) => {
    map.getSource("event-pin").setData({ type: "FeatureCollection", features: e ? [{ type: "Feature", properties: {}, geometry: { type: "Point", coordinates: [e.lon, e.lat] } }] : [] });
    const panel = $("event-detail").getBoundingClientRect().width; // keep the point clear of the detail panel
    if (e) map.easeTo({ center: [e.lon, e.lat], zoom: Math.max(map.getZoom(), 15), padding: { left: 0, top: 0, bottom: 0, right: panel } });
    else map.easeTo({ padding: { left: 0, top: 0, bottom: 0, right: 0 } });
  };

  const ticker = (text, cls = "") => {
    const t = $("ticker"); t.prepend(el("div", { class: `tick ${cls}` }, `${time(ctx.now().toISOString())} ${text}`));
    while (t.children.length > 30) t.lastChild.remove();
  };
  const feedStatus = {};
  const showFeed = (name) => (s) => {
    feedStatus[name] = s;
    const bad = Object.entries(feedStatus).filter(([, v]) => v !== "live");
    $("feed-status").textContent = bad.length ? "实时连接中断，正在重连…" : "● 实时";
    $("feed-status").className = `feed-status ${bad.length ? "down" : "live"}`;
  };
  const queue = new Queue({ ctx, list: $("queue"), tabs: $("queue-tabs"), filters: $("queue-filters"), detail: $("event-detail"),
    onLocate: locate, onTicker: ticker, onFeedStatus: showFeed("events"),
    onNewOverdue: (c) => { ticker(`事件超期：${c.event_uuid.slice(0, 8)}`, "bad"); alert.beep(); } });
  const queueReady = queue.fillFilters(streets).then(() => queue.start()); // the queue and the devices load together
  const devicesReady = startDevices(map, { feedSeconds: config.feed_seconds, onFeedStatus: showFeed("devices"), onStatusChange: (f, before) => {
    if (f.properties.status === "offline") { ticker(`${KIND_ZH[f.properties.kind] || "设备"}离线：${f.properties.name || f.properties.code}`, "bad"); alert.beep(1); }
    else if (before === "offline") ticker(`${KIND_ZH[f.properties.kind] || "设备"}恢复${STATUS_ZH[f.properties.status]}：${f.properties.name || f.properties.code}`);
  } }).catch((e) => { console.warn("devices", e); return null; });
  const [, devices] = await Promise.all([queueReady, devicesReady]);
  pinOnTop();
  document.body.dataset.devices = devices ? String(devices.byCode.size) : "none";
  if (devices) map.on("click", "device-points", (e) => {
    const p = e.features[0].properties;
    new maplibregl.Popup({ closeButton: false }).setLngLat(e.lngLat)
      .setDOMContent(el("div", {}, el("b", {}, p.name || p.code), el("div", {}, `${KIND_ZH[p.kind] || p.kind} · ${STATUS_ZH[p.status] || p.status}`), el("div", { class: "muted" }, p.code)))
      .addTo(map);
  });

  // ECharts (1 MB) is parsed only when the board is first opened
  const board = { load: async () => { const { Board } = await import("./board.js");
    const b = new Board({ ctx, table: $("board-table"), title: $("board-title"), chartBox: $("trend-chart"), drillBox: $("drilldown") });
    Object.assign(board, { load: () => b.load(), resize: () => b.resize() }); return b.load(); }, resize() {} };
  setupDownloads({ ctx, queue, jobs: $("jobs") });
  setupWall($("wall-toggle"), (wall) => { map.resize(); board.resize(); if (wall) fitGrids(map); });
  setupMute($("mute-toggle"));

  let tab = "overview";
  document.querySelector(".tabs").addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-tab]"); if (!b) return;
    tab = b.dataset.tab;
    for (const x of document.querySelectorAll(".tabs button")) x.classList.toggle("active", x === b);
    for (const p of document.querySelectorAll(".tab-pane")) p.classList.toggle("active", p.id === tab);
    if (tab === "overview") map.resize(); else if (tab === "board") await board.load();
  });
  indicatorSelect.addEventListener("change", () => { ctx.indicator = indicatorSelect.value; recolour(); });
  levelSelect.addEventListener("change", () => { ctx.level = levelSelect.value; recolour(); });
  periodSelect.addEventListener("change", async () => {
    ctx.period = periodSelect.value; await recolour();
    renderKpis(await api.get("/indicators", { scope: ctx.scope, period: ctx.period }));
    if (queue.filters.elements.in_period.checked) queue.refresh();
    if (tab === "board") board.load();
  });
  running = { stop() { queue.stop(); devices?.stop(); map.remove(); } };
  document.body.dataset.readyMs = String(Math.round(performance.now())); // first load → interactive (tests, bench)
  document.body.dataset.ready = "1";
}

function renderKpis(values) {
  const want = ["closure_rate", "on_time_closure_rate", "online_rate", "visits_per_worker_month"];
  $("kpis").replaceChildren(...values.filter((v) => want.includes(v.code)).map((v) =>
    el("div", { class: `kpi ${v.status}` }, el("div", { class: "kpi-name" }, v.name_zh.replace(/^(网格事件|专职网格员|视频监控点位)/, "")),
      el("div", { class: "kpi-value" }, withUnit(v.value, v.unit)))));
}

api.whenUnauthorized(() => { running?.stop(); running = null; api.token.clear(); showLogin("登录已过期，请重新登录。"); });
$("login-form").addEventListener("submit", onLogin);
$("password-form").addEventListener("submit", onPasswordChange);
$("logout").addEventListener("click", () => { running?.stop(); running = null; api.token.clear(); location.replace(location.pathname); });
if (api.token.get()) start().catch((e) => { api.token.clear(); showLogin(e.message); }); else showLogin();
