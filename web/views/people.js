// People: the site's floor with its zones and the people tracked across cameras moving on
// it (id, recent path), a heatmap of where people were, the cameras' state and rate, a video
// camera's live picture with its tracks drawn on it, zone entries and exits as they happen,
// and the tracking session's controls for OPERATOR/ADMIN.

import { el, fmtNum, fmtTime, table } from "../ui.js";

const SVG = "http://www.w3.org/2000/svg";
/** Trail points kept per person. */
const TRAIL = 40;

function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, v);
  for (const c of children.flat()) if (c) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

export function mount(section, { live, can, api }) {
  const people = new Map(); // global id → {x, y, cameras, trail: [[x, y]]}
  let env = null;
  let zones = [];
  let session = null;
  let heat = null;
  const summary = el("p", { id: "people-summary", role: "status" });
  const controls = el("div", { class: "toolbar", id: "session-controls" });
  const floor = el("div", { class: "floor", id: "floor" });
  const cams = el("div", { id: "camera-table" });
  // A video camera's live picture (not for viewers: it shows people).
  let videoCams = [];
  let watching = null;
  let pictureUrl = null;
  const picture = el("img", { id: "camera-picture", class: "camera-picture", alt: "", hidden: true });
  const pictureCaption = el("p", { class: "muted", id: "camera-picture-caption" });
  const watchBar = el("div", { class: "toolbar", id: "camera-watch" });
  const events = el("ol", { class: "log", id: "zone-log", reversed: true });
  const heatToggle = can("people")
    ? el("label", {}, el("input", { type: "checkbox", id: "heatmap-toggle", onchange: (e) => toggleHeat(e.target.checked) }), " Heatmap")
    : null;
  section.append(el("div", { class: "page" }, el("h1", {}, "People"), controls, summary,
    el("div", { class: "toolbar" }, heatToggle), floor,
    el("h2", {}, "Cameras"), cams, watchBar, picture, pictureCaption,
    el("h2", {}, "Zone entries and exits"), events));

  function watch(id) {
    if (watching !== null) live.unsubscribe([`camera:${watching}`]);
    watching = watching === id ? null : id;
    if (watching !== null) live.subscribe([`camera:${watching}`]);
    picture.hidden = watching === null;
    pictureCaption.textContent = watching === null ? "" : `Camera ${watching}: waiting for a picture…`;
    showWatchBar();
  }

  function showWatchBar() {
    watchBar.replaceChildren(...videoCams.map((c) => el("button", {
      type: "button", dataset: { watch: c.id }, "aria-pressed": String(watching === c.id),
      onclick: () => watch(c.id),
    }, watching === c.id ? `Hide camera ${c.id}` : `Watch camera ${c.id}`)));
  }

  function showPicture(p) {
    if (p.camera !== watching) return;
    const url = URL.createObjectURL(p.jpeg);
    picture.onload = () => { if (pictureUrl && pictureUrl !== url) URL.revokeObjectURL(pictureUrl); pictureUrl = url; };
    picture.src = url;
    picture.alt = `Camera ${p.camera} at ${fmtTime(p.time_ms)}, people's boxes and ids drawn on it`;
    pictureCaption.textContent = `Camera ${p.camera} · ${fmtTime(p.time_ms)}`;
  }

  function extent() {
    if (env && env.width_m > 0 && env.height_m > 0) return [0, 0, env.width_m, env.height_m];
    const xs = [], ys = [];
    for (const z of zones) for (const [x, y] of z.polygon) { xs.push(x); ys.push(y); }
    for (const p of people.values()) { xs.push(p.x); ys.push(p.y); }
    if (!xs.length) return [0, 0, 10, 10];
    const pad = 1;
    return [Math.min(...xs) - pad, Math.min(...ys) - pad, Math.max(...xs) + pad, Math.max(...ys) + pad];
  }

  let drawTimer = null;
  function draw() {
    if (drawTimer) return;
    drawTimer = requestAnimationFrame(() => {
      drawTimer = null;
      const [x0, y0, x1, y1] = extent();
      const w = x1 - x0, h = y1 - y0;
      const root = svg("svg", { viewBox: `${x0} ${y0} ${w} ${h}`, role: "img", "aria-label": `Floor plan, ${people.size} people in view`, preserveAspectRatio: "xMidYMid meet" });
      root.append(svg("rect", { x: x0, y: y0, width: w, height: h, class: "floor-bg" }));
      if (heat) {
        const [ox, oy] = heat.origin;
        const c = heat.cell_m;
        heat.counts.forEach((row, r) => row.forEach((n, k) => {
          if (n > 0) root.append(svg("rect", { x: ox + k * c, y: oy + r * c, width: c, height: c, class: "heat", "fill-opacity": (0.15 + 0.75 * n / heat.max).toFixed(2) }));
        }));
      }
      for (const z of zones) {
        root.append(svg("polygon", { points: z.polygon.map((p) => p.join(",")).join(" "), class: "zone", "data-zone": z.id }),
          svg("text", { x: z.polygon[0][0] + 0.1, y: z.polygon[0][1] + 0.5, class: "zone-label", "font-size": Math.max(w, h) / 40 }, z.name));
      }
      const r = Math.max(w, h) / 80;
      for (const [id, p] of [...people.entries()].sort((a, b) => a[0] - b[0])) {
        if (p.trail.length > 1) root.append(svg("polyline", { points: p.trail.map((q) => q.join(",")).join(" "), class: "trail", "stroke-width": r / 3 }));
        const g = svg("g", { class: "person", "data-person": id }, svg("title", {}, `Person ${id}: ${fmtNum(p.x)}, ${fmtNum(p.y)} m, cameras ${p.cameras.join(", ") || "none"}`));
        // Shape as well as colour: seen by several cameras = filled, by one = ring.
        g.append(svg("circle", { cx: p.x, cy: p.y, r, class: p.cameras.length > 1 ? "multi" : "single", "stroke-width": r / 3 }),
          svg("text", { x: p.x + r * 1.2, y: p.y - r * 1.2, "font-size": r * 2 }, String(id)));
        root.append(g);
      }
      floor.replaceChildren(root);
      summary.textContent = session
        ? `Session ${session.id} ${session.state}: ${people.size} ${people.size === 1 ? "person" : "people"} in view.`
        : "No tracking session is open.";
      summary.dataset.count = String(people.size);
    });
  }

  function showControls() {
    controls.replaceChildren();
    if (!can("operate")) return;
    const act = async (path, method = "POST") => {
      try {
        const s = await api(path, { method, body: {} });
        session = s.state === "stopped" ? null : s;
        if (!session) people.clear();
      } catch (e) {
        summary.textContent = e.message;
      }
      showControls();
      draw();
    };
    if (!session) controls.append(el("button", { type: "button", id: "session-start", onclick: () => act("/api/v1/sessions") }, "Start session"));
    else {
      if (session.state === "running") controls.append(el("button", { type: "button", id: "session-pause", onclick: () => act(`/api/v1/sessions/${session.id}/pause`) }, "Pause"));
      else controls.append(el("button", { type: "button", id: "session-resume", onclick: () => act(`/api/v1/sessions/${session.id}/resume`) }, "Resume"));
      controls.append(el("button", { type: "button", id: "session-stop", onclick: () => act(`/api/v1/sessions/${session.id}/stop`) }, "Stop session"));
    }
  }

  async function toggleHeat(on) {
    heat = null;
    if (on && session) {
      try {
        heat = await api(`/api/v1/analytics/heatmap?session_id=${session.id}&cell_m=0.5`);
      } catch (e) {
        summary.textContent = e.message;
      }
    }
    draw();
  }

  function take(p) {
    const e = people.get(p.global_id) || { trail: [] };
    e.x = p.x_m ?? p.current_position?.x;
    e.y = p.y_m ?? p.current_position?.y;
    e.cameras = (p.cameras || []).map((c) => (typeof c === "object" ? c.camera : c));
    e.trail.push([e.x, e.y]);
    if (e.trail.length > TRAIL) e.trail.splice(0, e.trail.length - TRAIL);
    people.set(p.global_id, e);
  }

  function showCameras(s) {
    cams.replaceChildren(table([
      ["Camera", (c) => c.camera],
      ["State", (c) => el("span", { class: "state", dataset: { state: c.state === "running" ? "active" : c.state } }, c.state)],
      ["Frames/s", (c) => fmtNum(c.fps, 1)],
      ["Dropped", (c) => c.dropped],
      ["Tracks", (c) => c.live_tracks],
    ], s.cameras || [], { caption: "Cameras", rowAttrs: (c) => ({ dataset: { camera: c.camera } }) }));
  }

  async function load() {
    try {
      const envs = await api("/api/v1/environments");
      env = envs.items[0];
      zones = (await api("/api/v1/zones")).items;
      const active = await api("/api/v1/tracking/active");
      session = env.session_id ? { id: env.session_id, state: "running" } : null;
      if (session && can("people")) {
        try { session = await api(`/api/v1/sessions/${session.id}`); } catch { /* keep the guess */ }
      }
      people.clear();
      for (const p of active.persons) {
        take(p);
        people.get(p.global_id).trail = p.trajectory_path.map((q) => [q.x, q.y]);
      }
      showControls();
      draw();
      if (can("watch")) {
        videoCams = (await api("/api/v1/cameras")).items.filter((c) => c.source);
        showWatchBar();
      }
    } catch (e) {
      summary.textContent = e.status === 404 ? "No camera is configured." : e.message;
    }
  }

  const offs = [
    live.on("tracking_update", (d) => {
      const seen = new Set();
      for (const p of d.persons) { take(p); seen.add(p.global_id); }
      for (const ev of d.events || []) {
        if (ev.kind === "left" || ev.kind === "merged") people.delete(ev.kind === "left" ? ev.global_id : ev.from);
      }
      draw();
    }),
    live.on("zone_event", (z) => {
      const name = zones.find((q) => q.id === z.zone_id)?.name ?? `zone ${z.zone_id}`;
      events.prepend(el("li", {}, `${fmtTime(z.time_ms)} person ${z.global_id} ${z.kind === "enter" ? "entered" : "left"} ${name}` +
        (z.dwell_s !== null && z.dwell_s !== undefined ? ` after ${fmtNum(z.dwell_s)} s` : "")));
      while (events.children.length > 100) events.lastChild.remove();
    }),
    live.on("system_status", (s) => showCameras(s)),
    live.on("camera_picture", showPicture),
    live.onReconnect(load),
  ];
  live.subscribe(["tracking"]);
  load();
  return () => {
    for (const off of offs) off();
    cancelAnimationFrame(drawTimer);
    live.unsubscribe(["tracking", ...(watching !== null ? [`camera:${watching}`] : [])]);
    if (pictureUrl) URL.revokeObjectURL(pictureUrl);
  };
}
