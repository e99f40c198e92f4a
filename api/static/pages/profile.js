// Profile: header with counts and the follow / requested / following button, the grid
// (hidden for a private account until the caller's request is approved), own-profile edit,
// and on someone else's profile Mute / Block (and Unmute / Unblock).

import { read, write } from "../api.js";
import { fill, h, toast } from "../dom.js";
import { avatar, gridTile, infinite } from "../components.js";

const LABELS = { none: "Follow", requested: "Requested", following: "Following" };

export async function profilePage(username) {
  let profile = await read(`/v1/users/by-username/${encodeURIComponent(username)}`);
  const page = h("div.profile-page");
  let scroller = null;
  let poll = null;

  const render = () => {
    scroller?.stop();
    const grid = h("section.grid", { "aria-label": "Photos" });
    const body = profile.can_view
      ? (scroller = infinite(grid, (cursor) => read(`/v1/users/${profile.user_id}/photos`, { limit: 18, cursor }), gridTile,
        { empty: "No photos yet." }), [grid, scroller.nodes])
      : hiddenNote();
    fill(page, header(), body);
  };

  const hiddenNote = () => {
    if (profile.blocking) {
      return h("div.private-note.blocked-note", { role: "note" }, h("h2", {}, "You blocked this account"),
        h("p.muted", {}, "Neither of you sees the other's photos, comments or stories. Unblock to see them again."));
    }
    if (!profile.private) {
      return h("div.private-note", { role: "note" }, h("h2", {}, "These photos are not available"));
    }
    return h("div.private-note", { role: "note" }, h("h2", {}, "This account is private"),
      h("p.muted", {}, profile.follow_state === "requested"
        ? "Your request is waiting for approval." : "Follow this account to see their photos."));
  };

  // Mute and block: optimistic like the follow button, undone if ingest refuses.
  const toggle = (key, path, labels, apply) => h(`button.${key === "blocking" ? "danger" : "secondary"}.${key}`, {
    type: "button", "aria-pressed": String(profile[key]),
    onclick: async () => {
      const before = profile;
      const on = !profile[key];
      profile = apply({ ...profile, [key]: on }, on);
      render();
      try {
        await write(on ? "POST" : "DELETE", `/v1/users/${profile.user_id}/${path}`);
        toast(`${on ? labels[2] : labels[3]} ${profile.username}`);
      } catch (error) {
        profile = before;
        render();
        toast(error.message, "error");
      }
    },
  }, profile[key] ? labels[1] : labels[0]);

  const relationButtons = () => profile.follow_state === "self" ? null : [
    toggle("muting", "mute", ["Mute", "Unmute", "Muted", "Unmuted"], (p) => p),
    // A block removes the follows both ways; unblocking shows the posts again (public).
    toggle("blocking", "block", ["Block", "Unblock", "Blocked", "Unblocked"], (p, on) => on
      ? { ...p, follow_state: "none", can_view: false }
      : { ...p, can_view: !p.private }),
  ];

  const followButton = () => {
    if (profile.follow_state === "self") {
      return h("button.secondary", { type: "button", onclick: () => page.prepend(editForm()) }, "Edit profile");
    }
    if (profile.blocking) return null;
    const state = profile.follow_state;
    return h(`button.${state === "none" ? "primary" : "secondary"}.follow`, {
      type: "button", "aria-pressed": String(state !== "none"), dataset: { state },
      onclick: async () => {
        const before = profile.follow_state;
        const after = before === "none" ? (profile.private ? "requested" : "following") : "none";
        profile = { ...profile, follow_state: after, can_view: after === "following" || !profile.private };
        render();
        try {
          await write(after === "none" ? "DELETE" : "POST", `/v1/users/${profile.user_id}/follow`);
          if (after === "requested") watchApproval();
        } catch (error) {
          profile = { ...profile, follow_state: before };
          render();
          toast(error.message, "error");
        }
      },
    }, LABELS[state]);
  };

  const header = () => h("header.profile-head", {},
    avatar(profile, "huge"),
    h("div.profile-info", {},
      h("div.profile-title", {}, h("h1", {}, profile.username), profile.private ? h("span.badge", {}, "Private") : null, followButton(), relationButtons()),
      h("ul.counts", {},
        [["photos", "posts"], ["followers", "followers"], ["following", "following"]].map(([key, label]) =>
          h("li", {}, h("strong", {}, String(profile.counts[key])), ` ${label}`))),
      h("p.display-name", {}, profile.display_name),
      profile.bio ? h("p.bio", {}, profile.bio) : null));

  const editForm = () => {
    const name = h("input#edit-name", { value: profile.display_name, maxlength: "64" });
    const bio = h("textarea#edit-bio", { maxlength: "150", rows: "2" }, profile.bio);
    const priv = h("input#edit-private", { type: "checkbox", checked: profile.private });
    const error = h("p.error", { role: "alert" });
    const form = h("form.edit-profile", {
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          await write("PATCH", "/v1/me", { display_name: name.value, bio: bio.value, private: priv.checked });
          profile = { ...profile, display_name: name.value.trim(), bio: bio.value.trim(), private: priv.checked };
          toast("Profile saved");
          render();
        } catch (e) {
          error.textContent = e.message;
        }
      },
    },
    h("label", { for: "edit-name" }, "Display name"), name,
    h("label", { for: "edit-bio" }, "Bio"), bio,
    h("label.check", { for: "edit-private" }, priv, " Private account (new followers need your approval)"),
    h("div.row", {}, h("button.primary", { type: "submit" }, "Save"),
      h("button.secondary", { type: "button", onclick: () => form.remove() }, "Cancel")), error);
    return form;
  };

  // While a request waits, re-read the profile: the grid appears once it is approved.
  const watchApproval = () => {
    clearInterval(poll);
    poll = setInterval(async () => {
      if (!page.isConnected) return clearInterval(poll);
      try {
        const fresh = await read(`/v1/users/${profile.user_id}`);
        if (fresh.follow_state !== "requested") {
          clearInterval(poll);
          profile = fresh;
          render();
        }
      } catch {
        clearInterval(poll);
      }
    }, 1500);
  };

  render();
  if (profile.follow_state === "requested") watchApproval();
  page.cleanup = () => { scroller?.stop(); clearInterval(poll); };
  return page;
}
