// The live stream (GET /v1/stream): server-sent events read with fetch, because
// EventSource cannot send the bearer token. Reconnects on its own with Last-Event-ID,
// so nothing is missed or repeated; keeps the bell's unread count for the header.

import { session } from "./api.js";

const listeners = new Set();
let controller = null;
let lastEventId = null;
let unread = { count: 0, more: false };

/** ``fn(event, data)`` for every live event; returns the unsubscribe function. */
export function onLive(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export const unreadCount = () => unread;

export function setUnread(count, more = false) {
  unread = { count, more };
  for (const badge of document.querySelectorAll(".bell-badge")) {
    badge.textContent = more ? `${count}+` : String(count);
    badge.hidden = count === 0;
  }
  for (const bell of document.querySelectorAll("a.bell")) {
    bell.setAttribute("aria-label", count ? `Notifications, ${badgeText()} unread` : "Notifications");
  }
}

export const badgeText = () => (unread.more ? `${unread.count}+` : String(unread.count));

export function startLive() {
  if (controller) return;
  controller = new AbortController();
  const { signal } = controller;
  (async () => {
    let delay = 1000;
    while (!signal.aborted) {
      const current = session();
      if (!current) break;
      try {
        const headers = { Authorization: `Bearer ${current.token}`, Accept: "text/event-stream" };
        if (lastEventId) headers["Last-Event-ID"] = lastEventId;
        const response = await fetch("/v1/stream", { headers, signal, cache: "no-store" });
        if (response.status === 401) break;
        if (response.ok) {
          delay = 1000;
          document.body.dataset.live = "connected"; // what tests wait for
          await consume(response.body);
        }
        delete document.body.dataset.live;
      } catch {
        if (signal.aborted) break;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 30000);
    }
  })();
}

export function stopLive() {
  controller?.abort();
  controller = null;
  lastEventId = null;
  setUnread(0);
}

async function consume(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      dispatch(buffer.slice(0, cut));
      buffer = buffer.slice(cut + 2);
    }
  }
}

function dispatch(block) {
  let event = "message", data = "";
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue; // heartbeat
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (name === "event") event = value;
    else if (name === "data") data += value;
    else if (name === "id") lastEventId = value;
  }
  if (!data) return;
  const payload = JSON.parse(data);
  if (event === "unread") setUnread(payload.count, payload.more);
  for (const fn of listeners) fn(event, payload);
}
