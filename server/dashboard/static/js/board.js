// The indicator board: every catalogue indicator for the scope and period against its target, a
// month-by-month trend (ECharts) and the drill-down list of the records behind a value.
import * as echarts from "../vendor/echarts/echarts.esm.min.mjs";
import * as api from "./api.js";
import { el, fullTime, num, withUnit } from "./fmt.js";
import { STATES_ZH } from "./queue.js";

const STATUS = { met: ["ok", "达标"], not_met: ["bad", "未达标"], no_data: ["muted", "无数据"] };

/** A drill-down value for people: local times, 是/否, Chinese state names. */
function cell(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "boolean") return v ? "是" : "否";
  if (typeof v === "number") return num(v);
  if (typeof v === "string" && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(v)) return fullTime(v);
  return STATES_ZH[v] || v;
}

export class Board {
  constructor({ ctx, table, title, chartBox, drillBox }) {
    Object.assign(this, { ctx, table, title, chartBox, drillBox });
    this.chart = null;
  }

  async load() {
    const { scope, period, scopeName } = this.ctx;
    this.title.textContent = `${scopeName} · ${period}`;
    const values = await api.get("/indicators", { scope, period });
    const body = this.table.tBodies[0];
    body.replaceChildren(...values.map((v) => el("tr", { dataset: { code: v.code, status: v.status } },
      el("td", {}, v.name_zh), el("td", { class: "num" }, withUnit(v.value, v.unit)),
      el("td", { class: "num" }, v.target === null ? "—" : `${v.direction} ${num(v.target)}`),
      el("td", { class: STATUS[v.status][0] }, STATUS[v.status][1]),
      el("td", { class: "num muted" }, `${num(v.numerator)} / ${num(v.denominator)}`),
      el("td", {}, el("button", { class: "link", onclick: () => this.trend(v) }, "趋势"), " ",
        el("button", { class: "link", onclick: () => this.drill(v) }, "明细")))));
    if (values.length) await this.trend(values[0]);
  }

  async trend(v) {
    const { scope, period } = this.ctx;
    const year = period.slice(0, 4);
    const series = await api.get(`/indicators/${v.code}/series`, { scope, period: year });
    this.chart ??= echarts.init(this.chartBox, null, { renderer: "canvas" });
    this.chart.setOption({
      title: { text: `${v.name_zh} · ${year} 年逐月`, left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis" }, grid: { left: 50, right: 30, top: 40, bottom: 30 },
      xAxis: { type: "category", data: series.map((s) => s.period.slice(5) + "月") },
      yAxis: { type: "value", name: v.unit },
      series: [{ type: "bar", name: v.name_zh, data: series.map((s) => s.value),
        itemStyle: { color: (p) => (series[p.dataIndex].status === "met" ? "#2e9d57" : "#d64541") },
        markLine: v.target === null ? undefined : { symbol: "none", data: [{ yAxis: v.target, name: "目标" }],
          lineStyle: { color: "#3a78c2", type: "dashed" }, label: { formatter: `目标 ${num(v.target)}` } } }],
    }, true);
    this.chartBox.dataset.code = v.code;
  }

  async drill(v) {
    const { scope, period } = this.ctx;
    this.drillBox.replaceChildren(el("p", { class: "muted" }, "读取中…"));
    try {
      const d = await api.get(`/indicators/${v.code}/drilldown`, { scope, period, limit: 500 });
      const cols = d.rows.length ? Object.keys(d.rows[0]) : [];
      this.drillBox.replaceChildren(el("h3", {}, `${v.name_zh} 明细（${d.count} 条）`),
        el("table", { class: "drill" }, el("thead", {}, el("tr", {}, cols.map((c) => el("th", {}, c)))),
          el("tbody", {}, d.rows.map((r) => el("tr", {}, cols.map((c) => el("td", {}, cell(r[c]))))))));
    } catch (e) { this.drillBox.replaceChildren(el("p", { class: "muted" }, e.message)); }
  }

  resize() { this.chart?.resize(); }
}
