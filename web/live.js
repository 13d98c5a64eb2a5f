// The live connection: one WebSocket, signed in with the access token, subscribed to what
// the open view shows; reconnects with jittered backoff, subscribes again, and tells the
// views to catch up over REST on what they missed while away.

import { accessToken, refresh } from "./api.js";

export class Live {
  constructor() {
    this.topics = new Set();
    // Topics the server has confirmed on this connection.
    this.confirmed = new Set();
    this.viewport = null;
    // Telemetry in one frame every this many ms (the server keeps the latest per vehicle).
    this.batchMs = 200;
    this.handlers = new Map();
    this.stateListeners = new Set();
    this.reconnectListeners = new Set();
    this.ws = null;
    this.state = "offline";
    this.attempt = 0;
    this.everLive = false;
    this.stopped = true;
    this.timer = null;
  }

  /** `fn(data, topic, message)` for every message of `type`. Returns an unsubscriber. */
  on(type, fn) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(fn);
    return () => this.handlers.get(type).delete(fn);
  }

  onState(fn) { this.stateListeners.add(fn); fn(this.state); }

  /** Called after a reconnection, once subscribed again: time to refresh over REST. */
  onReconnect(fn) { this.reconnectListeners.add(fn); return () => this.reconnectListeners.delete(fn); }

  setState(s) {
    this.state = s;
    for (const fn of this.stateListeners) fn(s);
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(1000);
    this.ws = null;
    this.topics.clear();
    this.confirmed.clear();
    this.setState("offline");
  }

  connect() {
    if (this.stopped) return;
    this.setState("connecting");
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${proto}//${location.host}/ws`);
    this.ws = ws;
    ws.binaryType = "arraybuffer";
    ws.onopen = async () => {
      let token = accessToken();
      if (!token) {
        try { token = await refresh(); } catch (_) { return; }
      }
      ws.send(JSON.stringify({ op: "auth", token }));
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data !== "string") {
        this.picture(ev.data);
        return;
      }
      let msg;
      try { msg = JSON.parse(ev.data); } catch (_) { return; }
      if (msg.type === "status" && Array.isArray(msg.data?.subscribed)) {
        for (const t of msg.data.subscribed) this.confirmed.add(t);
      }
      if (msg.type === "status" && msg.topic === null && msg.data?.authenticated) {
        this.authenticated();
        return;
      }
      if (msg.type === "error" && msg.error?.code === "unauthenticated") {
        // The token was refused (e.g. the server restarted with a new signing key): a
        // fresh one from the refresh token, once; a failed refresh signs out.
        if (ws.retried) { ws.close(); return; }
        ws.retried = true;
        refresh().then((token) => ws.send(JSON.stringify({ op: "auth", token })), () => ws.close());
        return;
      }
      if (msg.type === "batch") {
        for (const item of msg.items) this.dispatch(item);
        return;
      }
      this.dispatch(msg);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.confirmed.clear();
      if (this.stopped) return;
      this.setState("connecting");
      // 1008: the token was refused or expired; a fresh one first.
      const renew = ev.code === 1008 ? refresh().catch(() => null) : Promise.resolve();
      const wait = Math.min(10000, 500 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
      this.attempt = Math.min(this.attempt + 1, 5);
      renew.then(() => { this.timer = setTimeout(() => this.connect(), wait); });
    };
  }

  /** A camera's picture: `[camera id: u32][time ms: i64]` (big endian), then the JPEG. */
  picture(buf) {
    if (buf.byteLength < 12) return;
    const view = new DataView(buf);
    const camera = view.getUint32(0);
    const timeMs = Number(view.getBigInt64(4));
    const jpeg = new Blob([buf.slice(12)], { type: "image/jpeg" });
    this.dispatch({ type: "camera_picture", topic: `camera:${camera}`, data: { camera, time_ms: timeMs, jpeg } });
  }

  dispatch(msg) {
    const fns = this.handlers.get(msg.type);
    if (fns) for (const fn of fns) fn(msg.data, msg.topic, msg);
  }

  authenticated() {
    const again = this.everLive;
    this.everLive = true;
    this.attempt = 0;
    if (this.batchMs) this.send({ op: "batch", every_ms: this.batchMs });
    if (this.topics.size) this.send({ op: "subscribe", topics: [...this.topics] });
    if (this.viewport) this.send({ op: "viewport", bbox: this.viewport });
    this.setState("live");
    if (again) for (const fn of this.reconnectListeners) fn();
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  /** A new access token for the open connection (before the old one expires). */
  reauth(token) {
    this.send({ op: "auth", token });
  }

  subscribe(topics) {
    const added = topics.filter((t) => !this.topics.has(t));
    for (const t of added) this.topics.add(t);
    if (added.length && this.state === "live") this.send({ op: "subscribe", topics: added });
  }

  unsubscribe(topics) {
    const gone = topics.filter((t) => this.topics.delete(t));
    for (const t of gone) this.confirmed.delete(t);
    if (gone.length && this.state === "live") this.send({ op: "unsubscribe", topics: gone });
  }

  /** `[west, south, east, north]` or `null`: which vehicles `fleet` brings. */
  setViewport(bbox) {
    this.viewport = bbox;
    if (this.state === "live") this.send({ op: "viewport", bbox });
  }
}
