// Server-Sent Events over fetch: EventSource cannot send an Authorization header and the token must
// stay out of URLs. Reconnects with back-off, resuming from the last id (Last-Event-ID); `onOpen`
// runs on every (re)connection so the caller re-reads its state first: never a silently stale screen.
import { authHeaders, url } from "./api.js";

export function openFeed(path, { query = {}, lastId = null, onOpen, onMessage, onStatus, onFatal } = {}) {
  let stopped = false, controller = null, delay = 1000;
  const state = { lastId };

  async function connectOnce() {
    controller = new AbortController();
    const headers = authHeaders({ Accept: "text/event-stream" });
    if (state.lastId !== null) headers["Last-Event-ID"] = String(state.lastId);
    const res = await fetch(url(path, { ...query, cursor: state.lastId ?? undefined }), { headers, signal: controller.signal });
    if (res.status === 401 || res.status === 403 || res.status === 404) { onFatal?.(res.status); stopped = true; return; }
    if (!res.ok || !res.body) throw new Error(`feed HTTP ${res.status}`);
    delay = 1000;
    onStatus?.("live");
    if (onOpen) await onOpen(state);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return "ended"; // the server closes every stream after `seconds`: resume at once
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
        const msg = { id: null, event: "message", data: "" };
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const i = line.indexOf(":"); const field = i < 0 ? line : line.slice(0, i);
          const val = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
          if (field === "id") msg.id = val; else if (field === "event") msg.event = val;
          else if (field === "data") msg.data += (msg.data ? "\n" : "") + val;
        }
        if (!msg.data) continue;
        if (msg.id !== null) state.lastId = Number(msg.id);
        try { onMessage(msg.event, JSON.parse(msg.data)); } catch (e) { console.error("feed message", e); }
      }
    }
  }

  (async () => {
    while (!stopped) {
      const opened = Date.now();
      let ended = false;
      try { ended = (await connectOnce()) === "ended"; } catch { /* network or server down: back off */ }
      if (stopped) return;
      if (ended && Date.now() - opened > 1000) continue; // a normal end: reconnect (and re-read) now
      onStatus?.("reconnecting");
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15000);
    }
  })();
  return { state, stop() { stopped = true; controller?.abort(); } };
}
