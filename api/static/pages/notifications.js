// The bell's page: grouped notifications by cursor, a type filter, follow requests
// accepted or declined in place, new entries arriving live from the stream.

import { read, readWrite, write } from "../api.js";
import { ago, h, toast } from "../dom.js";
import { infinite, userLink } from "../components.js";
import { onLive, setUnread } from "../live.js";

const FILTERS = [["", "All"], ["like", "Likes"], ["comment", "Comments"], ["follow", "Follows"],
  ["follow_request", "Requests"], ["mention", "Mentions"]];

const VERBS = {
  like: "liked your photo",
  comment: "commented on your photo",
  follow: "started following you",
  follow_request: "asked to follow you",
  follow_accepted: "accepted your follow request",
  mention: "mentioned you",
};

/** "alice", "alice and bob", "alice and 12 others". */
function who(item) {
  const [first, second] = item.actors;
  const others = item.actor_count - 1;
  if (!others) return [userLink(first)];
  if (others === 1 && second) return [userLink(first), " and ", userLink(second)];
  return [userLink(first), ` and ${others} other${others === 1 ? "" : "s"}`];
}

function decide(item, row) {
  const user = item.actors[0];
  const act = (verb) => async () => {
    row.querySelectorAll("button").forEach((b) => (b.disabled = true));
    try {
      await write("POST", `/v1/follow-requests/${user.user_id}/${verb}`);
      row.querySelector(".decide").replaceWith(h("span.muted.state", {}, verb === "approve" ? "Accepted" : "Declined"));
    } catch (error) {
      row.querySelectorAll("button").forEach((b) => (b.disabled = false));
      toast(error.message, "error");
    }
  };
  return h("div.row.decide", {},
    h("button.primary.small", { type: "button", onclick: act("approve") }, "Accept"),
    h("button.secondary.small", { type: "button", onclick: act("reject") }, "Decline"));
}

export function notificationRow(item) {
  const row = h(item.unread ? "li.notification.unread" : "li.notification", { dataset: { id: item.id, type: item.type } });
  const text = h("p.what", {}, who(item), " ", VERBS[item.type] || item.type,
    item.comment ? h("span.quote", {}, `: “${item.comment.text}”`) : item.type === "mention" && item.excerpt ? h("span.quote", {}, `: “${item.excerpt}”`) : null,
    " ", h("time.muted", { datetime: item.updated_at || item.created_at }, ago(item.updated_at || item.created_at)));
  row.append(text);
  if (item.type === "follow_request") {
    row.append(item.state === "pending" ? decide(item, row)
      : h("span.muted.state", {}, item.state === "accepted" ? "Accepted" : "Declined"));
  }
  if (item.photo) {
    row.append(h("a.thumb", { href: `#/p/${item.photo.photo_id}`, "aria-label": "Open the photo" },
      item.photo.thumb_url ? h("img", { src: item.photo.thumb_url, alt: "", width: 44, height: 44 }) : "Photo"));
  }
  return row;
}

let marking = null;
async function markRead(id) {
  if (marking && BigInt(marking) >= BigInt(id)) return;
  marking = id;
  try {
    const answer = await readWrite("POST", "/v1/notifications/read", { up_to: id });
    setUnread(answer.count, answer.more);
  } catch (error) {
    toast(error.message, "error");
  }
}

export function notificationsPage(params) {
  const type = params.get("type") || "";
  const list = h("ul.notifications", { "aria-label": "Notifications" });
  const filters = h("div.segmented", { role: "group", "aria-label": "Show" },
    FILTERS.map(([value, label]) => h("a.segment", {
      href: value ? `#/notifications?type=${value}` : "#/notifications",
      "aria-current": value === type ? "page" : undefined,
    }, label)));
  const scroller = infinite(list, async (cursor) => {
    const page = await read("/v1/notifications", { limit: 20, cursor, type });
    if (!cursor && page.items.length) markRead(page.items[0].id);
    return page;
  }, notificationRow, { empty: "No notifications yet." });
  const off = onLive((event, data) => {
    if (event === "notification" && (!type || data.type === type)) {
      const row = notificationRow({ ...data, unread: false });
      const shown = list.querySelector(`[data-id="${data.id}"]`);
      if (shown) shown.remove();
      list.prepend(row);
      markRead(data.id);
    } else if (event === "removed") {
      list.querySelector(`[data-id="${data.id}"]`)?.remove();
    }
  });
  const page = h("section.notifications-page", {}, h("h1", {}, "Notifications"), filters, list, scroller.nodes);
  page.cleanup = () => { scroller.stop(); off(); };
  return page;
}
