// The only module that talks HTTP: the read API (same origin) and ingest (from /config.json).
// Errors are RFC 9457 problem+json on both services; they surface as ApiError so pages can
// show the server's own `detail` to the user.

const TOKEN_KEY = "photostream.token";
const USER_KEY = "photostream.user";

let config = { ingest_url: "", env: "dev", auth_mode: "password" };

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export async function loadConfig() {
  const response = await fetch("/config.json");
  if (!response.ok) throw new Error(`could not load /config.json (${response.status})`);
  config = await response.json();
  return config;
}

export const getConfig = () => config;

export function session() {
  const token = localStorage.getItem(TOKEN_KEY);
  const user = JSON.parse(localStorage.getItem(USER_KEY) || "null");
  return token && user ? { token, user } : null;
}

/** Forget the session in this browser only (the server may already have refused it). */
export function forgetSession() {
  localStorage.removeItem(TOKEN_KEY);
  localStorage.removeItem(USER_KEY);
}

/** Sign out: end this token's session on the server (at once, on every service), then forget it. */
export async function signOut() {
  if (session()) {
    try {
      await call(config.ingest_url, "DELETE", "/v1/sessions/current");
    } catch {
      // Already refused (expired, revoked) or unreachable: forgetting it is all we can do.
    }
  }
  forgetSession();
}

/** Keep a session the server handed out (sign-up, sign-in, password change, OIDC). */
export function remember(answer) {
  localStorage.setItem(TOKEN_KEY, answer.token);
  localStorage.setItem(USER_KEY, JSON.stringify({ user_id: answer.user_id, username: answer.username }));
  const known = JSON.parse(localStorage.getItem("photostream.known") || "[]");
  const names = [answer.username, ...known.filter((n) => n !== answer.username)].slice(0, 8);
  localStorage.setItem("photostream.known", JSON.stringify(names));
}

export const knownUsernames = () => JSON.parse(localStorage.getItem("photostream.known") || "[]");

async function problemOf(response) {
  try {
    return await response.json();
  } catch {
    return { status: response.status, title: response.statusText, detail: `HTTP ${response.status}` };
  }
}

let onUnauthorized = () => {};
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

async function call(base, method, path, { params, body, anonymous = false } = {}) {
  const url = new URL(base + path, location.origin);
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = {};
  const current = anonymous ? null : session();
  if (current) headers.Authorization = `Bearer ${current.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) {
    const problem = await problemOf(response);
    if (response.status === 401 && current) onUnauthorized(problem);
    throw new ApiError(response.status, problem);
  }
  return response.status === 204 ? null : response.json();
}

/** GET from the read API (same origin). */
export const read = (path, params) => call("", "GET", path, { params });

/** A POST/DELETE to the read API itself (the notifications read mark). */
export const readWrite = (method, path, body) => call("", method, path, { body });

/** A write to ingest (POST/PATCH/DELETE with an optional JSON body). */
export const write = (method, path, body) => call(config.ingest_url, method, path, { body });

export async function devSignIn(username) {
  const answer = await call(config.ingest_url, "POST", "/v1/dev/session", { body: { username }, anonymous: true });
  remember(answer);
  return answer;
}

/** Sign in with a username (or email) and password: POST ingest /v1/sessions. */
export async function passwordSignIn(username, password) {
  const answer = await call(config.ingest_url, "POST", "/v1/sessions", { body: { username, password }, anonymous: true });
  remember(answer);
  return answer;
}

/** Create an account: POST ingest /v1/accounts; the answer is its first session. */
export async function signUp(username, email, password) {
  const answer = await call(config.ingest_url, "POST", "/v1/accounts", { body: { username, email, password }, anonymous: true });
  remember(answer);
  return answer;
}

/** Change the password: every session ends, this browser keeps the new one it gets back. */
export async function changePassword(oldPassword, newPassword) {
  const answer = await call(config.ingest_url, "POST", "/v1/me/password",
    { body: { old_password: oldPassword, new_password: newPassword } });
  remember(answer);
  return answer;
}

/** Delete the account: DELETE ingest /v1/me; every session ends at once, so forget this one. */
export async function deleteAccount() {
  await call(config.ingest_url, "DELETE", "/v1/me");
  forgetSession();
}

/**
 * POST a multipart upload to ingest with XMLHttpRequest, which (unlike fetch) reports the
 * progress of the request body: onProgress(fraction) is called as the bytes leave.
 */
export function upload(path, file, fields, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [key, value] of Object.entries(fields || {})) form.append(key, value);
    form.append("file", file, file.name || "upload");
    const xhr = new XMLHttpRequest();
    xhr.open("POST", config.ingest_url + path);
    const current = session();
    if (current) xhr.setRequestHeader("Authorization", `Bearer ${current.token}`);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && onProgress) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      let body = {};
      try {
        body = JSON.parse(xhr.responseText || "{}");
      } catch {
        body = { detail: xhr.responseText || `HTTP ${xhr.status}` };
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body));
    });
    xhr.addEventListener("error", () =>
      reject(new ApiError(0, { detail: "the upload could not reach the server" })));
    xhr.send(form);
  });
}
