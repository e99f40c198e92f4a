// Building DOM without innerHTML: user text always goes in as text nodes.

/** h("input#id.a.b", {type: "text"}, child...): an element with attributes and children. */
export function h(spec, attrs = {}, ...children) {
  const [head, ...classes] = spec.split(".");
  const [tag, id] = head.split("#");
  const el = document.createElement(tag || "div");
  if (id) el.id = id;
  if (classes.length) el.className = classes.join(" ");
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, value);
  }
  append(el, children);
  return el;
}

/** Replace ``el``'s children (arrays flattened; null, undefined and false skipped). */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Inline SVG icons (no icon font, nothing fetched). */
const ICONS = {
  heart: "M12 21s-7.5-4.6-9.6-9.1C.9 8.7 2.9 5 6.5 5c2.1 0 3.5 1.2 4.5 2.6C12 6.2 13.4 5 15.5 5 19.1 5 21.1 8.7 19.6 11.9 17.5 16.4 12 21 12 21z",
  comment: "M4 5h16v11H8l-4 4z",
  home: "M3 11l9-7 9 7v9h-6v-6H9v6H3z",
  explore: "M12 2a10 10 0 100 20 10 10 0 000-20zm4 6l-2.5 5.5L8 16l2.5-5.5z",
  plus: "M12 4v16M4 12h16",
  inbox: "M3 13l3-8h12l3 8v6H3zM3 13h5l1 2h6l1-2h5",
  bell: "M6 17V11a6 6 0 0112 0v6l2 2H4zM10 21a2 2 0 004 0",
  user: "M12 12a4 4 0 100-8 4 4 0 000 8zm-8 9c0-4 4-6 8-6s8 2 8 6",
  search: "M10 4a6 6 0 104.5 10l5 5M10 4a6 6 0 010 12",
  close: "M6 6l12 12M18 6L6 18",
  logout: "M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10",
  album: "M8 8h12v12H8zM4 16V4h12",
  gear: "M12 9a3 3 0 100 6 3 3 0 000-6zM12 2v3M12 19v3M2 12h3M19 12h3M4.9 4.9l2.1 2.1M17 17l2.1 2.1M4.9 19.1L7 17M17 7l2.1-2.1",
};

export function icon(name, { filled = false } = {}) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", `icon icon-${name}${filled ? " filled" : ""}`);
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

/** "3m", "5h", "2d", or a date. */
export function ago(iso) {
  const seconds = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  if (seconds < 7 * 86400) return `${Math.floor(seconds / 86400)}d`;
  return new Date(iso).toLocaleDateString();
}

let toastTimer;
/** A short message in the live region (screen readers announce it). */
export function toast(message, kind = "info") {
  const region = document.getElementById("toast");
  region.textContent = message;
  region.className = `toast show ${kind}`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (region.className = "toast"), 4000);
}
