// The photostream web app: a hash router over the pages, and the header around them.
// It talks only to the public HTTP APIs (see api.js), so it doubles as their reference client.

import { ApiError, forgetSession, loadConfig, session, signOut, whenUnauthorized } from "./api.js";
import { h, icon, toast } from "./dom.js";
import { searchHref } from "./components.js";
import { badgeText, startLive, stopLive, unreadCount } from "./live.js";
import { feedPage } from "./pages/feed.js";
import { notificationsPage } from "./pages/notifications.js";
import { photoPage } from "./pages/photo.js";
import { profilePage } from "./pages/profile.js";
import { oidcReturnPage, settingsPage, signinPage, signupPage } from "./pages/signin.js";
import { explorePage, requestsPage, searchPage } from "./pages/social.js";
import { uploadPage } from "./pages/upload.js";

const main = document.getElementById("view");
let current = null;

const ROUTES = [
  [/^\/?$/, (m, params) => feedPage(params), "home"],
  [/^\/p\/(\d+)$/, (m) => photoPage(m[1])],
  [/^\/u\/([^/]+)$/, (m) => profilePage(decodeURIComponent(m[1])), "profile"],
  [/^\/requests$/, () => requestsPage(), "requests"],
  [/^\/notifications$/, (m, params) => notificationsPage(params), "notifications"],
  [/^\/search$/, (m, params) => searchPage(params)],
  [/^\/explore$/, () => explorePage(), "explore"],
  [/^\/upload$/, () => uploadPage(), "upload"],
  [/^\/settings$/, () => settingsPage(), "settings"],
];

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?");
  return { path, params: new URLSearchParams(query) };
}

function header() {
  const me = session()?.user;
  const search = h("input#search", { type: "search", name: "q", placeholder: "Search", autocomplete: "off", "aria-label": "Search people, photos and #hashtags" });
  const { path, params } = parseHash();
  if (path === "/search") search.value = params.get("q") || "";
  const link = (href, name, label, key) =>
    h("a.nav-link", { href, "aria-label": label, title: label, dataset: { nav: key } }, icon(name), h("span.nav-text", {}, label));
  return h("div.bar", {},
    h("a.brand", { href: "#/" }, "photostream"),
    me ? h("form.search", { role: "search", onsubmit: (e) => { e.preventDefault(); if (search.value.trim()) location.hash = searchHref(search.value.trim()); } },
      icon("search"), search) : null,
    me ? h("nav.nav", { "aria-label": "Main" },
      link("#/", "home", "Home", "home"),
      link("#/explore", "explore", "Explore", "explore"),
      link("#/upload", "plus", "New post", "upload"),
      bell(),
      link("#/requests", "inbox", "Requests", "requests"),
      link(`#/u/${encodeURIComponent(me.username)}`, "user", me.username, "profile"),
      link("#/settings", "gear", "Settings", "settings"),
      h("button.nav-link.signout", { type: "button", title: "Sign out", "aria-label": "Sign out", onclick: async () => { stopLive(); await signOut(); location.hash = "#/signin"; route(); } },
        icon("logout"), h("span.nav-text", {}, "Sign out"))) : null);
}

/** The bell: the unread count from the live stream, kept across header re-renders. */
function bell() {
  const { count } = unreadCount();
  return h("a.nav-link.bell", {
    href: "#/notifications", title: "Notifications", dataset: { nav: "notifications" },
    "aria-label": count ? `Notifications, ${badgeText()} unread` : "Notifications",
  }, icon("bell"), h("span.bell-badge", { hidden: count === 0 }, badgeText()),
  h("span.nav-text", {}, "Notifications"));
}

async function route() {
  current?.cleanup?.();
  current = null;
  document.getElementById("top").replaceChildren(header());
  const { path, params } = parseHash();
  if (path === "/oidc") { // the identity provider's callback hands the session over here
    show(oidcReturnPage(params));
    return;
  }
  if (!session() && path === "/signup") {
    show(signupPage(() => { location.hash = "#/"; route(); }));
    return;
  }
  if (!session() || path === "/signin") {
    // A link naming a user (``#/signin?user=bob``, as the demo prints) offers to switch.
    if (session() && !params.get("user")) { location.hash = "#/"; return; }
    show(signinPage(() => { location.hash = "#/"; route(); }, params));
    return;
  }
  startLive();
  for (const [pattern, build, nav] of ROUTES) {
    const match = path.match(pattern);
    if (!match) continue;
    document.querySelectorAll(".nav-link").forEach((a) => a.toggleAttribute("aria-current", a.dataset.nav === nav));
    main.setAttribute("aria-busy", "true");
    try {
      show(await build(match, params));
    } catch (error) {
      show(problemPage(error));
    } finally {
      main.removeAttribute("aria-busy");
    }
    return;
  }
  show(problemPage(new ApiError(404, { title: "Not Found", detail: "There is no such page." })));
}

function show(node) {
  current = node;
  main.replaceChildren(node);
  window.scrollTo(0, 0);
}

function problemPage(error) {
  const status = error instanceof ApiError ? error.status : 0;
  return h("section.problem", { role: "alert" },
    h("h1", {}, status === 404 ? "Not found" : "Something went wrong"),
    h("p", {}, error.message), h("a.button.secondary", { href: "#/" }, "Back to your feed"));
}

whenUnauthorized((problem) => {
  stopLive();
  forgetSession();
  toast(`Please sign in again (${problem.detail || "session expired"})`, "error");
  location.hash = "#/signin";
});

document.querySelector(".skip").addEventListener("click", (event) => {
  event.preventDefault(); // the hash is the router's
  main.focus();
});
window.addEventListener("hashchange", route);
loadConfig().then(route).catch((error) => show(problemPage(error)));
