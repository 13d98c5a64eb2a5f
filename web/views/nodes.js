// Edge nodes: health (live / stale / offline), CPU and memory sparklines, detection rate,
// the system metrics every few seconds, and recent log entries.

import { el, fmtTime, fmtNum, kv, sparkline, table } from "../ui.js";

/** Nothing heard for this long while not offline: stale. */
const STALE_MS = 15000;

export function mount(section, { live, can, api }) {
  const nodes = new Map(); // id → {node, cpu: [], mem: [], rate, lastCount, lastAt}
  const system = el("div", { id: "system-metrics" });
  const list = el("div", { id: "node-table" });
  const logs = el("ol", { class: "log", id: "log-list", reversed: true });
  section.append(el("div", { class: "page" },
    el("h1", {}, "Edge nodes"), el("h2", {}, "System"), system, el("h2", {}, "Nodes"), list,
    can("watch") ? el("div", {}, el("h2", {}, "Recent logs"), logs) : null));

  function health(n) {
    if (n.status === "offline") return "offline";
    const seen = Date.parse(n.last_seen || n.last_heartbeat || 0);
    return Date.now() - seen > STALE_MS ? "stale" : "live";
  }

  function take(n) {
    const id = n.node_id || n.id;
    const e = nodes.get(id) || { cpu: [], mem: [], rate: null };
    const live = n.live || {};
    const merged = { ...(e.node || {}), ...n, ...live, id };
    const count = merged.detections_total;
    const at = Date.parse(merged.last_seen || 0) || Date.now();
    if (e.lastCount !== undefined && count !== undefined && at > e.lastAt) {
      e.rate = ((count - e.lastCount) * 1000) / (at - e.lastAt);
    }
    if (count !== undefined) { e.lastCount = count; e.lastAt = at; }
    if (typeof merged.cpu_usage === "number") e.cpu.push(merged.cpu_usage);
    if (typeof merged.memory_usage === "number") e.mem.push(merged.memory_usage);
    e.cpu = e.cpu.slice(-40);
    e.mem = e.mem.slice(-40);
    e.node = merged;
    nodes.set(id, e);
  }

  let renderTimer = null;
  function render() {
    if (renderTimer) return;
    renderTimer = setTimeout(() => {
      renderTimer = null;
      const rows = [...nodes.values()].sort((a, b) => String(a.node.id).localeCompare(String(b.node.id)));
      list.replaceChildren(rows.length ? table([
        ["Node", (e) => e.node.name || e.node.id],
        ["Health", (e) => { const h = health(e.node); return el("span", { class: "state", dataset: { state: h === "live" ? "active" : h } }, h); }],
        ["Status", (e) => e.node.status],
        ["CPU", (e) => el("span", {}, sparkline(e.cpu, { label: "CPU %" }), ` ${fmtNum(e.node.cpu_usage, 0)} %`)],
        ["Memory", (e) => el("span", {}, sparkline(e.mem, { label: "Memory %" }), ` ${fmtNum(e.node.memory_usage, 0)} %`)],
        ["Detections/s", (e) => fmtNum(e.rate, 1)],
        ["Detections", (e) => e.node.detections_total ?? "—"],
        ["Last heartbeat", (e) => fmtTime(e.node.last_heartbeat)],
      ], rows, { caption: "Edge nodes", rowAttrs: (e) => ({ dataset: { node: e.node.id, health: health(e.node) } }) })
        : el("p", { class: "muted" }, "No edge nodes registered."));
    }, 250);
  }

  function showSystem(m) {
    system.replaceChildren(kv([
      ["Nodes", `${m.active_nodes ?? "—"} active of ${m.total_nodes ?? "—"}`],
      ["Detections", m.total_detections ?? "—"],
      ["Average latency", `${fmtNum(m.average_latency)} ms`],
      ["Bandwidth saved", `${fmtNum((m.bandwidth_saved || 0) / 1e6)} MB`],
      ["Energy saved", `${fmtNum(m.energy_saved)} Wh`],
      ["As of", fmtTime(m.timestamp)],
    ]));
  }

  function addLog(entry) {
    const text = `${fmtTime(entry.timestamp ?? entry.at ?? entry.created_at)} ${entry.level ?? ""} ${entry.node_id ?? entry.source ?? ""} ${entry.message ?? JSON.stringify(entry)}`;
    logs.prepend(el("li", {}, text));
    while (logs.children.length > 100) logs.lastChild.remove();
  }

  async function load() {
    try {
      const [page, status] = await Promise.all([api("/api/v1/nodes"), api("/api/v1/system/status")]);
      for (const n of page.items) take(n);
      showSystem(status);
      render();
      if (can("watch")) {
        const l = await api("/api/v1/system/logs?limit=50");
        logs.replaceChildren();
        for (const entry of (l.items || []).slice().reverse()) addLog(entry);
      }
    } catch (e) {
      system.textContent = e.message;
    }
  }

  const offs = [
    live.on("edge_node_update", (n) => { take(n); render(); }),
    live.on("system_metrics", (m) => showSystem(m)),
    live.on("system_log", (entry) => addLog(entry)),
    live.onReconnect(load),
  ];
  const topics = can("watch") ? ["nodes", "system", "logs"] : ["nodes", "system"];
  live.subscribe(topics);
  // Every 5 s: health turns stale without a push, and the counters give rates and sparklines.
  const tick = setInterval(() => {
    api("/api/v1/nodes").then((page) => { for (const n of page.items) take(n); render(); }).catch(() => render());
  }, 5000);
  load();
  return () => { for (const off of offs) off(); clearInterval(tick); clearTimeout(renderTimer); live.unsubscribe(topics); };
}
