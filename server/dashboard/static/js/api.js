// The public API with the user's token. The token lives in sessionStorage (gone with the tab) and
// only ever travels in the Authorization header: never in a URL, never logged.
const KEY = "gridops.token";
export const API = "/api/v1";

export class ApiError extends Error {
  constructor(status, code, messageZh, detail) {
    super(messageZh || code || `HTTP ${status}`);
    this.status = status; this.code = code; this.detail = detail;
  }
}

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

let onUnauthorized = () => {};
export function whenUnauthorized(fn) { onUnauthorized = fn; }

export function url(path, query) {
  const u = new URL(API + path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v === undefined || v === null || v === "") continue;
    for (const one of Array.isArray(v) ? v : [v]) u.searchParams.append(k, one);
  }
  return u.pathname + u.search;
}

export function authHeaders(extra) {
  const t = token.get();
  return { ...(t ? { Authorization: `Bearer ${t}` } : {}), ...(extra || {}) };
}

async function errorOf(res) {
  let err = {};
  try { err = (await res.json()).error || {}; } catch { /* not the envelope */ }
  return new ApiError(res.status, err.code, err.message_zh || err.message, err.detail);
}

/** fetch → the Response (2xx) or an ApiError with the envelope's Chinese message. */
export async function raw(path, { method = "GET", query, json, form, headers, signal } = {}) {
  const init = { method, headers: authHeaders(headers), signal };
  if (json !== undefined) { init.body = JSON.stringify(json); init.headers["Content-Type"] = "application/json"; }
  if (form !== undefined) init.body = form;
  const res = await fetch(url(path, query), init);
  if (res.status === 401 && path !== "/auth/token") { onUnauthorized(); }
  if (!res.ok) throw await errorOf(res);
  return res;
}

export async function get(path, query, opts) { return (await raw(path, { ...opts, query })).json(); }
export async function post(path, json, headers) { return (await raw(path, { method: "POST", json, headers })).json(); }

export async function login(username, password) {
  const body = new URLSearchParams({ username, password });
  const res = await fetch(url("/auth/token"), { method: "POST", body });
  if (!res.ok) throw await errorOf(res);
  return res.json();
}

/** A fresh key per user action, so a retried request is applied once (the API's Idempotency-Key). */
export function idempotencyKey() { return crypto.randomUUID(); }
