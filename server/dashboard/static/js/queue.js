// The event queue (new / 预警: closure due within warning_hours / overdue) live from /events/feed, its filters, an event's detail and
// the actions the user's role allows, each sent once with an Idempotency-Key.
import * as api from "./api.js";
import { openFeed } from "./sse.js";
import { el, fullTime, time } from "./fmt.js";

const OPEN = ["reported", "accepted", "dispatched", "returned", "handled"];
export const STATES_ZH = { reported: "已上报", accepted: "已受理", rejected: "不予立案", dispatched: "已派遣", returned: "已退回",
  handled: "已处置", closed: "已办结", reviewed: "已回访", merged: "已合并" };
// The staff actions of the dashboard: label, and the field the API requires with it.
const ACTIONS = {
  accepted: { label: "受理" }, dispatched: { label: "派遣", field: "dispatched_to", ask: "承办部门" },
  rejected: { label: "不予立案", field: "rejection_reason", ask: "不予立案理由" }, closed: { label: "办结" },
  merged: { label: "合并重复", field: "merged_into", ask: "合并到事件编号（UUID）" },
};
const KINDS_ZH = { overdue: "超期", warning: "预警（即将超期）", step_overdue: "环节超期", merge: "合并重复事件", dispute: "纠纷登记更新" };
const STAFF = new Set(["street_admin", "district_admin", "command_center"]);

/** The newest change cursor the user can see: /events/changes answers "anything after N?", so an
 * exponential then binary search finds it in ~2·log2(N) small requests, and the feed starts there
 * instead of replaying the whole history. */
export async function latestEventCursor() {
  const after = async (n) => (await api.get("/events/changes", { cursor: n, limit: 1 })).changes.length > 0;
  let lo = 0, hi = 1024;
  while (await after(hi)) { lo = hi; hi *= 4; }
  while (hi - lo > 1) { const mid = Math.floor((lo + hi) / 2); if (await after(mid)) lo = mid; else hi = mid; }
  return (await after(lo)) ? hi : lo;
}

export class Queue {
  constructor({ ctx, list, tabs, filters, detail, onLocate, onNewOverdue, onTicker, onFeedStatus }) {
    Object.assign(this, { ctx, list, tabs, filters, detail, onLocate, onNewOverdue, onTicker, onFeedStatus });
    this.view = "new"; this.openUuid = null; this.timer = null;
    tabs.addEventListener("click", (e) => {
      const b = e.target.closest("button[data-view]"); if (!b) return;
      this.view = b.dataset.view; for (const x of tabs.querySelectorAll("button")) x.classList.toggle("active", x === b);
      this.refresh();
    });
    filters.addEventListener("change", () => this.refresh());
  }

  async fillFilters(streets) {
    const [state, category, street] = ["state", "category", "street_code"].map((n) => this.filters.elements[n]);
    for (const [k, v] of Object.entries(STATES_ZH)) state.append(el("option", { value: k }, v));
    for (const c of await api.get("/events/categories")) if (c.active) category.append(el("option", { value: c.code }, c.name));
    for (const s of streets) street.append(el("option", { value: s.code }, s.name));
    if (streets.length <= 1) street.hidden = true;
  }

  filterQuery() {
    const f = this.filters.elements, q = { category: f.category.value, street_code: f.street_code.value,
      grid_code: f.grid_code.checkValidity() ? f.grid_code.value : "" };
    if (f.state.value) q.state = f.state.value;
    if (f.in_period.checked) Object.assign(q, this.ctx.periodRange());
    return q;
  }

  async fetchView(view, q) {
    const now = this.ctx.now(), limitMs = this.ctx.config.warning_hours * 3600e3;
    if (view === "new") return api.get("/events", { ...q, state: q.state || "reported", sort: "-reported_at", page_size: 100 });
    if (view === "overdue") return api.get("/events", { ...q, overdue: true, sort: "due_at", page_size: 100 });
    if (view === "warning") {
      const page = await api.get("/events", { state: OPEN, ...q, overdue: false, sort: "closure_due_at", page_size: 200 });
      const items = page.items.filter((e) => OPEN.includes(e.state) && new Date(e.closure_due_at) - now < limitMs);
      return { items, total: items.length };
    }
    return api.get("/events", { ...q, sort: "-reported_at", page_size: 100 });
  }

  /** Re-reads the queue and the three counts (after a feed message, a reconnect, or a minute). */
  async refresh() {
    const seq = (this.seq = (this.seq || 0) + 1); // only the latest refresh draws: filters change faster than answers
    const q = this.filterQuery();
    const [shown, fresh, warning, overdue] = await Promise.all([this.fetchView(this.view, q),
      this.fetchView("new", q), this.fetchView("warning", q), this.fetchView("overdue", q)]);
    if (seq !== this.seq) return;
    document.getElementById("count-new").textContent = fresh.total;
    document.getElementById("count-warning").textContent = warning.total;
    document.getElementById("count-overdue").textContent = overdue.total;
    this.render(shown.items);
    this.list.dataset.view = this.view; this.list.dataset.loadedAt = String(Date.now());
  }

  render(items) {
    const now = this.ctx.now(), limitMs = this.ctx.config.warning_hours * 3600e3;
    this.list.replaceChildren(...items.map((e) => {
      const due = new Date(e.closure_due_at);
      const flag = e.overdue ? ["bad", "超期"] : OPEN.includes(e.state) && due - now < limitMs ? ["warn", "预警"] : null;
      return el("li", { class: `item${e.uuid === this.openUuid ? " selected" : ""}`, dataset: { uuid: e.uuid, state: e.state }, onclick: () => this.open(e.uuid) },
        el("div", { class: "row1" }, el("b", {}, e.category_name), flag ? el("span", { class: `tag ${flag[0]}` }, flag[1]) : null,
          el("span", { class: "state" }, e.state_zh)),
        el("div", { class: "row2 muted" }, `${e.grid_code} · 上报 ${time(e.reported_at)} · 时限 ${time(e.due_at || e.closure_due_at)}`),
        el("div", { class: "row3" }, e.description));
    }));
    if (!items.length) this.list.append(el("li", { class: "empty muted" }, "暂无事件"));
  }

  scheduleRefresh() { clearTimeout(this.timer); this.timer = setTimeout(() => this.refresh().catch(console.error), 300); }

  async start() {
    await this.refresh();
    const cursor = await latestEventCursor();
    let first = true;
    this.feed = openFeed("/events/feed", { lastId: cursor, query: { seconds: this.ctx.config.feed_seconds, poll: 1 }, onStatus: this.onFeedStatus,
      onOpen: async () => { if (first) { first = false; return; } await this.refresh(); if (this.openUuid) await this.open(this.openUuid); },
      onMessage: (kind, c) => {
        if (kind === "create") this.onTicker(`新上报事件 ${time(c.at)}`);
        else if (kind === "overdue") this.onNewOverdue(c); // the server's sweep marked it: 超期
        else if (kind === "warning") this.onTicker(`事件即将超期（预警） ${c.event_uuid.slice(0, 8)}`);
        this.scheduleRefresh();
        if (c.event_uuid === this.openUuid) this.open(this.openUuid).catch(console.error);
      } });
    this.poll = setInterval(() => this.refresh().catch(console.error), 60000); // time alone makes events overdue
  }

  stop() { this.feed?.stop(); clearInterval(this.poll); }

  close() { this.openUuid = null; this.detail.hidden = true; this.onLocate(null); }

  async open(uuid) {
    const e = await api.get(`/events/${uuid}`);
    this.openUuid = uuid;
    for (const li of this.list.children) li.classList.toggle("selected", li.dataset.uuid === uuid);
    const role = this.ctx.user.role;
    const actions = STAFF.has(role) ? e.allowed_next.filter((s) => ACTIONS[s]) : [];
    const form = el("div", { class: "action-form" });
    const photos = el("div", { class: "photos" });
    this.detail.replaceChildren(
      el("button", { class: "close", title: "关闭", onclick: () => this.close() }, "×"),
      el("h3", {}, e.category_name, " ", el("span", { class: "state" }, e.state_zh),
        e.overdue ? el("span", { class: "tag bad" }, "超期") : null),
      el("p", {}, e.description),
      el("dl", {},
        el("dt", {}, "事件编号"), el("dd", { class: "mono" }, e.uuid), el("dt", {}, "网格"), el("dd", {}, e.grid_code),
        el("dt", {}, "地址"), el("dd", {}, e.address || "—"), el("dt", {}, "上报"), el("dd", {}, `${fullTime(e.reported_at)}（${e.reporter}）`),
        el("dt", {}, "本环节时限"), el("dd", {}, fullTime(e.due_at)), el("dt", {}, "办结时限"), el("dd", {}, fullTime(e.closure_due_at)),
        e.dispatched_to ? [el("dt", {}, "承办部门"), el("dd", {}, e.dispatched_to)] : null,
        e.rejection_reason ? [el("dt", {}, "不予立案理由"), el("dd", {}, e.rejection_reason)] : null),
      photos,
      el("div", { class: "actions", id: "event-actions" }, actions.map((s) =>
        el("button", { dataset: { action: s }, onclick: () => this.ask(e, s, form) }, ACTIONS[s].label))),
      form,
      el("h4", {}, "处理记录"),
      el("ol", { class: "history" }, (e.history || []).map((h) => el("li", {},
        el("span", { class: "muted" }, fullTime(h.at)), ` ${KINDS_ZH[h.kind] || STATES_ZH[h.to_state] || h.to_state}`,
        h.actor ? ` · ${h.actor}` : "", h.note ? ` · ${h.note}` : ""))),
    );
    this.detail.hidden = false;
    this.onLocate(e);
    for (const sha of e.photos) this.thumbnail(sha).then((img) => photos.append(img)).catch(() => {});
  }

  async thumbnail(sha) {
    const blob = await (await api.raw(`/photos/${sha}`, { query: { thumbnail: true } })).blob();
    const src = URL.createObjectURL(blob); // img-src blob: — the photo needed the token, an <img src> cannot send it
    return el("img", { src, alt: "事件照片", class: "thumb" });
  }

  ask(e, to, form) {
    const a = ACTIONS[to];
    const input = a.field ? el("input", { name: a.field, placeholder: a.ask, required: true }) : null;
    const message = el("span", { class: "message" });
    const submit = el("button", { type: "submit", class: "primary" }, `确认${a.label}`);
    const f = el("form", { dataset: { action: to } }, input, submit, el("button", { type: "button", onclick: () => form.replaceChildren() }, "取消"), message);
    const key = api.idempotencyKey(); // one key per decision: a double click or a retry is applied once
    f.addEventListener("submit", async (ev) => {
      ev.preventDefault(); submit.disabled = true;
      try {
        const body = { to_state: to };
        if (a.field) body[a.field] = input.value.trim();
        await api.post(`/events/${e.uuid}/transitions`, body, { "Idempotency-Key": key });
        form.replaceChildren(); await this.open(e.uuid); await this.refresh();
      } catch (err) { message.textContent = err.message; submit.disabled = false; }
    });
    form.replaceChildren(f);
    (input || submit).focus();
  }
}
