// Sign in as a development user: POST ingest /v1/dev/session (dev stacks only).

import { devSignIn, getConfig, knownUsernames } from "../api.js";
import { h } from "../dom.js";

export function signinPage(done, params = new URLSearchParams()) {
  const error = h("p.error", { role: "alert" });
  const input = h("input#username", {
    name: "username", autocomplete: "username", required: true, maxlength: "30",
    pattern: "[A-Za-z0-9._]{1,30}", placeholder: "e.g. alice", autocapitalize: "none", spellcheck: "false",
  });
  input.value = params.get("user") || "";
  const submit = h("button.primary", { type: "submit" }, "Sign in");
  const go = async (name) => {
    error.textContent = "";
    submit.disabled = true;
    try {
      await devSignIn(name);
      done();
    } catch (e) {
      error.textContent = e.message;
    } finally {
      submit.disabled = false;
    }
  };
  const form = h("form.signin", {
    onsubmit: (event) => { event.preventDefault(); go(input.value.trim()); },
  },
  h("h1.brand-big", {}, "photostream"),
  h("p.muted", {}, "Pick a username. A new one creates a development account."),
  h("label", { for: "username" }, "Username"), input, submit, error);
  if (getConfig().env !== "dev") {
    form.replaceChildren(h("h1.brand-big", {}, "photostream"),
      h("p.error", { role: "alert" }, "Development sign-in is only available when PHOTOSTREAM_ENV=dev."));
  }
  const known = knownUsernames();
  const recent = known.length
    ? h("section.recent", { "aria-label": "Recent accounts" }, h("h2", {}, "Recent accounts"),
      h("ul.chips", {}, known.map((name) => h("li", {}, h("button.chip", { type: "button", onclick: () => go(name) }, name)))))
    : null;
  return h("div.signin-page", {}, form, recent);
}
