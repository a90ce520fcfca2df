// Downloads: the self-evaluation and monitoring tables (upload a declaration), the weekly report,
// event and device exports. The response body is read as a stream, so a long job shows bytes and
// time instead of a frozen button; the file is handed over as a blob (the token never in a URL).
import * as api from "./api.js";
import { bytes, el } from "./fmt.js";

function save(blob, name) {
  const a = el("a", { href: URL.createObjectURL(blob), download: name });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

function filename(res, fallback) {
  const m = /filename="?([^";]+)"?/.exec(res.headers.get("Content-Disposition") || "");
  return m ? m[1] : fallback;
}

/** One job line: elapsed time while the server works, then a progress bar while the body arrives. */
export async function job(list, label, start, fallbackName) {
  const bar = el("progress", { max: 1 }), status = el("span", { class: "muted" }, "处理中…");
  const row = el("li", { class: "job" }, el("b", {}, label), bar, status);
  list.prepend(row);
  const t0 = performance.now();
  const tick = setInterval(() => { status.textContent = `服务器处理中… ${Math.round((performance.now() - t0) / 1000)} 秒`; }, 500);
  try {
    const res = await start();
    clearInterval(tick);
    const total = Number(res.headers.get("Content-Length")) || 0;
    if (total) bar.max = total; else bar.removeAttribute("value");
    const reader = res.body.getReader(), chunks = [];
    let got = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(value); got += value.length;
      if (total) bar.value = got;
      status.textContent = total ? `${bytes(got)} / ${bytes(total)}` : `已接收 ${bytes(got)}`;
    }
    const blob = new Blob(chunks, { type: res.headers.get("Content-Type") || "application/octet-stream" });
    bar.max = 1; bar.value = 1;
    const name = filename(res, fallbackName);
    status.textContent = `完成 ${bytes(blob.size)} · ${name}`; row.classList.add("done");
    save(blob, name);
    return blob;
  } catch (e) {
    clearInterval(tick); status.textContent = `失败：${e.message}`; row.classList.add("failed");
    return null;
  }
}

function csvCell(v) {
  const s = v === null || v === undefined ? "" : String(v);
  return /^[0-9]{12,}$/.test(s) ? `"=""${s}"""` : /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s; // long codes stay text in Excel
}

/** Every device of the territory, page by page from GET /devices, as CSV with a BOM (Excel reads UTF-8). */
async function devicesCsv() {
  const cols = [["code", "编码"], ["name", "名称"], ["kind_zh", "类型"], ["status", "状态"], ["grid_code", "网格"],
    ["street_code", "街道"], ["address", "地址"], ["last_seen_at", "最后上报"], ["lon", "经度"], ["lat", "纬度"]];
  const lines = [cols.map((c) => c[1]).join(",")];
  for (let page = 1; ; page++) {
    const p = await api.get("/devices", { page, page_size: 200 });
    for (const d of p.items) lines.push(cols.map(([k]) => csvCell(d[k])).join(","));
    if (page * 200 >= p.total) break;
  }
  const body = new Blob(["\ufeff" + lines.join("\r\n")], { type: "text/csv" });
  return new Response(body, { headers: { "Content-Type": "text/csv", "Content-Length": String(body.size),
    "Content-Disposition": 'attachment; filename="devices.csv"' } });
}

export function setupDownloads({ ctx, queue, jobs }) {
  const upload = (formId, path, label, name) => {
    const f = document.getElementById(formId);
    f.addEventListener("submit", (e) => {
      e.preventDefault();
      const data = new FormData(f);
      if (!data.get("budget")) data.delete("budget");
      data.set("scope", ctx.scope);
      job(jobs, label, () => api.raw(path, { method: "POST", form: data }), name);
    });
  };
  upload("selfeval-form", "/indicators/self-evaluation", "自评表", "self_evaluation.xlsx");
  upload("monitoring-form", "/indicators/monitoring", "季度监测表", "monitoring.xlsx");
  const year = ctx.config.today.slice(0, 4), monitoring = document.getElementById("monitoring-form").elements;
  document.getElementById("selfeval-form").elements.year.value = year;
  monitoring.year.value = year;
  monitoring.quarter.value = String(Math.floor((Number(ctx.config.today.slice(5, 7)) - 1) / 3) + 1);
  document.getElementById("dl-weekly").addEventListener("click", () => job(jobs, "社会治安形势周报", async () => {
    const report = await api.post("/reports/weekly", undefined);
    return api.raw(`/reports/weekly/${report.id}.docx`);
  }, "weekly.docx"));
  document.getElementById("dl-events").addEventListener("click", () =>
    job(jobs, "事件导出", () => api.raw("/events/export", { query: { ...queue.filterQuery(), format: "xlsx" } }), "events.xlsx"));
  document.getElementById("dl-devices").addEventListener("click", () => job(jobs, "设备清单", devicesCsv, "devices.csv"));
}
