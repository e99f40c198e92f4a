// The stories tray above the feed, the viewer a tap opens, and posting a story.

import { read, upload } from "./api.js";
import { h, icon, toast } from "./dom.js";
import { avatar } from "./components.js";

const STORY_MS = 5000;

export function storiesTray() {
  const list = h("ul.tray-list");
  const tray = h("section.tray", { "aria-label": "Stories" }, list);
  const picker = h("input.visually-hidden", { type: "file", accept: "image/*", id: "story-file", "aria-label": "Story image" });
  picker.addEventListener("change", async () => {
    const file = picker.files[0];
    if (!file) return;
    try {
      await upload("/v1/stories", file, {}, null);
      toast("Story posted");
      setTimeout(fill, 1200);
    } catch (error) {
      toast(error.message, "error");
    }
    picker.value = "";
  });
  const add = h("li", {}, h("button.story-ring.add", { type: "button", onclick: () => picker.click() },
    h("span.avatar.big.add-avatar", { "aria-hidden": "true" }, icon("plus")), h("span.story-name", {}, "Your story")));
  async function fill() {
    let reels = [];
    try {
      reels = (await read("/v1/stories")).tray;
    } catch {
      reels = [];
    }
    list.replaceChildren(add, ...reels.map((reel, index) => h("li", {},
      h("button.story-ring", { type: "button", onclick: () => openViewer(reels, index), "aria-label": `Open ${reel.user.username}'s story` },
        avatar(reel.user, "big"), h("span.story-name", {}, reel.user.username)))));
  }
  fill();
  tray.append(picker);
  return tray;
}

/** Full-screen viewer: each story for a few seconds, tap for the next, Escape closes. */
export function openViewer(reels, reelIndex) {
  const items = reels.flatMap((reel) => reel.stories.map((story) => ({ reel, story })));
  let at = items.findIndex((item) => item.reel === reels[reelIndex]);
  let timer;
  const img = h("img.story-image", { alt: "" });
  const who = h("p.story-who");
  const bar = h("div.story-bar", {}, h("span"));
  const close = () => { clearTimeout(timer); overlay.remove(); document.removeEventListener("keydown", onKey); };
  const show = () => {
    if (at >= items.length) return close();
    const { reel, story } = items[at];
    img.src = story.media_url;
    img.alt = `Story by ${reel.user.username}`;
    who.replaceChildren(avatar(reel.user), " ", reel.user.username);
    bar.firstChild.style.animation = "none";
    void bar.offsetWidth;
    bar.firstChild.style.animation = `story ${STORY_MS}ms linear forwards`;
    clearTimeout(timer);
    timer = setTimeout(next, STORY_MS);
  };
  const next = () => { at += 1; show(); };
  const onKey = (event) => { if (event.key === "Escape") close(); if (event.key === "ArrowRight") next(); };
  const overlay = h("div.story-viewer", { role: "dialog", "aria-modal": "true", "aria-label": "Story" },
    bar, who, h("button.story-next", { type: "button", onclick: next, "aria-label": "Next story" }, img),
    h("button.story-close", { type: "button", onclick: close, "aria-label": "Close story" }, icon("close")));
  document.addEventListener("keydown", onKey);
  document.body.append(overlay);
  overlay.querySelector(".story-close").focus();
  show();
}
