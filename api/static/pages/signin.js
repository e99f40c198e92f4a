// Accounts: sign in, sign up, change password; and the development sign-in (dev stacks only).
// With PHOTOSTREAM_AUTH_MODE=oidc, sign-in is a link to the identity provider instead, and
// the provider's callback lands on #/oidc with the new session in the fragment.

import { changePassword, deleteAccount, devSignIn, getConfig, knownUsernames, passwordSignIn, remember, session, signUp } from "../api.js";
import { h, toast } from "../dom.js";
import { relationsSection } from "./relations.js";

/** A form whose submit runs ``action`` with the submit button disabled, showing its error. */
function form(className, fields, label, action) {
  const error = h("p.error", { role: "alert" });
  const submit = h("button.primary", { type: "submit" }, label);
  const element = h(`form.${className}`, {
    onsubmit: async (event) => {
      event.preventDefault();
      error.textContent = "";
      submit.disabled = true;
      try {
        await action();
      } catch (e) {
        error.textContent = e.message;
      } finally {
        submit.disabled = false;
      }
    },
  }, ...fields, submit, error);
  return element;
}

function field(id, label, attrs) {
  const input = h(`input#${id}`, { name: id, required: true, autocapitalize: "none", spellcheck: "false", ...attrs });
  return [input, [h("label", { for: id }, label), input]];
}

const brand = () => h("h1.brand-big", {}, "photostream");

function passwordForm(done) {
  const [user, userField] = field("signin-username", "Username or email", { autocomplete: "username", maxlength: "254" });
  const [password, passwordField] = field("signin-password", "Password", { type: "password", autocomplete: "current-password", maxlength: "128" });
  return form("signin", [brand(), ...userField, ...passwordField], "Sign in", async () => {
    await passwordSignIn(user.value.trim(), password.value);
    done();
  });
}

function oidcSignIn() {
  return h("div.signin", {}, brand(),
    h("p.muted", {}, "Sign in with your organisation's account."),
    h("a.button.primary", { href: `${getConfig().ingest_url}/v1/oidc/login` }, "Continue to sign in"));
}

function devForm(done, params) {
  const [input, nameField] = field("dev-username", "Development username", {
    autocomplete: "off", maxlength: "30", pattern: "[A-Za-z0-9._]{1,30}", placeholder: "e.g. alice" });
  input.value = params.get("user") || "";
  const go = async (name) => { await devSignIn(name); done(); };
  const element = form("signin.dev", [
    h("h2", {}, "Development sign-in"),
    h("p.muted", {}, "Any username, no password (PHOTOSTREAM_ENV=dev only). A new one creates an account."),
    ...nameField], "Sign in without a password", () => go(input.value.trim()));
  const known = knownUsernames();
  const recent = known.length
    ? h("section.recent", { "aria-label": "Recent accounts" }, h("h2", {}, "Recent accounts"),
      h("ul.chips", {}, known.map((name) => h("li", {}, h("button.chip", { type: "button", onclick: () => go(name).catch((e) => toast(e.message, "error")) }, name)))))
    : null;
  return [element, recent];
}

export function signinPage(done, params = new URLSearchParams()) {
  const config = getConfig();
  const main = config.auth_mode === "oidc" ? oidcSignIn()
    : [passwordForm(done), h("p.alt", {}, "New here? ", h("a", { href: "#/signup" }, "Create an account"))];
  return h("div.signin-page", {}, main, config.env === "dev" ? devForm(done, params) : null);
}

export function signupPage(done) {
  if (getConfig().auth_mode === "oidc") return h("div.signin-page", {}, oidcSignIn());
  const [user, userField] = field("signup-username", "Username", { autocomplete: "username", maxlength: "30" });
  const [email, emailField] = field("signup-email", "Email", { type: "email", autocomplete: "email", maxlength: "254" });
  const [password, passwordField] = field("signup-password", "Password", { type: "password", autocomplete: "new-password", minlength: "10", maxlength: "128" });
  const element = form("signin", [brand(), h("p.muted", {}, "Create your account."),
    ...userField, h("p.hint", {}, "3-30 letters a-z, digits, '_' or '.'"),
    ...emailField, ...passwordField, h("p.hint", {}, "At least 10 characters; not a common password.")],
  "Create account", async () => {
    await signUp(user.value.trim(), email.value.trim(), password.value);
    done();
  });
  return h("div.signin-page", {}, element,
    h("p.alt", {}, "Have an account? ", h("a", { href: "#/signin" }, "Sign in")));
}

/**
 * Delete the account, once the person typed their username (a slip of the finger must not
 * erase everything they posted). The server ends every session at once.
 */
function deleteForm() {
  const username = session()?.user.username ?? "";
  const [typed, typedField] = field("delete-confirm", "Type your username to confirm", { autocomplete: "off", maxlength: "64" });
  return form("signin.danger", [h("h2", {}, "Delete account"),
    h("p.hint", {}, "Your photos, comments, likes and follows are removed. This cannot be undone."),
    ...typedField], "Delete my account", async () => {
    if (typed.value.trim().toLowerCase() !== username.toLowerCase()) {
      throw new Error("that is not your username");
    }
    await deleteAccount();
    location.hash = "#/signin";
    toast("Your account was deleted.");
  });
}

export function settingsPage() {
  if (getConfig().auth_mode === "oidc") {
    return h("section.settings", {}, h("h1", {}, "Settings"),
      h("p.muted", {}, "Your password is managed by your organisation's identity provider."),
      relationsSection(), deleteForm());
  }
  const [old, oldField] = field("old-password", "Current password", { type: "password", autocomplete: "current-password", maxlength: "128" });
  const [fresh, freshField] = field("new-password", "New password", { type: "password", autocomplete: "new-password", minlength: "10", maxlength: "128" });
  const element = form("signin", [h("h1", {}, "Change password"), ...oldField, ...freshField,
    h("p.hint", {}, "Every other session is signed out.")], "Change password", async () => {
    await changePassword(old.value, fresh.value);
    old.value = "";
    fresh.value = "";
    toast("Password changed. Other sessions were signed out.");
  });
  return h("div.signin-page", {}, element, relationsSection(), deleteForm());
}

/** The OIDC callback's landing: keep the session from the fragment, then open the feed. */
export function oidcReturnPage(params) {
  const token = params.get("token");
  if (token) {
    remember({ token, user_id: params.get("user_id"), username: params.get("username") });
    history.replaceState(null, "", location.pathname); // the token leaves the address bar
    location.hash = "#/";
    return h("p.loading", {}, "Signing in…");
  }
  return h("section.problem", { role: "alert" }, h("h1", {}, "Sign-in failed"),
    h("p", {}, params.get("error") || "The identity provider did not sign you in."),
    h("a.button.secondary", { href: "#/signin" }, "Try again"));
}
