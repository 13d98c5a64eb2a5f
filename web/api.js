// REST access with the signed-in user's tokens: the access token lives in memory, the
// refresh token in this tab's session storage; one refresh at a time (a refresh token used
// twice revokes the whole sign-in), and a failed refresh signs out.

const REFRESH_KEY = "urbanstream.refresh";
let access = null;
let refreshing = null;
const listeners = new Set();

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Called with `null` when the session ends. */
export function onSession(fn) {
  listeners.add(fn);
}

function ended() {
  access = null;
  sessionStorage.removeItem(REFRESH_KEY);
  for (const fn of listeners) fn(null);
}

function take(tokens) {
  access = tokens.access_token;
  sessionStorage.setItem(REFRESH_KEY, tokens.refresh_token);
}

export function accessToken() {
  return access;
}

export function hasSession() {
  return access !== null || sessionStorage.getItem(REFRESH_KEY) !== null;
}

async function errorOf(res) {
  let code = "error", message = `${res.status} ${res.statusText}`;
  try {
    const body = await res.json();
    code = body.error?.code ?? code;
    message = body.error?.message ?? message;
  } catch (_) { /* not JSON */ }
  return new ApiError(res.status, code, message);
}

export async function login(username, password) {
  const res = await fetch("/api/v1/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw await errorOf(res);
  take(await res.json());
}

/** A fresh access token from the refresh token; rejects (and signs out) when it fails. */
export function refresh() {
  if (refreshing) return refreshing;
  const token = sessionStorage.getItem(REFRESH_KEY);
  if (!token) {
    ended();
    return Promise.reject(new ApiError(401, "unauthenticated", "not signed in"));
  }
  refreshing = (async () => {
    try {
      const res = await fetch("/api/v1/auth/refresh", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ refresh_token: token }),
      });
      if (res.status === 401 || res.status === 400) {
        ended();
        throw await errorOf(res);
      }
      if (!res.ok) throw await errorOf(res);
      take(await res.json());
      return access;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

export async function logout() {
  if (access) {
    try {
      await fetch("/api/v1/auth/logout", { method: "POST", headers: { authorization: `Bearer ${access}` } });
    } catch (_) { /* signed out locally anyway */ }
  }
  ended();
}

/** A JSON request; retried once after a refresh when the access token has expired. */
export async function api(path, { method = "GET", body, raw = false } = {}) {
  if (!access) await refresh();
  for (let attempt = 0; ; attempt++) {
    const headers = { authorization: `Bearer ${access}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (res.status === 401 && attempt === 0) {
      await refresh();
      continue;
    }
    if (!res.ok) throw await errorOf(res);
    if (raw) return res;
    if (res.status === 204) return null;
    return res.json();
  }
}

/** Seconds until the access token expires (from its own claims), or 0. */
export function accessExpiresIn() {
  if (!access) return 0;
  try {
    const claims = JSON.parse(atob(access.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return Math.max(0, claims.exp - Date.now() / 1000);
  } catch (_) {
    return 0;
  }
}
