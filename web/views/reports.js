// Reports: trips, stops and route punctuality, and the analytics endpoints, as tables and
// charts with CSV download.

import { el, fmtTime, fmtNum, table, downloadCsv, barChart } from "../ui.js";

const REPORTS = [
  { id: "trips", title: "Trips", path: "/api/v1/reports/trips" },
  { id: "stops", title: "Stops", path: "/api/v1/reports/stops" },
  { id: "route", title: "Route punctuality", path: "/api/v1/reports/route", needs: "route" },
  { id: "summary", title: "Summary", path: "/api/v1/reports/summary" },
  { id: "fleet-summary", title: "Fleet analytics", path: "/api/v1/analytics/fleet-summary" },
  { id: "route-performance", title: "Route performance", path: "/api/v1/analytics/route-performance" },
  { id: "fuel", title: "Fuel consumption", path: "/api/v1/analytics/fuel-consumption" },
];

/** The rows of a report answer: its first array, or the object itself. */
function rowsOf(v) {
  if (Array.isArray(v)) return v;
  if (v && typeof v === "object") {
    for (const k of ["items", "rows", "trips", "stops", "routes", "vehicles", "days"]) if (Array.isArray(v[k])) return v[k];
    const arr = Object.values(v).find(Array.isArray);
    if (arr) return arr;
    return [v];
  }
  return [];
}

function cell(v) {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number") return Math.abs(v) > 1e11 && Math.abs(v) < 1e14 ? fmtTime(v) : Number.isInteger(v) ? String(v) : fmtNum(v, 2);
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

export function mount(section, { api }) {
  const which = el("select", { "aria-label": "Report", id: "report-kind" }, REPORTS.map((r) => el("option", { value: r.id }, r.title)));
  const day = 86400000;
  const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const from = el("input", { type: "datetime-local", value: local(new Date(Date.now() - 7 * day)), "aria-label": "From" });
  const to = el("input", { type: "datetime-local", value: local(new Date()), "aria-label": "To" });
  const routeSel = el("select", { "aria-label": "Route" });
  const out = el("div", { id: "report-out" });
  const note = el("p", { class: "muted", role: "status" });
  let rows = [];
  let columns = [];
  section.append(el("div", { class: "page" }, el("h1", {}, "Reports"),
    el("div", { class: "toolbar" },
      el("label", {}, "Report", which), el("label", {}, "From", from), el("label", {}, "To", to),
      el("label", {}, "Route", routeSel),
      el("button", { type: "button", onclick: () => run() }, "Show"),
      el("button", { type: "button", class: "secondary", onclick: () => downloadCsv(`${which.value}.csv`, rows, columns) }, "Download CSV")),
    note, out));

  api("/api/v1/routes").then((r) => {
    routeSel.replaceChildren(...(r.items || []).map((x) => el("option", { value: x.id }, `${x.number} ${x.name}`)));
  }).catch(() => {});

  async function run() {
    const rep = REPORTS.find((r) => r.id === which.value);
    const q = new URLSearchParams({ from: new Date(from.value).toISOString(), to: new Date(to.value).toISOString() });
    if (rep.needs === "route") {
      if (!routeSel.value) { note.textContent = "Choose a route."; return; }
      q.set(rep.needs, routeSel.value);
    }
    note.textContent = "Loading…";
    try {
      const answer = await api(`${rep.path}?${q}`);
      rows = rowsOf(answer).map((r) => (typeof r === "object" ? r : { value: r }));
      note.textContent = `${rows.length} row${rows.length === 1 ? "" : "s"}`;
      // Reports name their columns in order; analytics answers give their keys.
      columns = Array.isArray(answer?.columns) ? answer.columns : [...new Set(rows.flatMap((r) => Object.keys(r)))];
      const keys = columns.slice(0, 16);
      const numeric = keys.find((k) => k !== "id" && !k.endsWith("_id") && !k.endsWith("_ms") && rows.some((r) => typeof r[k] === "number"));
      const name = keys.find((k) => /name|number|imei|route|vehicle|stop/.test(k) && rows.some((r) => typeof r[k] !== "object")) || keys[0];
      out.replaceChildren(
        rows.length > 1 && numeric ? barChart(rows.slice(0, 30).map((r) => [cell(r[name]), Number(r[numeric]) || 0]), { label: `${numeric} by ${name}` }) : el("span"),
        rows.length ? table(keys.map((k) => [k.replace(/_/g, " "), (r) => cell(r[k])]), rows.slice(0, 1000), { caption: rep.title }) : el("p", { class: "muted" }, "Nothing in this range."));
    } catch (e) {
      note.textContent = e.message;
      rows = [];
      columns = [];
      out.replaceChildren();
    }
  }
  which.addEventListener("change", () => { rows = []; columns = []; out.replaceChildren(); });
  return () => {};
}
