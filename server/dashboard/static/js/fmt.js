// People's formats: Asia/Shanghai times, grouped numbers, one decimal for rates.
const TZ = "Asia/Shanghai";
const dtf = new Intl.DateTimeFormat("zh-CN", { timeZone: TZ, month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false });
const full = new Intl.DateTimeFormat("zh-CN", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false });
const nf = new Intl.NumberFormat("zh-CN", { maximumFractionDigits: 1 });

export const time = (iso) => (iso ? dtf.format(new Date(iso)) : "—");
export const fullTime = (iso) => (iso ? full.format(new Date(iso)) : "—");
export const num = (v) => (v === null || v === undefined ? "—" : nf.format(v));
export const withUnit = (v, unit) => (v === null || v === undefined ? "无数据" : `${nf.format(v)}${unit === "%" ? "%" : " " + (unit || "")}`);
export const bytes = (n) => (n < 1024 * 1024 ? `${nf.format(n / 1024)} KB` : `${nf.format(n / 1024 / 1024)} MB`);

/** An element with text and attributes: the page builds no HTML from strings (no injection). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(e.dataset, v); else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}
