// The live map: vehicles (shape and colour by state), routes, stops and geofences; a list of
// the vehicles in view; a vehicle's latest values, route progress and a track replay.

import { CityMap, STATES } from "../map.js";
import { el, fmtTime, fmtNum, kv } from "../ui.js";

const LIST_MAX = 100;
/** How often the whole picture (with the server's motion states, offline included) is re-read. */
const RESYNC_MS = 30000;

/** The state a live update shows, until the server's next word on it. */
function motionOf(d) {
  const v = d.values || {};
  if (v.ignition === false) return "parked";
  if ((d.speed_kmh ?? v.speed_kmh ?? 0) > 2 || v.movement === true) return "moving";
  return "idling";
}

export function mount(section, { live, can, config, api }) {
  const wrap = el("div", { class: "mapwrap" });
  const side = el("aside", { class: "side", "aria-label": "Vehicles" });
  const legend = el("div", { class: "legend", "aria-label": "Legend" },
    Object.entries(STATES).map(([k, s]) => el("span", { dataset: { glyph: s.glyph }, style: `color: var(${s.colour})` }, el("b", { style: "color: var(--ink)" }, s.label))));
  const ctl = el("div", { class: "mapctl" },
    el("button", { type: "button", "aria-label": "Zoom in", onclick: () => map.zoomAt(1) }, "+"),
    el("button", { type: "button", "aria-label": "Zoom out", onclick: () => map.zoomAt(-1) }, "−"),
    el("button", { type: "button", "aria-label": "Show all vehicles", title: "Show all vehicles", onclick: () => fitAll() }, "⤢"));
  section.append(el("div", { class: "split" }, wrap, side));
  const vehicles = new Map(); // imei → {imei, vehicle_id, lat, lon, heading, state, speed_kmh, values, at}
  const names = new Map(); // vehicle id → name
  let selected = null;
  let selLatest = null;
  let kvBox = null;
  let fitted = false;
  let listTimer = null;
  let gone = false;

  const map = new CityMap(wrap, {
    tileUrl: config.tile_url,
    attribution: config.tile_attribution,
    onViewport: (bbox) => { live.setViewport(bbox); scheduleList(); },
    onSelect: (imei) => select(imei),
  });
  wrap.append(ctl, legend);

  function put(v) {
    vehicles.set(v.imei, v);
    map.vehicles.set(v.imei, v);
    if (window.urbanstreamFirstVehicleMs === undefined) {
      // When the first vehicle is on screen, from the start of navigation (measurements).
      window.urbanstreamFirstVehicleMs = null;
      requestAnimationFrame(() => requestAnimationFrame(() => { window.urbanstreamFirstVehicleMs = performance.now(); }));
    }
  }

  function fitAll() {
    map.fit([...vehicles.values()].map((v) => [v.lat, v.lon]));
  }

  async function loadVehicles() {
    const c = map.toLatLon(map.w / 2, map.h / 2);
    const [near, list] = await Promise.all([
      api(`/api/v1/fleet/nearby?lat=${c.lat.toFixed(5)}&lon=${c.lon.toFixed(5)}&radius_m=100000`),
      api("/api/v1/vehicles?limit=1000").catch(() => ({ items: [] })),
    ]);
    for (const v of list.items || []) names.set(v.id, v.name || v.plate || `vehicle ${v.id}`);
    for (const n of near.items) {
      const old = vehicles.get(n.imei) || {};
      put({ ...old, imei: n.imei, vehicle_id: n.vehicle_id ?? old.vehicle_id, lat: n.position.lat, lon: n.position.lon,
        heading: n.position.heading, state: n.motion || old.state || "idling", at: n.position.device_time });
    }
    orderKey = ""; // names may have changed: sort again
    map.draw();
    scheduleList();
  }

  /** Once, when the first picture is in: the city (stops, routes) and its vehicles. */
  function fitFirst() {
    if (fitted) return;
    fitted = true;
    const pts = [...vehicles.values()].map((v) => [v.lat, v.lon]);
    for (const st of map.stops) pts.push([st.lat, st.lon]);
    for (const r of map.routes) pts.push(...r.points);
    map.fit(pts);
  }

  async function loadLayers() {
    const [fences, routes, stops] = await Promise.all([
      api("/api/v1/geofences").catch(() => ({ features: [] })),
      api("/api/v1/routes").catch(() => ({ items: [] })),
      api("/api/v1/stops?limit=1000").catch(() => ({ items: [] })),
    ]);
    map.fences = fences.features || [];
    map.stops = stops.items || [];
    const byId = new Map(map.stops.map((s) => [s.id, s]));
    map.routes = [];
    for (const r of routes.items || []) {
      const rs = await api(`/api/v1/routes/${r.id}/stops`).catch(() => ({ items: [] }));
      const points = (rs.items || []).map((x) => x.stop || byId.get(x.stop_id) || x).filter((s) => s && s.lat !== undefined).map((s) => [s.lat, s.lon]);
      map.routes.push({ id: r.id, colour: r.colour, points });
    }
    map.draw();
  }

  function label(v) {
    return v.vehicle_id != null && names.has(v.vehicle_id) ? names.get(v.vehicle_id) : v.imei;
  }

  function scheduleList() {
    if (listTimer || gone) return;
    listTimer = setTimeout(() => { listTimer = null; if (!selected) renderList(); }, 1000);
  }

  /**
   * Vehicles in label order, sorted again only when vehicles or names come or go: the list
   * beside the map is refreshed every second, and sorting thousands each time would stall
   * the page.
   */
  let order = [];
  let orderKey = "";
  function sorted() {
    const key = `${vehicles.size}/${names.size}`;
    if (key !== orderKey) {
      orderKey = key;
      order = [...vehicles.values()].map((v) => [label(v), v.imei]);
      order.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    }
    return order;
  }

  function renderList() {
    const [w, s, e, n] = map.bbox(0);
    const shown = [];
    let inView = 0;
    const counts = {};
    for (const [, imei] of sorted()) {
      const v = vehicles.get(imei);
      if (!v) continue;
      counts[v.state] = (counts[v.state] || 0) + 1;
      if (v.lon >= w && v.lon <= e && v.lat >= s && v.lat <= n) {
        inView++;
        if (shown.length < LIST_MAX) shown.push(v);
      }
    }
    side.replaceChildren(
      el("h2", {}, `Vehicles in view: ${inView}`),
      el("p", { class: "muted" }, Object.entries(STATES).map(([k, st]) => `${st.glyph} ${st.label} ${counts[k] || 0}`).join(" · ")),
      el("ul", { id: "vehicle-list", style: "list-style: none; padding: 0; margin: 0" },
        shown.map((v) => el("li", {},
          el("button", { type: "button", class: "secondary", style: "width: 100%; text-align: left; margin: 2px 0",
            dataset: { imei: v.imei, state: v.state }, onclick: () => select(v.imei) },
          `${STATES[v.state]?.glyph || "?"} ${label(v)} — ${STATES[v.state]?.label || v.state}${v.speed_kmh != null ? `, ${v.speed_kmh} km/h` : ""}`)))),
      el("p", { class: "muted" }, inView > LIST_MAX ? `and ${inView - LIST_MAX} more; zoom in` : ""),
    );
  }

  async function select(imei) {
    selected = imei;
    map.selected = imei;
    map.track = [];
    map.draw();
    const v = vehicles.get(imei);
    side.replaceChildren(el("h2", {}, label(v || { imei })), el("p", { class: "muted" }, "Loading…"));
    let latest = null;
    try { latest = await api(`/api/v1/devices/${imei}/latest`); } catch (e) { /* shown below */ }
    if (selected !== imei) return;
    selLatest = latest;
    renderDetails(imei, latest);
  }

  function facts(imei, latest) {
    const v = vehicles.get(imei) || { imei };
    const values = v.values || latest?.live?.values || {};
    const dtcs = values.dtc_codes || values.dtcs || values.dtc;
    return kv([
      ["IMEI", imei],
      ["State", STATES[v.state]?.label || latest?.motion || "—"],
      ["Speed", `${v.speed_kmh ?? latest?.live?.speed_kmh ?? "—"} km/h`],
      ["Ignition", values.ignition === undefined ? "—" : values.ignition ? "on" : "off"],
      ["Fuel", values.fuel_level_pct !== undefined ? `${values.fuel_level_pct} %` : values.fuel_level_l !== undefined ? `${fmtNum(values.fuel_level_l)} l` : "—"],
      ["RPM", values.engine_rpm ?? "—"],
      ["Doors", values.door_status === undefined ? "—" : values.door_status ? "open" : "closed"],
      ["Odometer", values.total_mileage_m !== undefined ? `${fmtNum(values.total_mileage_m / 1000)} km` : "—"],
      ["Trouble codes", dtcs ? (Array.isArray(dtcs) ? dtcs.join(", ") : String(dtcs)) : "none"],
      ["Last update", fmtTime(v.at || latest?.live?.device_time)],
    ]);
  }

  function renderDetails(imei, latest) {
    const v = vehicles.get(imei) || { imei };
    kvBox = el("div", { id: "vehicle-facts" }, facts(imei, latest));
    const back = el("button", { type: "button", class: "secondary", onclick: () => { selected = null; map.selected = null; map.track = []; map.draw(); renderList(); } }, "← All vehicles");
    const parts = [
      back,
      el("h2", { id: "vehicle-title" }, label(v)),
      kvBox,
    ];
    const r = latest?.route;
    if (r) {
      parts.push(el("h3", {}, `Route ${r.number ?? r.route_number ?? r.route_id ?? ""}`));
      const next = r.next_stops || r.upcoming || r.etas || [];
      parts.push(kv(Object.entries(r).filter(([, x]) => typeof x !== "object").map(([k, x]) => [k.replace(/_/g, " "), String(x)])));
      if (next.length) {
        parts.push(el("ol", {}, next.map((s) => el("li", {}, `${s.name ?? s.stop_name ?? s.stop_id}: ${fmtTime(s.eta ?? s.eta_ms ?? s.expected_at)}`))));
      }
    }
    if (can("history")) {
      const now = new Date();
      const local = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
      const from = el("input", { type: "datetime-local", value: local(new Date(now - 3600000)), "aria-label": "Replay from" });
      const to = el("input", { type: "datetime-local", value: local(now), "aria-label": "Replay to" });
      const status = el("p", { class: "muted", role: "status" });
      parts.push(el("h3", {}, "Track replay"), el("div", { class: "toolbar" },
        el("label", {}, "From", from), el("label", {}, "To", to),
        el("button", { type: "button", onclick: async () => {
          status.textContent = "Loading…";
          try {
            const h = await api(`/api/v1/devices/${imei}/history?from=${new Date(from.value).toISOString()}&to=${new Date(to.value).toISOString()}&limit=10000`);
            map.track = h.items.filter((p) => p.lat !== undefined && p.lat !== null).map((p) => [p.lat, p.lon]);
            status.textContent = `${map.track.length} points`;
            if (map.track.length) map.fit(map.track); else map.draw();
          } catch (e) { status.textContent = e.message; }
        } }, "Replay")), status);
    }
    side.replaceChildren(...parts);
  }

  const offTelemetry = live.on("telemetry", (d, topic) => {
    if (topic !== "fleet" || d.lat === undefined) return;
    // Updated in place: thousands of updates a second make no garbage.
    let v = vehicles.get(d.imei);
    if (!v) put((v = { imei: d.imei }));
    v.vehicle_id = d.vehicle_id;
    v.lat = d.lat;
    v.lon = d.lon;
    v.heading = d.heading;
    v.speed_kmh = d.speed_kmh;
    v.values = d.values;
    v.state = motionOf(d);
    v.at = d.device_time;
    map.draw();
    if (selected === d.imei && kvBox) kvBox.replaceChildren(facts(d.imei, selLatest));
    else scheduleList();
  });
  live.subscribe(["fleet"]);
  live.setViewport(map.bbox());
  const offReconnect = live.onReconnect(() => loadVehicles().catch(() => {}));
  const resync = setInterval(() => loadVehicles().catch(() => {}), RESYNC_MS);
  Promise.allSettled([loadLayers(), loadVehicles()]).then(fitFirst);
  // For measurements (frame time) and tests.
  window.urbanstreamMap = map;

  return () => {
    gone = true;
    offTelemetry();
    offReconnect();
    clearInterval(resync);
    clearTimeout(listTimer);
    live.unsubscribe(["fleet"]);
    live.setViewport(null);
    map.destroy();
    delete window.urbanstreamMap;
  };
}
