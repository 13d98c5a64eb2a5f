// Robots: each robot's state, place on its rail, battery and faults; a stop button per
// robot and one for all (no confirmation: a stop must be one press); commands and reset
// for OPERATOR and ADMIN; safety events as they happen.

import { el, fmtTime, fmtNum, kv } from "../ui.js";

const COMMANDS = [
  ["move_to_station", "Move to station"], ["home", "Home"], ["hoist_up", "Hoist up"],
  ["hoist_down", "Hoist down"], ["go_charge", "Go charge"], ["stop", "Stop (normal)"],
];

export function mount(section, { live, can, api }) {
  const robots = new Map(); // id → {row, live}
  const cards = el("div", { class: "cards", id: "robot-cards" });
  const note = el("p", { class: "muted", role: "status", id: "robot-note" });
  const safety = el("ol", { class: "log", id: "safety-log", reversed: true });
  const head = el("div", { class: "toolbar" });
  if (can("stop")) {
    head.append(el("button", { type: "button", class: "stop all", id: "stop-all", onclick: () => stop(null) }, "STOP ALL ROBOTS"));
  }
  section.append(el("div", { class: "page" }, el("h1", {}, "Robots"), head, note, cards,
    can("watch") ? el("div", {}, el("h2", {}, "Safety events"), safety) : null));

  async function stop(id) {
    const path = id === null ? "/api/v1/robots/estop" : `/api/v1/robots/${id}/estop`;
    const t0 = performance.now();
    try {
      const ack = await api(path, { method: "POST", body: {} });
      const us = ack.latency_us ?? ack.max_latency_us;
      note.textContent = `${id === null ? "All robots" : robots.get(id)?.row.name} stopped: acknowledged` +
        (us !== undefined ? ` in ${fmtNum(us / 1000, 2)} ms at the bus` : "") + ` (${fmtNum(performance.now() - t0, 0)} ms here).`;
    } catch (e) {
      note.textContent = `STOP NOT ACKNOWLEDGED (${e.message}): use the hardwired emergency stop.`;
    }
  }

  async function command(id, cmd, station) {
    const body = { command: cmd };
    if (cmd === "move_to_station") body.station = Number(station);
    try {
      await api(`/api/v1/robots/${id}/commands`, { method: "POST", body });
      note.textContent = `${robots.get(id)?.row.name}: ${cmd.replace(/_/g, " ")} sent.`;
    } catch (e) {
      note.textContent = `${robots.get(id)?.row.name}: ${e.message}`;
    }
  }

  async function reset(id) {
    try {
      await api(`/api/v1/robots/${id}/reset`, { method: "POST", body: {} });
      note.textContent = `${robots.get(id)?.row.name}: reset sent.`;
    } catch (e) {
      note.textContent = `${robots.get(id)?.row.name}: ${e.message}`;
    }
  }

  function card(id) {
    const { row, live: s } = robots.get(id);
    const r = s?.report || {};
    const state = s?.state || row.state || "disconnected";
    const railMax = Math.max(50000, ...[...robots.values()].map((x) => x.live?.report?.position_mm || 0));
    const parts = [
      el("h2", {}, row.name, el("span", { class: "state", dataset: { state } }, state.replace(/_/g, " "))),
      el("div", { class: "rail", role: "img", "aria-label": `Position ${fmtNum((r.position_mm || 0) / 1000)} m` },
        el("i", { style: `left: calc(${Math.min(100, ((r.position_mm || 0) / railMax) * 100)}% - 3px)` })),
      kv([
        ["Position", r.position_mm !== undefined ? `${fmtNum(r.position_mm / 1000, 2)} m, station ${r.station ?? "—"}` : "—"],
        ["Hoist", r.hoist_mm !== undefined ? `${r.hoist_mm} mm` : "—"],
        ["Battery", r.battery_pct !== undefined ? `${fmtNum(r.battery_pct)} %${r.charging ? " (charging)" : ""}` : "—"],
        ["Temperature", r.temperature_c !== undefined ? `${fmtNum(r.temperature_c)} °C` : "—"],
        ["Fault", r.fault_code ? `code ${r.fault_code}` : "none"],
        ["Safety", s?.safety?.length ? s.safety.join(", ").replace(/_/g, " ") : "clear"],
        ["Last seen", fmtTime(s?.last_seen)],
      ]),
    ];
    if (s?.link_error) parts.push(el("p", { class: "error" }, s.link_error));
    if (can("stop")) {
      parts.push(el("button", { type: "button", class: "stop", dataset: { robot: id }, "aria-label": `Stop ${row.name}`, onclick: () => stop(id) }, "STOP"));
    }
    if (can("operate")) {
      const which = el("select", { "aria-label": `Command for ${row.name}` }, COMMANDS.map(([v, t]) => el("option", { value: v }, t)));
      const station = el("input", { type: "number", min: 0, max: 999, value: r.target_station ?? 1, size: 4, "aria-label": `Station for ${row.name}` });
      parts.push(el("div", { class: "toolbar" }, which, station,
        el("button", { type: "button", onclick: () => command(id, which.value, station.value) }, "Send"),
        el("button", { type: "button", class: "secondary", onclick: () => reset(id) }, "Reset")));
    }
    return el("article", { class: "card", dataset: { robot: id, state }, "aria-label": row.name }, parts);
  }

  function render(id) {
    const old = cards.querySelector(`article[data-robot="${id}"]`);
    // Keep a control the user is working with: only the values change under it.
    if (old && old.contains(document.activeElement) && document.activeElement.tagName !== "BUTTON") {
      const s = robots.get(id).live?.state || "disconnected";
      old.dataset.state = s;
      old.querySelector(".state").textContent = s.replace(/_/g, " ");
      old.querySelector(".state").dataset.state = s;
      return;
    }
    const fresh = card(id);
    if (old) old.replaceWith(fresh); else cards.append(fresh);
  }

  async function load() {
    try {
      const page = await api("/api/v1/robots");
      robots.clear();
      cards.replaceChildren();
      for (const row of page.items) robots.set(row.id, { row, live: row.live });
      for (const id of robots.keys()) render(id);
      if (!robots.size) cards.append(el("p", { class: "muted" }, "No robots registered."));
    } catch (e) {
      note.textContent = e.message;
    }
  }

  const offUpdate = live.on("robot_update", (s) => {
    const r = robots.get(s.robot_id);
    if (!r) return;
    r.live = s;
    render(s.robot_id);
  });
  const offEvent = live.on("event", (d, topic) => {
    if (topic !== "safety" || !d.event) return;
    const e = d.event;
    const who = d.robot ?? d.robot_id ?? "";
    const name = robots.get(Number(String(who).replace("robot:", "")))?.row.name ?? who;
    const what = e.condition ? `${e.condition.replace(/_/g, " ")} ${e.active ? "began" : "ended"}` : JSON.stringify(e);
    const text = `${fmtTime(e.at ?? Date.now())} ${name}: ${what}${e.detail ? ` (${e.detail})` : ""}`;
    safety.prepend(el("li", {}, text));
    while (safety.children.length > 50) safety.lastChild.remove();
  });
  live.subscribe(can("watch") ? ["robots", "safety"] : ["robots"]);
  const offReconnect = live.onReconnect(load);
  load();
  return () => { offUpdate(); offEvent(); offReconnect(); live.unsubscribe(["robots", "safety"]); };
}
