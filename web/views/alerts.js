// Alerts: a live list, filtered by status, severity and kind; acknowledge and clear for
// those who may (DISPATCHER, ADMIN), with who and when.

import { el, fmtTime, table } from "../ui.js";

const KEEP = 300;

export function mount(section, { live, can, api }) {
  const alerts = new Map(); // id → alert, newest first by raised time
  const fresh = new Set();
  const status = el("select", { "aria-label": "Status" },
    el("option", { value: "open" }, "Open"), el("option", { value: "ACTIVE_UNACK" }, "Unacknowledged"),
    el("option", { value: "ACTIVE_ACK" }, "Acknowledged"), el("option", { value: "CLEARED" }, "Cleared"),
    el("option", { value: "" }, "All"));
  const severity = el("select", { "aria-label": "Severity" },
    el("option", { value: "" }, "Any"), ["CRITICAL", "WARNING", "INFO"].map((s) => el("option", { value: s }, s)));
  const kind = el("input", { "aria-label": "Kind", placeholder: "e.g. OVERSPEED", size: 16 });
  const note = el("p", { class: "muted", role: "status" });
  const body = el("div", { id: "alert-table" });
  section.append(el("div", { class: "page" },
    el("h1", {}, "Alerts"),
    el("div", { class: "toolbar" },
      el("label", {}, "Status", status), el("label", {}, "Severity", severity), el("label", {}, "Kind", kind)),
    note, body));

  function query() {
    const q = new URLSearchParams({ limit: "200" });
    if (status.value === "open") q.set("open", "true");
    else if (status.value) q.set("status", status.value);
    if (severity.value) q.set("severity", severity.value);
    if (kind.value.trim()) q.set("kind", kind.value.trim().toUpperCase());
    return q;
  }

  function matches(a) {
    if (status.value === "open" && a.status === "CLEARED") return false;
    if (status.value && status.value !== "open" && a.status !== status.value) return false;
    if (severity.value && a.severity !== severity.value) return false;
    if (kind.value.trim() && a.kind !== kind.value.trim().toUpperCase()) return false;
    return true;
  }

  async function load() {
    note.textContent = "Loading…";
    try {
      const page = await api(`/api/v1/alerts?${query()}`);
      alerts.clear();
      for (const a of page.items) alerts.set(a.id, a);
      note.textContent = "";
      render();
    } catch (e) {
      note.textContent = e.message;
    }
  }

  async function act(a, what) {
    try {
      const updated = await api(`/api/v1/alerts/${a.id}/${what}`, { method: "POST", body: {} });
      if (updated && updated.id) alerts.set(updated.id, updated);
      render();
    } catch (e) {
      note.textContent = `${what} failed: ${e.message}`;
    }
  }

  function render() {
    const rows = [...alerts.values()].filter(matches).sort((x, y) => y.raised_ms - x.raised_ms).slice(0, KEEP);
    const columns = [
      ["Severity", (a) => el("span", { class: "sev", dataset: { sev: a.severity } }, a.severity)],
      ["Kind", (a) => a.kind],
      ["Message", (a) => a.message],
      ["Vehicle", (a) => a.vehicle_id ?? `device ${a.device_id}`],
      ["Raised", (a) => fmtTime(a.raised_ms)],
      ["Status", (a) => a.status.replace("ACTIVE_", "").toLowerCase()],
      ["Acknowledged", (a) => a.acknowledged_ms ? `${a.acknowledged_by ?? ""} ${fmtTime(a.acknowledged_ms)}` : "—"],
      ["Cleared", (a) => a.cleared_ms ? `${a.cleared_by ?? "condition ended"} ${fmtTime(a.cleared_ms)}` : "—"],
    ];
    if (can("dispatch")) {
      columns.push(["Actions", (a) => el("span", {},
        a.status === "ACTIVE_UNACK" ? el("button", { type: "button", class: "ack", onclick: () => act(a, "acknowledge") }, "Acknowledge") : null,
        a.status !== "CLEARED" ? el("button", { type: "button", class: "secondary clear", onclick: () => act(a, "clear") }, "Clear") : null)]);
    }
    body.replaceChildren(rows.length
      ? table(columns, rows, { caption: "Alerts", rowAttrs: (a) => ({ dataset: { alertId: a.id, status: a.status, kind: a.kind }, class: fresh.has(a.id) ? "new" : null }) })
      : el("p", { class: "muted" }, "No alerts match."));
    fresh.clear();
  }

  const off = live.on("alert", ({ alert }) => {
    if (!alert) return;
    if (!alerts.has(alert.id)) fresh.add(alert.id);
    alerts.set(alert.id, alert);
    if (alerts.size > KEEP * 2) {
      const oldest = [...alerts.values()].sort((x, y) => x.raised_ms - y.raised_ms)[0];
      alerts.delete(oldest.id);
    }
    render();
  });
  live.subscribe(["alerts"]);
  const offReconnect = live.onReconnect(load);
  for (const c of [status, severity]) c.addEventListener("change", load);
  kind.addEventListener("change", load);
  load();
  return () => { off(); offReconnect(); };
}
