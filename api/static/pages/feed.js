// Home feed: stories tray, chronological/top toggle, cards loaded by cursor as you scroll.

import { read } from "../api.js";
import { h } from "../dom.js";
import { infinite, photoCard } from "../components.js";
import { onLive } from "../live.js";
import { storiesTray } from "../stories.js";

export const FEED_PAGE = 10;

export function feedPage(params) {
  const mode = params.get("mode") === "top" ? "top" : "chrono";
  const list = h("div.feed-list");
  const toggle = h("div.segmented", { role: "group", "aria-label": "Feed order" },
    ["chrono", "top"].map((m) => h("a.segment", {
      href: m === "top" ? "#/?mode=top" : "#/", "aria-current": m === mode ? "page" : undefined,
    }, m === "top" ? "Top" : "Latest")));
  const scroller = infinite(list, (cursor) => read("/v1/feed", { limit: FEED_PAGE, cursor, mode }), photoCard, {
    empty: "Your feed is empty. Follow people from Explore or search to see their photos here.",
  });
  // "N new posts": the live stream says when posts reach this feed; a click reloads it.
  let fresh = 0;
  const hint = h("button.new-posts", { type: "button", hidden: true,
    onclick: () => window.dispatchEvent(new HashChangeEvent("hashchange")) });
  const off = onLive((event, data) => {
    if (event !== "feed") return;
    fresh += data.new_posts;
    hint.textContent = `${fresh} new post${fresh === 1 ? "" : "s"}`;
    hint.hidden = false;
  });
  const page = h("div.feed-page", {}, h("h1.sr-only", {}, mode === "top" ? "Home feed, top posts" : "Home feed"),
    hint, storiesTray(), toggle, list, scroller.nodes);
  page.cleanup = () => { scroller.stop(); off(); };
  return page;
}
