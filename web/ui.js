// Small DOM helpers shared by the views.

/** `el("button", { class: "x", onclick }, "text", child)`. */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else if (k === "dataset") Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function fmtTime(v) {
  if (v === undefined || v === null) return "—";
  const d = typeof v === "number" ? new Date(v) : new Date(v);
  return isNaN(d) ? "—" : d.toLocaleString(undefined, { hour12: false });
}

export function fmtNum(v, digits = 1) {
  return typeof v === "number" && isFinite(v) ? v.toFixed(digits) : "—";
}

export function kv(pairs) {
  return el("dl", { class: "kv" }, pairs.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v ?? "—")]));
}

/** A table from rows of objects: `columns` = [[header, row => value]]. */
export function table(columns, rows, { caption, rowAttrs } = {}) {
  return el("table", {},
    caption ? el("caption", { class: "sr-only" }, caption) : null,
    el("thead", {}, el("tr", {}, columns.map(([h]) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows.map((r) => el("tr", rowAttrs ? rowAttrs(r) : {}, columns.map(([, f]) => el("td", {}, f(r)))))));
}

/** Offers rows as a CSV file: `columns` in their order, else every key of the rows. */
export function downloadCsv(name, rows, columns) {
  if (!rows.length) return;
  const keys = columns?.length ? columns : [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v) => {
    if (v === null || v === undefined) return "";
    const s = typeof v === "object" ? JSON.stringify(v) : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const text = [keys.join(","), ...rows.map((r) => keys.map((k) => cell(r[k])).join(","))].join("\n");
  const a = el("a", { href: URL.createObjectURL(new Blob([text], { type: "text/csv" })), download: name });
  document.body.append(a);
  a.click();
  a.remove();
}

/** A sparkline of the last values (0–100 unless `max` says otherwise). */
export function sparkline(values, { max = 100, label = "" } = {}) {
  const w = 120, h = 28;
  const pts = values.slice(-40);
  const step = pts.length > 1 ? w / (pts.length - 1) : w;
  const d = pts.map((v, i) => `${i ? "L" : "M"}${(i * step).toFixed(1)},${(h - (Math.min(v, max) / max) * (h - 2) - 1).toFixed(1)}`).join("");
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("class", "spark");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${label} ${pts.length ? pts[pts.length - 1].toFixed(0) : "—"}`);
  const p = document.createElementNS(ns, "path");
  p.setAttribute("d", d || "M0,0");
  p.setAttribute("fill", "none");
  p.setAttribute("stroke", "#0072b2");
  p.setAttribute("stroke-width", "1.5");
  svg.append(p);
  return svg;
}

/** A bar chart on a canvas: `bars` = [[label, value]]. */
export function barChart(bars, { label = "" } = {}) {
  const c = el("canvas", { class: "chart", role: "img", "aria-label": label });
  requestAnimationFrame(() => {
    const r = c.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    c.width = r.width * dpr;
    c.height = r.height * dpr;
    const ctx = c.getContext("2d");
    ctx.scale(dpr, dpr);
    const max = Math.max(1, ...bars.map(([, v]) => v));
    const bw = (r.width - 40) / Math.max(1, bars.length);
    ctx.font = "11px system-ui, sans-serif";
    bars.forEach(([name, v], i) => {
      const bh = (v / max) * (r.height - 40);
      ctx.fillStyle = "#0072b2";
      ctx.fillRect(30 + i * bw + 4, r.height - 20 - bh, bw - 8, bh);
      ctx.fillStyle = "#17202a";
      ctx.fillText(String(name).slice(0, 12), 30 + i * bw + 4, r.height - 6);
      ctx.fillText(fmtNum(v, v < 10 ? 1 : 0), 30 + i * bw + 4, r.height - 24 - bh);
    });
  });
  return c;
}

/** A short beep for CRITICAL alerts (only after the user has interacted with the page). */
export function beep() {
  try {
    const ac = beep.ctx || (beep.ctx = new AudioContext());
    const o = ac.createOscillator(), g = ac.createGain();
    o.frequency.value = 880;
    g.gain.value = 0.08;
    o.connect(g).connect(ac.destination);
    o.start();
    o.stop(ac.currentTime + 0.25);
  } catch (_) { /* no audio */ }
}
