// Home feed: stories tray, chronological/top toggle, cards loaded by cursor as you scroll.

import { read } from "../api.js";
import { h } from "../dom.js";
import { infinite, photoCard } from "../components.js";
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
  const page = h("div.feed-page", {}, h("h1.sr-only", {}, mode === "top" ? "Home feed, top posts" : "Home feed"),
    storiesTray(), toggle, list, scroller.nodes);
  page.cleanup = scroller.stop;
  return page;
}
