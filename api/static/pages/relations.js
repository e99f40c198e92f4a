// Settings: the accounts you blocked and muted, each with Unblock / Unmute in place.
// Reads GET /v1/me/blocks and /v1/me/mutes (read API); writes DELETE .../block|mute (ingest).

import { read, write } from "../api.js";
import { fill, h, toast } from "../dom.js";
import { userLink } from "../components.js";

const LISTS = [
  { path: "blocks", verb: "block", title: "Blocked accounts", undo: "Unblock", done: "Unblocked",
    empty: "You have not blocked anyone." },
  { path: "mutes", verb: "mute", title: "Muted accounts", undo: "Unmute", done: "Unmuted",
    empty: "You have not muted anyone." },
];

function relationList({ path, verb, title, undo, done, empty }) {
  const list = h("ul.people", { "aria-label": title });
  const nothing = () => h("li.person.muted", {}, empty);
  const row = (user) => {
    const item = h("li.person", {}, userLink(user),
      h("button.secondary", {
        type: "button", "aria-label": `${undo} ${user.username}`,
        onclick: async () => {
          try {
            await write("DELETE", `/v1/users/${user.user_id}/${verb}`);
            item.remove();
            if (!list.children.length) fill(list, nothing());
            toast(`${done} ${user.username}`);
          } catch (error) {
            toast(error.message, "error");
          }
        },
      }, undo));
    return item;
  };
  read(`/v1/me/${path}`, { limit: 100 })
    .then((page) => fill(list, page.items.length ? page.items.map(row) : nothing()))
    .catch((error) => fill(list, h("li.person.error", { role: "alert" }, error.message)));
  return h(`section.relations.${path}`, {}, h("h2", {}, title), list);
}

/** Both lists, for the settings page. */
export function relationsSection() {
  return h("div.relations-lists", {}, LISTS.map(relationList));
}
