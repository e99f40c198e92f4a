// Upload: drag-and-drop or pick, caption, a progress bar for the bytes, then the photo
// shown as "processing" until the media processor has rendered it.

import { upload } from "../api.js";
import { h } from "../dom.js";
import { photoCard } from "../components.js";

export function uploadPage() {
  let file = null;
  const preview = h("div.preview");
  const picker = h("input#file.visually-hidden", { type: "file", accept: "image/*,video/mp4,video/quicktime", name: "file" });
  const choose = (chosen) => {
    file = chosen;
    submit.disabled = !file;
    preview.replaceChildren();
    if (!file) return;
    if (file.type.startsWith("image/")) {
      const img = h("img", { alt: "Preview of the chosen file", src: URL.createObjectURL(file) });
      img.addEventListener("error", () => img.remove());
      preview.append(img);
    }
    preview.append(h("p.muted", {}, `${file.name} · ${(file.size / 1024 / 1024).toFixed(2)} MB`));
  };
  picker.addEventListener("change", () => choose(picker.files[0] || null));
  const drop = h("div.dropzone", {},
    h("p", {}, "Drag a photo here, or"),
    h("label.button.secondary", { for: "file" }, "Choose a file"), picker, preview);
  for (const name of ["dragenter", "dragover"]) drop.addEventListener(name, (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files[0]) choose(e.dataTransfer.files[0]);
  });
  const caption = h("textarea#caption", { name: "caption", rows: "3", maxlength: "2200", placeholder: "Write a caption… #hashtags welcome" });
  const alt = h("textarea#alt-text", { name: "alt_text", rows: "2", maxlength: "1500", placeholder: "Describe the photo for people who cannot see it" });
  const warning = h("input#content-warning", { name: "content_warning", maxlength: "500", placeholder: "Content warning (shown before the photo)" });
  const sensitive = h("input#sensitive", { type: "checkbox", name: "sensitive" });
  const progress = h("progress#upload-progress", { max: "1", value: "0", hidden: true, "aria-label": "Upload progress" });
  const percent = h("span.percent", { "aria-live": "polite" });
  const error = h("p.error", { role: "alert" });
  const result = h("div.upload-result");
  const submit = h("button.primary", { type: "submit", disabled: true }, "Share");
  const form = h("form.upload-form", {
    onsubmit: async (event) => {
      event.preventDefault();
      if (!file) return;
      error.textContent = "";
      submit.disabled = true;
      progress.hidden = false;
      progress.value = 0;
      try {
        const fields = { caption: caption.value, alt_text: alt.value, sensitive: String(sensitive.checked || !!warning.value.trim()),
          content_warning: warning.value };
        const answer = await upload("/v1/media", file, fields, (fraction) => {
          progress.value = fraction;
          percent.textContent = `${Math.round(fraction * 100)}%`;
        });
        progress.value = 1;
        percent.textContent = "Uploaded";
        const me = JSON.parse(localStorage.getItem("photostream.user"));
        result.replaceChildren(h("h2", {}, "Your photo"), photoCard({
          photo_id: answer.photo_id, author: { ...me, display_name: me.username }, status: "processing",
          caption: caption.value, title: "", created_at: new Date().toISOString(), width: 4, height: 3,
          placeholder: { color: "#ddd", blurhash: null }, images: {}, like_count: 0, comment_count: 0, liked_by_me: false,
        }));
        caption.value = alt.value = warning.value = "";
        sensitive.checked = false;
        choose(null);
      } catch (e) {
        error.textContent = e.message;
        progress.hidden = true;
        percent.textContent = "";
      } finally {
        submit.disabled = !file;
      }
    },
  },
  h("h1", {}, "New post"), drop,
  h("label", { for: "caption" }, "Caption"), caption,
  h("label", { for: "alt-text" }, "Alt text"), alt,
  h("label.check", { for: "sensitive" }, sensitive, "Sensitive: hide behind a warning"),
  h("label", { for: "content-warning" }, "Content warning"), warning,
  h("div.row", {}, submit, progress, percent), error);
  return h("section.upload-page", {}, form, result);
}
