// A map on one canvas: Web Mercator, pan and zoom by pointer, wheel and keyboard; our own
// layers (geofences, routes, stops, a replayed track, vehicles) on a plain background, and
// raster tiles underneath only when a tile server is configured.

const TILE = 256;
/** Data-driven redraws: at most this often (10 a second). */
const DATA_FRAME_MS = 100;
/** A vehicle's drawing: its size (CSS px) and the heading steps of a moving one (degrees). */
const SPRITE = 24;
const HEADING_STEP = 5;
/** Up to this many vehicles a picture is drawn in one go; more are drawn over several frames. */
const WHOLE_MAX = 2000;
/** Main-thread time a frame may give to drawing vehicles of a picture being built. */
const FRAME_BUDGET_MS = 6;
const STATES = {
  moving: { colour: "--moving", glyph: "▲", label: "moving" },
  idling: { colour: "--idling", glyph: "■", label: "idling" },
  parked: { colour: "--parked", glyph: "●", label: "parked" },
  offline: { colour: "--offline", glyph: "✕", label: "offline" },
};
export { STATES };

function worldX(lon, z) { return ((lon + 180) / 360) * TILE * 2 ** z; }
function worldY(lat, z) {
  const s = Math.sin((Math.max(-85.05, Math.min(85.05, lat)) * Math.PI) / 180);
  return (0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)) * TILE * 2 ** z;
}
function lonOf(x, z) { return (x / (TILE * 2 ** z)) * 360 - 180; }
function latOf(y, z) {
  const n = Math.PI - (2 * Math.PI * y) / (TILE * 2 ** z);
  return (180 / Math.PI) * Math.atan(Math.sinh(n));
}

export class CityMap {
  constructor(wrap, { tileUrl = "", attribution = "", onViewport = () => {}, onSelect = () => {} } = {}) {
    this.wrap = wrap;
    this.canvas = document.createElement("canvas");
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute("role", "application");
    this.canvas.setAttribute("aria-label", "City map: arrow keys pan, plus and minus zoom; vehicles are listed beside it");
    wrap.append(this.canvas);
    this.center = { lat: 44.7722, lon: 17.191 };
    this.zoom = 13;
    this.tileUrl = tileUrl;
    this.tiles = new Map();
    this.fences = [];
    this.routes = [];
    this.stops = [];
    this.track = [];
    this.vehicles = new Map();
    this.selected = null;
    this.onViewport = onViewport;
    this.onSelect = onSelect;
    this.frame = null;
    this.timer = null;
    this.renderedAt = 0;
    this.viewportTimer = null;
    this.colours = {};
    const css = getComputedStyle(document.documentElement);
    for (const [k, v] of Object.entries(STATES)) this.colours[k] = css.getPropertyValue(v.colour).trim() || "#444";
    this.renderTimes = [];
    this.bindInput();
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(wrap);
    if (attribution) {
      const a = document.createElement("div");
      a.className = "attribution";
      a.textContent = attribution;
      wrap.append(a);
    }
    this.resize();
  }

  destroy() {
    this.resizeObserver.disconnect();
    clearTimeout(this.viewportTimer);
    clearTimeout(this.timer);
    cancelAnimationFrame(this.frame);
    this.job = null;
    this.destroyed = true;
  }

  resize() {
    const r = this.wrap.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    this.w = Math.max(1, r.width);
    this.h = Math.max(1, r.height);
    this.canvas.width = Math.round(this.w * dpr);
    this.canvas.height = Math.round(this.h * dpr);
    this.dpr = dpr;
    this.moved();
  }

  /** Screen position of a point. */
  toScreen(lat, lon) {
    const z = this.zoom;
    return [
      worldX(lon, z) - worldX(this.center.lon, z) + this.w / 2,
      worldY(lat, z) - worldY(this.center.lat, z) + this.h / 2,
    ];
  }

  toLatLon(x, y) {
    const z = this.zoom;
    return {
      lat: latOf(worldY(this.center.lat, z) + y - this.h / 2, z),
      lon: lonOf(worldX(this.center.lon, z) + x - this.w / 2, z),
    };
  }

  /** `[west, south, east, north]` of what is shown, with a margin. */
  bbox(margin = 0.15) {
    const mx = this.w * margin, my = this.h * margin;
    const nw = this.toLatLon(-mx, -my), se = this.toLatLon(this.w + mx, this.h + my);
    const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
    return [clamp(nw.lon, -180, 180), clamp(se.lat, -90, 90), clamp(se.lon, -180, 180), clamp(nw.lat, -90, 90)];
  }

  panBy(dx, dy) {
    const z = this.zoom;
    this.center = {
      lat: latOf(worldY(this.center.lat, z) + dy, z),
      lon: lonOf(worldX(this.center.lon, z) + dx, z),
    };
    this.moved();
  }

  zoomAt(delta, x = this.w / 2, y = this.h / 2) {
    const before = this.toLatLon(x, y);
    this.zoom = Math.max(3, Math.min(19, this.zoom + delta));
    const [sx, sy] = this.toScreen(before.lat, before.lon);
    this.panBy(sx - x, sy - y);
  }

  fit(points) {
    if (!points.length) return;
    let [w, s, e, n] = [180, 90, -180, -90];
    for (const [lat, lon] of points) {
      w = Math.min(w, lon); e = Math.max(e, lon); s = Math.min(s, lat); n = Math.max(n, lat);
    }
    this.center = { lat: (s + n) / 2, lon: (w + e) / 2 };
    // Not closer than a few streets, even for one point.
    for (let z = 16; z >= 3; z--) {
      if (worldX(e, z) - worldX(w, z) < this.w * 0.8 && worldY(s, z) - worldY(n, z) < this.h * 0.8) {
        this.zoom = z;
        break;
      }
    }
    this.moved();
  }

  moved() {
    this.draw(true);
    clearTimeout(this.viewportTimer);
    this.viewportTimer = setTimeout(() => this.onViewport(this.bbox()), 200);
  }

  bindInput() {
    const c = this.canvas;
    let drag = null;
    c.addEventListener("pointerdown", (e) => {
      drag = { x: e.clientX, y: e.clientY, moved: 0 };
      c.setPointerCapture(e.pointerId);
    });
    c.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      drag.moved += Math.abs(dx) + Math.abs(dy);
      drag.x = e.clientX;
      drag.y = e.clientY;
      this.panBy(-dx, -dy);
    });
    c.addEventListener("pointerup", (e) => {
      const click = drag && drag.moved < 5;
      drag = null;
      if (click) {
        const r = c.getBoundingClientRect();
        const hit = this.hit(e.clientX - r.left, e.clientY - r.top);
        if (hit) this.onSelect(hit);
      }
    });
    c.addEventListener("wheel", (e) => {
      e.preventDefault();
      const r = c.getBoundingClientRect();
      this.zoomAt(e.deltaY < 0 ? 0.5 : -0.5, e.clientX - r.left, e.clientY - r.top);
    }, { passive: false });
    c.addEventListener("keydown", (e) => {
      const step = 80;
      const keys = {
        ArrowLeft: () => this.panBy(-step, 0), ArrowRight: () => this.panBy(step, 0),
        ArrowUp: () => this.panBy(0, -step), ArrowDown: () => this.panBy(0, step),
        "+": () => this.zoomAt(1), "=": () => this.zoomAt(1), "-": () => this.zoomAt(-1),
      };
      if (keys[e.key]) {
        e.preventDefault();
        keys[e.key]();
      }
    });
  }

  /** The vehicle drawn nearest to a screen point, within 12 px. */
  hit(x, y) {
    let best = null, bestD = 144;
    for (const [id, v] of this.vehicles) {
      const [sx, sy] = this.toScreen(v.lat, v.lon);
      const d = (sx - x) ** 2 + (sy - y) ** 2;
      if (d < bestD) { best = id; bestD = d; }
    }
    return best;
  }

  /**
   * Draws on an animation frame. The user's own moves (`urgent`) draw the whole picture on the
   * next frame. Data (vehicles report about once a second) redraws at most every
   * `DATA_FRAME_MS`, and a picture of many vehicles is built off screen a few milliseconds a
   * frame and shown whole when done, so that thousands of vehicles never stall a frame.
   */
  draw(urgent = false) {
    if (this.destroyed) return;
    if (urgent) {
      this.job = null;
      cancelAnimationFrame(this.frame);
      clearTimeout(this.timer);
      this.timer = null;
      this.frame = requestAnimationFrame(() => this.paint(true));
      return;
    }
    if (this.frame || this.job) {
      this.dirty = true;
      return;
    }
    const wait = Math.max(0, DATA_FRAME_MS - (performance.now() - this.renderedAt));
    if (wait === 0) {
      clearTimeout(this.timer);
      this.timer = null;
      this.frame = requestAnimationFrame(() => this.paint(false));
    } else if (!this.timer) {
      this.timer = setTimeout(() => { this.timer = null; this.draw(); }, wait);
    }
  }

  paint(whole) {
    this.frame = null;
    const start = performance.now();
    if (whole || (!this.job && this.vehicles.size <= WHOLE_MAX)) {
      this.job = null;
      this.dirty = false;
      this.renderedAt = start;
      this.render(this.context(this.canvas));
      this.measured(performance.now() - start);
      return;
    }
    if (!this.job) this.job = this.startJob();
    const job = this.job;
    const until = start + FRAME_BUDGET_MS;
    // At least one slice a frame, however long the start took: the picture always progresses.
    do {
      const end = Math.min(job.items.length, job.next + 256);
      for (let i = job.next; i < end; i++) {
        const [x, y, img] = job.items[i];
        this.stamp(job.ctx, img, x, y);
      }
      job.next = end;
    } while (job.next < job.items.length && performance.now() < until);
    job.busy += performance.now() - start;
    if (job.next < job.items.length) {
      this.frame = requestAnimationFrame(() => this.paint(false));
      return;
    }
    // Done: the selected vehicle on top, then the picture on screen in one copy.
    const t = performance.now();
    this.renderSelected(job.ctx);
    const front = this.canvas.getContext("2d");
    front.setTransform(1, 0, 0, 1, 0, 0);
    front.drawImage(job.canvas, 0, 0);
    this.job = null;
    this.renderedAt = performance.now();
    this.measured(job.busy + this.renderedAt - t);
    if (this.dirty) {
      this.dirty = false;
      this.draw();
    }
  }

  /** Render times, for measurements (bounded): the main thread's time for one picture. */
  measured(ms) {
    this.renderTimes.push(ms);
    if (this.renderTimes.length > 20000) this.renderTimes.splice(0, 10000);
  }

  context(canvas) {
    const ctx = canvas.getContext("2d");
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    return ctx;
  }

  /** A picture to build over several frames: the layers under the vehicles drawn at once. */
  startJob() {
    this.dirty = false;
    if (!this.back || this.back.width !== this.canvas.width || this.back.height !== this.canvas.height) {
      this.back = document.createElement("canvas");
      this.back.width = this.canvas.width;
      this.back.height = this.canvas.height;
    }
    const ctx = this.context(this.back);
    this.renderBase(ctx);
    const items = [];
    for (const [x, y, v] of this.inView()) items.push([x, y, this.sprite(v.state, v.heading)]);
    return { canvas: this.back, ctx, items, next: 0, busy: 0 };
  }

  render(ctx) {
    this.renderBase(ctx);
    this.renderVehicles(ctx);
  }

  renderBase(ctx) {
    ctx.fillStyle = "#e8edf0";
    ctx.fillRect(0, 0, this.w, this.h);
    if (this.tileUrl) this.renderTiles(ctx);
    this.renderGrid(ctx);
    this.renderFences(ctx);
    this.renderRoutes(ctx);
    this.renderStops(ctx);
    this.renderTrack(ctx);
  }

  renderGrid(ctx) {
    if (this.tileUrl) return;
    // Faint graticule so panning is visible on the plain background.
    const step = 360 / 2 ** Math.round(this.zoom);
    const nw = this.toLatLon(0, 0), se = this.toLatLon(this.w, this.h);
    ctx.strokeStyle = "rgba(0,0,0,.06)";
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let lon = Math.floor(nw.lon / step) * step; lon <= se.lon; lon += step) {
      const [x] = this.toScreen(0, lon);
      ctx.moveTo(x, 0); ctx.lineTo(x, this.h);
    }
    for (let lat = Math.floor(se.lat / step) * step; lat <= nw.lat; lat += step) {
      const [, y] = this.toScreen(lat, 0);
      ctx.moveTo(0, y); ctx.lineTo(this.w, y);
    }
    ctx.stroke();
  }

  renderTiles(ctx) {
    const z = Math.max(0, Math.min(19, Math.round(this.zoom)));
    const scale = 2 ** (this.zoom - z);
    const cx = worldX(this.center.lon, z), cy = worldY(this.center.lat, z);
    const size = TILE * scale;
    const x0 = Math.floor((cx - this.w / 2 / scale) / TILE), x1 = Math.floor((cx + this.w / 2 / scale) / TILE);
    const y0 = Math.floor((cy - this.h / 2 / scale) / TILE), y1 = Math.floor((cy + this.h / 2 / scale) / TILE);
    const n = 2 ** z;
    for (let tx = x0; tx <= x1; tx++) {
      for (let ty = Math.max(0, y0); ty <= Math.min(n - 1, y1); ty++) {
        const wx = ((tx % n) + n) % n;
        const key = `${z}/${wx}/${ty}`;
        let img = this.tiles.get(key);
        if (!img) {
          img = new Image();
          img.onload = () => this.draw();
          img.src = this.tileUrl.replace("{z}", z).replace("{x}", wx).replace("{y}", ty);
          this.tiles.set(key, img);
          if (this.tiles.size > 512) this.tiles.delete(this.tiles.keys().next().value);
        }
        if (img.complete && img.naturalWidth) {
          ctx.drawImage(img, (tx * TILE - cx) * scale + this.w / 2, (ty * TILE - cy) * scale + this.h / 2, size, size);
        }
      }
    }
  }

  metresToPx(m, lat) {
    const perPx = (156543.03392 * Math.cos((lat * Math.PI) / 180)) / 2 ** this.zoom;
    return m / perPx;
  }

  renderFences(ctx) {
    ctx.lineWidth = 2;
    for (const f of this.fences) {
      const g = f.geometry || {};
      ctx.strokeStyle = "rgba(213,94,0,.8)";
      ctx.fillStyle = "rgba(213,94,0,.08)";
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      if (g.type === "Point") {
        const [lon, lat] = g.coordinates;
        const [x, y] = this.toScreen(lat, lon);
        ctx.arc(x, y, this.metresToPx(f.properties?.radius_m || 100, lat), 0, 2 * Math.PI);
      } else if (g.type === "Polygon" || g.type === "MultiPolygon") {
        const polys = g.type === "Polygon" ? [g.coordinates] : g.coordinates;
        for (const poly of polys) for (const ring of poly) this.path(ctx, ring.map(([lon, lat]) => [lat, lon]), true);
      } else if (g.type === "LineString") {
        this.path(ctx, g.coordinates.map(([lon, lat]) => [lat, lon]), false);
        ctx.lineWidth = Math.max(2, this.metresToPx(f.properties?.width_m || 20, g.coordinates[0][1]));
      }
      ctx.fill();
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.lineWidth = 2;
    }
  }

  path(ctx, latlons, close) {
    latlons.forEach(([lat, lon], i) => {
      const [x, y] = this.toScreen(lat, lon);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    if (close) ctx.closePath();
  }

  renderRoutes(ctx) {
    ctx.lineWidth = 4;
    ctx.lineJoin = "round";
    for (const r of this.routes) {
      ctx.strokeStyle = r.colour || "#1f77b4";
      ctx.globalAlpha = 0.7;
      ctx.beginPath();
      this.path(ctx, r.points, false);
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
  }

  renderStops(ctx) {
    if (this.zoom < 12) return;
    ctx.fillStyle = "#fff";
    ctx.strokeStyle = "#17202a";
    ctx.lineWidth = 1.5;
    ctx.font = "11px system-ui, sans-serif";
    for (const s of this.stops) {
      const [x, y] = this.toScreen(s.lat, s.lon);
      if (x < -10 || y < -10 || x > this.w + 10 || y > this.h + 10) continue;
      ctx.beginPath();
      ctx.rect(x - 4, y - 4, 8, 8);
      ctx.fill();
      ctx.stroke();
      if (this.zoom >= 15) {
        ctx.fillStyle = "#17202a";
        ctx.fillText(s.name, x + 7, y + 4);
        ctx.fillStyle = "#fff";
      }
    }
  }

  renderTrack(ctx) {
    if (this.track.length < 2) return;
    ctx.strokeStyle = "#6a3d9a";
    ctx.lineWidth = 3;
    ctx.beginPath();
    this.path(ctx, this.track, false);
    ctx.stroke();
  }

  /**
   * Each state's outline drawn once into a small canvas (moving: one per 5° of heading), so
   * that a vehicle costs one image copy instead of a path filled and stroked: thousands of
   * vehicles in a few milliseconds.
   */
  sprite(state, heading) {
    if (!STATES[state]) state = "offline";
    const dpr = this.dpr;
    if (!this.sprites || this.spritesDpr !== dpr) {
      this.sprites = new Map();
      this.spritesDpr = dpr;
    }
    const bucket = state === "moving" ? Math.round((((heading || 0) % 360) + 360) % 360 / HEADING_STEP) % (360 / HEADING_STEP) : 0;
    const key = `${state}/${bucket}`;
    let img = this.sprites.get(key);
    if (!img) {
      img = document.createElement("canvas");
      img.width = img.height = Math.ceil(SPRITE * dpr);
      const c = img.getContext("2d");
      c.setTransform(dpr, 0, 0, dpr, 0, 0);
      c.beginPath();
      this.shape(c, state, SPRITE / 2, SPRITE / 2, bucket * HEADING_STEP);
      c.fillStyle = this.colours[state];
      c.strokeStyle = state === "offline" ? this.colours.offline : "#fff";
      c.lineWidth = state === "offline" ? 3 : 1.5;
      c.lineJoin = "round";
      if (state !== "offline") c.fill();
      c.stroke();
      this.sprites.set(key, img);
    }
    return img;
  }

  /** Vehicles on screen (with a margin) but the selected one: `[x, y, vehicle]`. */
  *inView() {
    const pad = 12;
    for (const [id, v] of this.vehicles) {
      if (id === this.selected) continue;
      const [x, y] = this.toScreen(v.lat, v.lon);
      if (x < -pad || y < -pad || x > this.w + pad || y > this.h + pad) continue;
      yield [x, y, v];
    }
  }

  renderVehicles(ctx) {
    for (const [x, y, v] of this.inView()) this.stamp(ctx, this.sprite(v.state, v.heading), x, y);
    this.renderSelected(ctx);
  }

  /** A vehicle's image centred on `(x, y)`, at whole device pixels: a plain copy, no resampling. */
  stamp(ctx, img, x, y) {
    const half = SPRITE / 2, dpr = this.dpr;
    ctx.drawImage(img, Math.round((x - half) * dpr) / dpr, Math.round((y - half) * dpr) / dpr, SPRITE, SPRITE);
  }

  /** The selected vehicle, outlined, above the others. */
  renderSelected(ctx) {
    const v = this.selected != null ? this.vehicles.get(this.selected) : null;
    if (!v) return;
    const [x, y] = this.toScreen(v.lat, v.lon);
    const state = STATES[v.state] ? v.state : "offline";
    ctx.beginPath();
    this.shape(ctx, state, x, y, v.heading);
    ctx.fillStyle = this.colours[state];
    if (state !== "offline") ctx.fill();
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 3;
    ctx.stroke();
  }

  /** A vehicle's outline: ▲ along its heading when moving, ■ idling, ● parked, ✕ offline. */
  shape(ctx, state, x, y, heading) {
    if (state === "moving") {
      const a = ((heading || 0) * Math.PI) / 180;
      const sin = Math.sin(a), cos = Math.cos(a);
      const pt = (r, da) => {
        if (da === 0) return [x + r * sin, y - r * cos];
        return [x + r * Math.sin(a + da), y - r * Math.cos(a + da)];
      };
      ctx.moveTo(...pt(9, 0));
      ctx.lineTo(...pt(7, 2.5));
      ctx.lineTo(...pt(3, Math.PI));
      ctx.lineTo(...pt(7, -2.5));
      ctx.closePath();
    } else if (state === "idling") {
      ctx.rect(x - 5.5, y - 5.5, 11, 11);
    } else if (state === "parked") {
      ctx.moveTo(x + 6, y);
      ctx.arc(x, y, 6, 0, 2 * Math.PI);
    } else {
      ctx.moveTo(x - 5, y - 5); ctx.lineTo(x + 5, y + 5);
      ctx.moveTo(x + 5, y - 5); ctx.lineTo(x - 5, y + 5);
    }
  }
}
