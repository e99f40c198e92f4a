// Photo page: the large image, caption with #hashtags, likes, comments and a comment box.

import { read, session, write } from "../api.js";
import { ago, fill, h, toast } from "../dom.js";
import { altToggle, captionNodes, carousel, gated, infinite, likeButton, media, profileHref, userLink, watchProcessing } from "../components.js";

const SIZES = "(max-width: 1080px) 100vw, 1080px";

/** The post's media: a carousel for an album, else the one image; both behind the
 * content-warning gate when the post is sensitive. */
function postMedia(card) {
  if (card.items?.length > 1) return gated(card, () => carousel(card, { sizes: SIZES }));
  return gated(card, () => {
    const notes = h("div.notes");
    return h("div.media-wrap", {}, media(card, { sizes: SIZES, player: true }),
      card.status === "ready" ? altToggle(card.alt_text, notes) : null, notes);
  });
}

function commentItem(comment, pending = false) {
  return h(`li.comment${pending ? ".pending" : ""}`, { dataset: { commentId: comment.comment_id || "" } },
    h("a.username", { href: profileHref(comment.user) }, comment.user.username), " ", captionNodes(comment.text),
    h("time.muted", { datetime: comment.created_at }, " · ", comment.created_at ? ago(comment.created_at) : "now"));
}

/** The owner's alt-text editor: one labelled field per photo, saved as an event each. */
function altEditor(card) {
  const items = card.items?.length ? card.items : [{ media_id: card.photo_id, alt_text: card.alt_text }];
  const rows = items.map((item, i) => {
    const id = `alt-${item.media_id}`;
    const field = h(`textarea#${id}`, { rows: "2", maxlength: "1500" });
    field.value = item.alt_text || "";
    const save = h("button.secondary.small", { type: "button", onclick: async () => {
      try {
        await write("PATCH", `/v1/media/${item.media_id}`, { alt_text: field.value });
        toast("Alt text saved");
      } catch (error) {
        toast(error.message, "error");
      }
    } }, "Save");
    const label = items.length > 1 ? `Alt text of photo ${i + 1}` : "Alt text";
    return h("div.alt-edit", {}, h("label", { for: id }, label), field, save);
  });
  return h("details.alt-editor", {}, h("summary", {}, "Edit alt text"), rows);
}

export async function photoPage(photoId) {
  const card = await read(`/v1/photos/${photoId}`);
  const me = session().user;
  const comments = h("ul.comments", { "aria-label": "Comments" });
  const likers = h("p.likers.muted");
  const { button, count } = likeButton(card);
  const mediaBox = h("div.photo-media", {}, postMedia(card));
  if (card.status === "processing") {
    watchProcessing(card.photo_id, (next) => mediaBox.replaceChildren(postMedia(next)), { alive: () => mediaBox.isConnected });
  }
  const input = h("input#comment-text", { name: "text", placeholder: "Add a comment…", maxlength: "2200", required: true, autocomplete: "off" });
  const form = h("form.comment-form", {
    onsubmit: async (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      const item = commentItem({ user: { ...me, display_name: me.username }, text, created_at: null }, true);
      comments.prepend(item);
      input.value = "";
      try {
        const { comment_id } = await write("POST", `/v1/photos/${card.photo_id}/comments`, { text });
        item.dataset.commentId = comment_id;
        item.classList.remove("pending");
      } catch (error) {
        item.remove();
        input.value = text;
        toast(error.message, "error");
      }
    },
  }, h("label.sr-only", { for: "comment-text" }, "Add a comment"), input, h("button.link-button", { type: "submit" }, "Post"));
  const owner = card.author.user_id === me.user_id;
  const remove = owner ? h("button.danger.small", {
    type: "button",
    onclick: async () => {
      if (!confirm("Delete this photo?")) return;
      try {
        await write("DELETE", `/v1/photos/${card.photo_id}`);
        toast("Photo deleted");
        location.hash = profileHref(card.author);
      } catch (error) {
        toast(error.message, "error");
      }
    },
  }, "Delete") : null;
  const scroller = infinite(comments, (cursor) => read(`/v1/photos/${card.photo_id}/comments`, { limit: 20, cursor }),
    (c) => commentItem(c), { empty: "No comments yet." });
  // The owner of an album learns which items did not make it, and why.
  const missing = h("p.muted.album-failures", { role: "note", hidden: true });
  if (owner && card.items) {
    read(`/v1/posts/${card.photo_id}`).then((state) => {
      const failed = state.items.filter((item) => item.status === "failed");
      if (!failed.length) return;
      fill(missing, `${failed.length} of ${state.items.length} photos could not be posted: `,
        failed.map((item, i) => `${i ? "; " : ""}${item.reason || "failed"}`));
      missing.hidden = false;
    }).catch(() => {});
  }
  read(`/v1/photos/${card.photo_id}/likes`, { limit: 10 }).then((page) => {
    if (page.items.length) fill(likers, "Liked by ", page.items.map((u, i) => [i ? ", " : "", h("a", { href: profileHref(u) }, u.username)]));
  }).catch(() => {});
  const page = h("article.photo-page", { dataset: { photoId: card.photo_id } },
    mediaBox,
    h("div.photo-side", {},
      h("header.card-head", {}, userLink(card.author), remove),
      card.title ? h("h1.photo-title", {}, card.title)
        : h("h1.sr-only", {}, `${card.item_count > 1 ? "Album" : "Photo"} by ${card.author.username}`),
      card.caption ? h("p.caption", {}, captionNodes(card.caption)) : null,
      card.location ? h("p.muted", {}, card.location) : null, missing,
      owner && card.status === "ready" ? altEditor(card) : null,
      h("p.muted", {}, h("time", { datetime: card.created_at }, new Date(card.created_at).toLocaleString())),
      h("div.actions", {}, button), h("p.likes", {}, count), likers,
      form, comments, scroller.nodes));
  page.cleanup = scroller.stop;
  return page;
}
