// Follow-request inbox, search results and Explore.

import { read, write } from "../api.js";
import { h, toast } from "../dom.js";
import { gridTile, searchHref, userLink } from "../components.js";

export async function requestsPage() {
  const page = await read("/v1/follow-requests");
  const list = h("ul.people", { "aria-label": "Follow requests" });
  const decide = (user, row, verb) => async () => {
    row.querySelectorAll("button").forEach((b) => (b.disabled = true));
    try {
      await write("POST", `/v1/follow-requests/${user.user_id}/${verb}`);
      row.replaceChildren(userLink(user), h("span.muted", {}, verb === "approve" ? "Approved" : "Removed"));
      toast(verb === "approve" ? `${user.username} can now see your photos` : "Request removed");
    } catch (error) {
      row.querySelectorAll("button").forEach((b) => (b.disabled = false));
      toast(error.message, "error");
    }
  };
  for (const user of page.items) {
    const row = h("li.person", { dataset: { userId: user.user_id } });
    row.append(userLink(user), h("div.row", {},
      h("button.primary.small", { type: "button", onclick: decide(user, row, "approve") }, "Approve"),
      h("button.secondary.small", { type: "button", onclick: decide(user, row, "reject") }, "Reject")));
    list.append(row);
  }
  return h("section.requests-page", {}, h("h1", {}, "Follow requests"),
    page.items.length ? list : h("p.muted", {}, "No one is waiting for your approval."));
}

export async function searchPage(params) {
  const q = (params.get("q") || "").trim();
  const heading = h("h1", {}, q ? `Results for “${q}”` : "Search");
  if (!q) return h("section.search-page", {}, heading, h("p.muted", {}, "Search people by username, photos by words or #hashtags."));
  const result = await read("/v1/search", { q });
  return h("section.search-page", {}, heading,
    result.users.length ? h("section", {}, h("h2", {}, "People"),
      h("ul.people", {}, result.users.map((u) => h("li.person", {}, userLink(u), h("span.muted", {}, u.display_name))))) : null,
    h("section", {}, h("h2", {}, "Photos"),
      result.photos.length ? h("div.grid", {}, result.photos.map(gridTile)) : h("p.muted", {}, "No photos match.")));
}

export async function explorePage() {
  const result = await read("/v1/explore");
  return h("section.explore-page", {}, h("h1", {}, "Explore"),
    h("section", { "aria-label": "Trending hashtags" }, h("h2", {}, "Trending"),
      result.hashtags.length
        ? h("ul.chips", {}, result.hashtags.map((t) => h("li", {}, h("a.chip", { href: searchHref(`#${t.tag}`) }, `#${t.tag}`, h("span.muted", {}, ` ${t.count}`)))))
        : h("p.muted", {}, "No hashtags yet.")),
    h("section", { "aria-label": "Popular photos" }, h("h2", {}, "Popular"),
      result.photos.length ? h("div.grid", {}, result.photos.map(gridTile)) : h("p.muted", {}, "No photos yet.")));
}
