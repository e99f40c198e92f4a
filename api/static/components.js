// Pieces shared by the pages: avatars, captions with #hashtags, images with placeholders,
// feed cards, grid tiles, the like button, and the watcher that turns "processing" ready;
// for posts as people make them: albums (count, marker, carousel), alt text on demand and
// the content-warning gate.

import { ApiError, read, write } from "./api.js";
import { canvasFor } from "./blurhash.js";
import { ago, fill, h, icon, toast } from "./dom.js";

// #hashtags and @mentions (usernames: a-z 0-9 . _, as the processor parses them).
const LINKED = /#([\p{L}\p{N}_]+)|(?<![\w@.])@([A-Za-z0-9._]{0,29}[A-Za-z0-9_])/gu;

export function avatar(user, size = "") {
  // A profile document carries its rendered avatar (400 px, and 120 px for small sizes).
  const url = size === "huge" ? user.avatar_url : user.avatar_small_url;
  if (url) return h(`img.avatar${size ? "." + size : ""}`, { src: url, alt: "" });
  const hue = Number(BigInt(user.user_id || "0") % 360n);
  const letter = (user.display_name || user.username || "?").trim().charAt(0).toUpperCase();
  return h(`span.avatar${size ? "." + size : ""}`, { "aria-hidden": "true", style: { "--hue": hue } }, letter);
}

export const profileHref = (user) => `#/u/${encodeURIComponent(user.username)}`;
export const photoHref = (card) => `#/p/${card.photo_id}`;
export const searchHref = (q) => `#/search?q=${encodeURIComponent(q)}`;

export function userLink(user) {
  return h("a.user-link", { href: profileHref(user) }, avatar(user), h("span.username", {}, user.username));
}

/** Caption or comment text with each #hashtag a link to its search, each @mention to
 * the profile. */
export function captionNodes(text) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(LINKED)) {
    if (match.index > last) nodes.push(text.slice(last, match.index));
    nodes.push(match[1] !== undefined
      ? h("a.hashtag", { href: searchHref(`#${match[1]}`) }, match[0])
      : h("a.mention", { href: `#/u/${encodeURIComponent(match[2].toLowerCase())}` }, match[0]));
    last = match.index + match[0].length;
  }
  if (last < text.length) nodes.push(text.slice(last));
  return nodes;
}

/** The image's alt: the author's alt text, else the caption or title, else who posted it. */
export const altText = (card) =>
  card.alt_text?.trim() || card.caption?.trim() || card.title?.trim() || `Photo by ${card.author?.username || "someone"}`;

/** Posts revealed by this viewer in this tab: a revealed warning stays revealed. */
const revealed = new Set();

/**
 * The content-warning gate: while ``card`` is sensitive and not revealed, only its
 * BlurHash placeholder and the warning show, with a button that reveals it (a real
 * button: Enter and Space work). ``render()`` builds what is behind the gate.
 */
export function gated(card, render, { square = false } = {}) {
  if (!card.sensitive || revealed.has(card.photo_id)) return render();
  const holder = h("div.media-wrap");
  const warning = card.content_warning?.trim() || "Sensitive content";
  const button = h("button", { type: "button", "aria-label": "Show sensitive content",
    onclick: () => {
      revealed.add(card.photo_id);
      const shown = render();
      holder.replaceWith(shown);
      shown.querySelector("a, button, [tabindex]")?.focus();
    } }, "Show");
  holder.append(media({ ...card, status: "placeholder" }, { square }),
    square ? null : h("div.cw", {}, h("p", {}, warning), button));
  return holder;
}

/** An "ALT" button that shows the alt text under the image on demand. */
export function altToggle(text, after) {
  if (!text?.trim()) return null;
  const note = h("p.alt-text", { hidden: true }, text);
  const button = h("button.alt-toggle", { type: "button", "aria-expanded": "false", "aria-label": "Show alt text",
    onclick: () => {
      const open = note.hidden;
      note.hidden = !open;
      button.setAttribute("aria-expanded", String(open));
      button.setAttribute("aria-label", open ? "Hide alt text" : "Show alt text");
    } }, "ALT");
  after.append(note);
  return button;
}

/** srcset over the rendered derivatives (thumb is a square crop, so it is left out);
 * ``field: "avif"`` lists their AVIF twins instead (only the sizes that have one). */
function srcset(images, field = "url") {
  return ["small", "medium", "large"]
    .filter((name) => images[name]?.[field])
    .map((name) => `${images[name][field]} ${images[name].width}w`)
    .join(", ");
}

/** On a slow or data-saving connection, the small rendition of a video. */
function slowConnection() {
  const connection = navigator.connection;
  return Boolean(connection && (connection.saveData || /(^|-)(2g|3g)$/.test(connection.effectiveType || "")));
}

/** Play a muted feed video only while it is (mostly) on screen: a feed of videos would
 * otherwise decode every one of them at once. */
const onScreen = typeof IntersectionObserver === "function" ? new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (entry.isIntersecting) entry.target.play().catch(() => {});
    else entry.target.pause();
  }
}, { threshold: 0.5 }) : null;

/**
 * A video (or an animated GIF's MP4) over its poster: muted, looping autoplay in the feed,
 * controls on the photo page (a GIF loops there too, without controls, as a GIF would).
 */
function videoElement(card, { player }) {
  const video = card.video;
  const rendition = slowConnection() && video.small ? video.small : video;
  const images = card.images || {};
  const controls = player && !video.loop;
  const el = h("video", {
    src: rendition.url,
    poster: (images.large || images.medium || images.small)?.url,
    width: card.width, height: card.height,
    preload: "metadata",
    playsInline: true,
    muted: !controls,
    loop: !controls,
    controls,
    "aria-label": altText(card),
  });
  el.muted = !controls; // the property, not only the attribute, decides autoplay
  if (!controls) {
    el.autoplay = true;
    if (onScreen) onScreen.observe(el);
  }
  el.addEventListener("loadeddata", () => el.parentElement?.classList.add("loaded"));
  return el;
}

/**
 * The image of a card at its own aspect ratio: colour, then the BlurHash, then the
 * image fading in when loaded. ``square`` crops to the thumb (grids); a video plays in
 * place of the image except in grids (``player``: with controls, the photo page).
 */
export function media(card, { sizes = "(max-width: 640px) 100vw, 600px", square = false, alt, player = false } = {}) {
  const box = h(`div.media${square ? ".square" : ""}`, {
    style: {
      aspectRatio: square ? "1" : `${card.width || 4} / ${card.height || 3}`,
      backgroundColor: card.placeholder?.color || "#ddd",
    },
  });
  if (card.placeholder?.blurhash) {
    const canvas = canvasFor(card.placeholder.blurhash);
    if (canvas) box.append(Object.assign(canvas, { className: "blur", ariaHidden: "true" }));
  }
  if (card.status === "placeholder") return box;  // behind a content warning
  if (card.status !== "ready") {
    const label = card.status === "failed" ? `Failed: ${card.failure_reason || "could not process"}` : "Processing…";
    box.append(h(`div.status.${card.status}`, { role: "status" }, label));
    return box;
  }
  if (card.video && !square) {
    box.classList.add("video");
    box.append(videoElement(card, { player }));
    return box;
  }
  const images = card.images || {};
  const img = h("img", {
    alt: alt ?? altText(card),
    loading: "lazy",
    decoding: "async",
    src: (square ? images.thumb || images.small : images.medium || images.small || images.large)?.url,
    srcset: square ? undefined : srcset(images),
    sizes: square ? undefined : sizes,
    width: square ? undefined : card.width,
    height: square ? undefined : card.height,
  });
  img.addEventListener("load", () => box.classList.add("loaded"));
  const avif = square ? "" : srcset(images, "avif");
  // AVIF (about half the bytes) to browsers that decode it, the JPEG to the others.
  box.append(avif ? h("picture", {}, h("source", { type: "image/avif", srcset: avif, sizes }), img) : img);
  return box;
}

/** Like button with an optimistic count; reverts and explains if ingest refuses. */
export function likeButton(card, onChange = () => {}) {
  const count = h("span.count");
  const button = h("button.action.like", { type: "button" });
  const render = () => {
    button.replaceChildren(icon("heart", { filled: card.liked_by_me }), h("span.sr-only", {}, card.liked_by_me ? "Unlike" : "Like"));
    button.setAttribute("aria-pressed", String(card.liked_by_me));
    count.textContent = `${card.like_count} ${card.like_count === 1 ? "like" : "likes"}`;
    onChange(card);
  };
  button.addEventListener("click", async () => {
    const liked = !card.liked_by_me;
    card.liked_by_me = liked;
    card.like_count = Math.max(0, card.like_count + (liked ? 1 : -1));
    render();
    try {
      await write(liked ? "POST" : "DELETE", `/v1/photos/${card.photo_id}/likes`);
    } catch (error) {
      card.liked_by_me = !liked;
      card.like_count = Math.max(0, card.like_count + (liked ? -1 : 1));
      render();
      toast(error.message, "error");
    }
  });
  render();
  return { button, count };
}

/** A feed card: author, image, actions, caption. */
export function photoCard(card) {
  const el = h("article.card", { dataset: { photoId: card.photo_id }, "aria-label": `Post by ${card.author.username}` });
  const draw = () => {
    const { button, count } = likeButton(card);
    const notes = h("div.notes");
    const album = card.item_count > 1
      ? h("span.album-count", {}, h("span", { "aria-hidden": "true" }, `1/${card.item_count}`),
        h("span.sr-only", {}, `Album: photo 1 of ${card.item_count}`))
      : null;
    const shown = () => h("div.media-wrap", {},
      h("a.media-link", { href: photoHref(card), "aria-label": card.item_count > 1 ? `Open album of ${card.item_count} photos` : "Open photo" }, media(card)),
      album, card.status === "ready" ? altToggle(card.alt_text, notes) : null);
    fill(el, 
      h("header.card-head", {}, userLink(card.author), h("a.when", { href: photoHref(card) }, h("time", { datetime: card.created_at }, ago(card.created_at)))),
      gated(card, shown), notes,
      h("div.actions", {}, button,
        h("a.action.comments", { href: photoHref(card) }, icon("comment"), h("span.sr-only", {}, "Comments"),
          h("span.comment-count", {}, String(card.comment_count)))),
      h("p.likes", {}, count),
      card.caption ? h("p.caption", {}, h("a.username", { href: profileHref(card.author) }, card.author.username), " ", captionNodes(card.caption)) : null,
      card.comment_count ? h("a.more", { href: photoHref(card) }, `View ${card.comment_count === 1 ? "1 comment" : `all ${card.comment_count} comments`}`) : null,
    );
  };
  draw();
  if (card.status === "processing") {
    watchProcessing(card.photo_id, (next) => { Object.assign(card, next); draw(); }, { alive: () => el.isConnected });
  }
  return el;
}

/** A square tile of a photo grid, linking to the photo page; an album is one tile with
 * a marker, a sensitive post its placeholder only. */
export function gridTile(card) {
  const album = card.item_count > 1;
  const by = card.author?.username || "someone";
  const label = card.sensitive
    ? `Sensitive post by ${by}: ${card.content_warning || "content warning"}`
    : album ? `Album of ${card.item_count} photos by ${by}` : undefined;
  // The label is text inside the link, not an aria-label: the link's name must contain
  // its visible text (axe label-content-name-mismatch); the image is then decorative.
  return h("a.tile", { href: photoHref(card), dataset: { photoId: card.photo_id } },
    card.sensitive ? media({ ...card, status: "placeholder" }, { square: true })
      : media(card, { square: true, alt: label ? "" : undefined }),
    label ? h("span.sr-only", {}, label) : null,
    album ? h("span.album-marker", { "aria-hidden": "true" }, icon("album")) : null,
    h("span.tile-stats", { "aria-hidden": "true" }, `♥ ${card.like_count}  💬 ${card.comment_count}`));
}

/**
 * An album's items, one at a time: Previous / Next buttons, the arrow keys (and Home /
 * End) on the focused carousel, and a horizontal swipe with a finger or a mouse.
 * Each slide's image carries its own alt text, with the ALT button to read it.
 */
export function carousel(card, { sizes = "(max-width: 1080px) 100vw, 1080px" } = {}) {
  const items = card.items;
  const total = items.length;
  let index = 0;
  const notes = h("div.notes");
  const slides = items.map((item, i) => {
    const alt = item.alt_text?.trim() || `Photo ${i + 1} of ${total} by ${card.author.username}`;
    return h("div.slide", { role: "group", "aria-roledescription": "slide", "aria-label": `${i + 1} of ${total}`,
      dataset: { mediaId: item.media_id }, hidden: i !== 0 },
    media({ ...item, status: "ready", alt_text: alt }, { sizes }), altToggle(item.alt_text, notes));
  });
  const position = h("p.carousel-position", { "aria-live": "polite" });
  const dots = h("ol.carousel-dots", { "aria-hidden": "true" }, items.map(() => h("li")));
  const step = (by) => () => show(index + by);
  const prev = h("button.carousel-nav.prev", { type: "button", "aria-label": "Previous photo", onclick: step(-1) }, "‹");
  const next = h("button.carousel-nav.next", { type: "button", "aria-label": "Next photo", onclick: step(1) }, "›");
  const show = (wanted) => {
    index = Math.max(0, Math.min(total - 1, wanted));
    slides.forEach((slide, i) => { slide.hidden = i !== index; });
    [...dots.children].forEach((dot, i) => dot.toggleAttribute("aria-current", i === index));
    // aria-disabled, not disabled: a focused button that disabled itself would drop the
    // keyboard focus out of the carousel at its last photo.
    prev.setAttribute("aria-disabled", String(index === 0));
    next.setAttribute("aria-disabled", String(index === total - 1));
    position.textContent = `${index + 1} of ${total}`;
    for (const note of notes.children) note.hidden = true;
  };
  const strip = h("div.slides", {}, slides);
  let startX = null;
  // No native image drag (it would swallow the pointerup), and the pointer is captured so
  // a swipe that ends outside the strip still counts.
  for (const img of strip.querySelectorAll("img")) img.draggable = false;
  strip.addEventListener("pointerdown", (event) => {
    startX = event.clientX;
    strip.setPointerCapture?.(event.pointerId);
  });
  strip.addEventListener("pointerup", (event) => {
    if (startX === null) return;
    const moved = event.clientX - startX;
    startX = null;
    if (Math.abs(moved) > 40) show(index + (moved < 0 ? 1 : -1));
  });
  strip.addEventListener("pointercancel", () => { startX = null; });
  const region = h("section.carousel", { "aria-roledescription": "carousel", "aria-label": `Album, ${total} photos`, tabindex: "0",
    onkeydown: (event) => {
      const keys = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: total - 1 };
      if (!(event.key in keys)) return;
      event.preventDefault();
      show(keys[event.key]);
    } }, strip, prev, next, position, dots);
  show(0);
  return h("div.album", {}, region, notes);
}

/** Poll GET /v1/photos/{id} until the media processor is done; ``onSettled(card)`` then. */
export function watchProcessing(photoId, onSettled, { interval = 1000, limit = 180, alive = () => true } = {}) {
  let tries = 0;
  const tick = async () => {
    tries += 1;
    try {
      const card = await read(`/v1/photos/${photoId}`);
      if (card.status !== "processing") return onSettled(card);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 404) return;
    }
    if (tries < limit && alive()) setTimeout(tick, interval);
  };
  setTimeout(tick, interval);
}

/**
 * Infinite scroll by cursor: ``load(cursor)`` returns a Page; items go through ``render``
 * into ``list`` (an item already shown is never shown twice).
 */
export function infinite(list, load, render, { empty = "Nothing here yet." } = {}) {
  const seen = new Set();
  const sentinel = h("div.sentinel", { "aria-hidden": "true" });
  const status = h("p.loading", { role: "status" });
  let cursor = null, done = false, busy = false;
  const more = async () => {
    if (busy || done) return;
    busy = true;
    status.textContent = "Loading…";
    try {
      const page = await load(cursor);
      for (const item of page.items) {
        const key = item.photo_id || item.user_id || item.comment_id || item.id;
        if (seen.has(key)) continue;
        seen.add(key);
        list.append(render(item));
      }
      cursor = page.next_cursor;
      done = !cursor;
      status.textContent = done ? (seen.size ? "" : empty) : "";
    } catch (error) {
      status.textContent = error.message;
      done = true;
    } finally {
      busy = false;
    }
    if (!done && sentinel.getBoundingClientRect().top < window.innerHeight + 400) more();
  };
  const observer = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && more(), { rootMargin: "400px" });
  observer.observe(sentinel);
  more();
  return { nodes: [sentinel, status], stop: () => observer.disconnect() };
}
