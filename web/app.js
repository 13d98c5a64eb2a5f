// The dashboard's entry: sign-in, the views a role may open, the live connection and the
// CRITICAL alert cue that shows whatever view is open.

import { api, login, logout, onSession, hasSession, refresh, accessExpiresIn, ApiError } from "./api.js";
import { Live } from "./live.js";
import { beep } from "./ui.js";
import * as fleet from "./views/fleet.js";
import * as alerts from "./views/alerts.js";
import * as robots from "./views/robots.js";
import * as nodes from "./views/nodes.js";
import * as reports from "./views/reports.js";
import * as people from "./views/people.js";

const WATCH = ["ADMIN", "DISPATCHER", "OPERATOR", "ANALYST"];
const VIEWS = [
  { id: "fleet", title: "Map", module: fleet, roles: null },
  { id: "alerts", title: "Alerts", module: alerts, roles: WATCH },
  { id: "robots", title: "Robots", module: robots, roles: null },
  { id: "nodes", title: "Edge nodes", module: nodes, roles: null },
  { id: "people", title: "People", module: people, roles: null },
  { id: "reports", title: "Reports", module: reports, roles: ["ADMIN", "DISPATCHER", "ANALYST"] },
];

const $ = (id) => document.getElementById(id);
const live = new Live();
// For tests and measurements.
window.urbanstreamLive = live;
let me = null;
let config = {};
let unmount = null;
let renewTimer = null;
const critical = new Map();

function can(role) {
  const r = me?.role;
  return {
    watch: WATCH.includes(r),
    dispatch: r === "ADMIN" || r === "DISPATCHER",
    operate: r === "ADMIN" || r === "OPERATOR",
    stop: WATCH.includes(r),
    history: ["ADMIN", "DISPATCHER", "ANALYST"].includes(r),
    people: ["ADMIN", "OPERATOR", "ANALYST"].includes(r),
    role: r,
  }[role];
}

function allowed() {
  return VIEWS.filter((v) => !v.roles || v.roles.includes(me.role));
}

function route() {
  if (!me) return;
  const views = allowed();
  const id = location.hash.replace(/^#\/?/, "") || "fleet";
  const view = views.find((v) => v.id === id) || views[0];
  for (const a of $("nav").querySelectorAll("a")) {
    if (a.dataset.view === view.id) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (unmount) unmount();
  const section = $("view");
  section.replaceChildren();
  section.dataset.view = view.id;
  document.title = `${view.title} — urbanstream`;
  unmount = view.module.mount(section, { live, me, can, config, api });
}

function showLogin(message = "") {
  me = null;
  if (unmount) { unmount(); unmount = null; }
  live.stop();
  clearTimeout(renewTimer);
  $("view").replaceChildren();
  $("nav").hidden = true;
  $("signout").hidden = true;
  $("who").textContent = "";
  $("critical").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  $("login").querySelector("input").focus();
}

/** Renews the access token a minute before it expires and hands it to the live socket. */
function scheduleRenewal() {
  clearTimeout(renewTimer);
  const wait = Math.max(5, accessExpiresIn() - 60) * 1000;
  renewTimer = setTimeout(async () => {
    try {
      live.reauth(await refresh());
      scheduleRenewal();
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 401) scheduleRenewal();
    }
  }, wait);
}

async function start() {
  me = await api("/api/v1/auth/me");
  $("login").hidden = true;
  $("who").textContent = `${me.name} (${me.role})`;
  $("signout").hidden = false;
  const nav = $("nav");
  nav.replaceChildren(...allowed().map((v) => {
    const a = document.createElement("a");
    a.href = `#/${v.id}`;
    a.textContent = v.title;
    a.dataset.view = v.id;
    return a;
  }));
  nav.hidden = false;
  live.start();
  if (can("watch")) watchCritical();
  scheduleRenewal();
  route();
}

/** A banner (and a beep) while a CRITICAL alert is open and unacknowledged. */
async function watchCritical() {
  const show = () => {
    const n = critical.size;
    $("critical").hidden = n === 0;
    $("critical").textContent = n ? `${n} critical alert${n > 1 ? "s" : ""}` : "";
  };
  const load = async () => {
    critical.clear();
    try {
      const page = await api("/api/v1/alerts?status=ACTIVE_UNACK&severity=CRITICAL&limit=200");
      for (const a of page.items) critical.set(a.id, a);
    } catch (_) { /* shown on the next push */ }
    show();
  };
  live.subscribe(["alerts"]);
  live.on("alert", ({ alert }) => {
    if (!alert || alert.severity !== "CRITICAL") return;
    const was = critical.has(alert.id);
    if (alert.status === "ACTIVE_UNACK") critical.set(alert.id, alert);
    else critical.delete(alert.id);
    if (!was && critical.has(alert.id)) beep();
    show();
  });
  live.onReconnect(load);
  await load();
}

document.addEventListener("DOMContentLoaded", async () => {
  try {
    config = await (await fetch("/dashboard.json")).json();
  } catch (_) { config = {}; }
  live.onState((s) => {
    const c = $("conn");
    c.dataset.state = s;
    c.textContent = { live: "live", connecting: "reconnecting…", offline: "offline" }[s] || s;
  });
  onSession((s) => { if (!s) showLogin("Signed out."); });
  window.addEventListener("hashchange", route);
  $("signout").addEventListener("click", () => logout());
  $("login").addEventListener("submit", async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    $("login-error").textContent = "";
    try {
      await login(f.get("username"), f.get("password"));
      e.target.reset();
      await start();
    } catch (err) {
      $("login-error").textContent = err.message || "Sign-in failed";
    }
  });
  if (hasSession()) {
    try {
      await refresh();
      await start();
      return;
    } catch (_) { /* fall through to sign-in */ }
  }
  showLogin();
});
