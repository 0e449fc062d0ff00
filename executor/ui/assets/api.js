// api.js: talking to the Stride server. Reads are JSON GETs; writes use
// Marathon's endpoints; the event stream is /v2/events, followed with fetch so
// that every reconnection sends Last-Event-ID and credentials (same origin:
// whatever authorises the page authorises its calls).

/** An error answered by the API, with Marathon's message and details. */
export class APIError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

async function readBody(res) {
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function errorOf(res, body) {
  let msg = `${res.status} ${res.statusText}`;
  if (body && typeof body === 'object' && body.message) {
    msg = body.message;
    for (const d of body.details || []) {
      msg += ` (${d.path}: ${(d.errors || []).join(', ')})`;
    }
  } else if (typeof body === 'string' && body.trim()) {
    msg = body.trim().slice(0, 300);
  }
  return new APIError(res.status, msg, body);
}

/** GET a JSON resource; throws APIError for a non-2xx answer. */
export async function getJSON(path, signal) {
  const res = await fetch(path, { headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store', signal });
  const body = await readBody(res);
  if (!res.ok) throw errorOf(res, body);
  return body;
}

/**
 * Sends a write (PUT, POST, DELETE) with an optional JSON body. Resolves to
 * {status, data, deploymentId}; throws APIError for a non-2xx answer.
 */
export async function send(method, path, body) {
  const init = { method, headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const data = await readBody(res);
  if (!res.ok) throw errorOf(res, data);
  const deploymentId = res.headers.get('Marathon-Deployment-Id') || (data && data.deploymentId) || null;
  return { status: res.status, data, deploymentId };
}

/** The URL path of an app id ("/shop/web" → "shop/web", segments escaped). */
export function appPath(id) {
  return id.split('/').filter(Boolean).map(encodeURIComponent).join('/');
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * EventStream follows /v2/events: it parses the SSE frames, hands every event
 * to the listeners, and reconnects (with backoff, sending Last-Event-ID) when
 * the stream ends, fails, or stays silent longer than three keep-alives.
 * Listeners get {id, type, data}; status listeners get "connecting", "live" or
 * "reconnecting", and "resync" once a reconnection succeeded (events may have
 * been missed: pages reload what they show).
 */
export class EventStream {
  constructor(url = '/v2/events', keep = 500) {
    this.url = url;
    this.keep = keep;
    this.lastId = null;
    this.listeners = new Set();
    this.statusListeners = new Set();
    this.status = 'connecting';
    this.recent = []; // the last `keep` events, oldest first
    this.stopped = false;
    this.connects = 0;
  }

  on(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); }
  onStatus(fn) { this.statusListeners.add(fn); return () => this.statusListeners.delete(fn); }

  setStatus(s) {
    if (s === this.status && s !== 'resync') return;
    if (s !== 'resync') this.status = s;
    for (const fn of this.statusListeners) fn(s);
  }

  start() {
    this.stopped = false;
    if (!this.running) this.loop();
    return this;
  }

  /** Ends the stream (start() opens it again, with Last-Event-ID). */
  stop() { this.stopped = true; if (this.ctrl) this.ctrl.abort(); }

  async loop() {
    this.running = true;
    try {
      await this.follow();
    } finally {
      this.running = false;
    }
  }

  async follow() {
    let delay = 500;
    while (!this.stopped) {
      const ctrl = new AbortController();
      this.ctrl = ctrl;
      let watchdog = null;
      const poke = () => {
        clearTimeout(watchdog);
        // The server writes a keep-alive every 15 s: 45 s of silence is a dead connection.
        watchdog = setTimeout(() => ctrl.abort(), 45000);
      };
      try {
        const headers = { Accept: 'text/event-stream' };
        if (this.lastId) headers['Last-Event-ID'] = this.lastId;
        poke();
        const res = await fetch(this.url, { headers, credentials: 'same-origin', cache: 'no-store', signal: ctrl.signal });
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        this.connects++;
        this.setStatus('live');
        if (this.connects > 1) this.setStatus('resync');
        delay = 500;
        await this.read(res.body, poke);
      } catch {
        // Ended, refused or aborted: reconnect below.
      } finally {
        clearTimeout(watchdog);
      }
      if (this.stopped) return;
      this.setStatus('reconnecting');
      await sleep(delay);
      delay = Math.min(delay * 2, 10000);
    }
  }

  async read(body, poke) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      poke();
      buf += value;
      let end;
      while ((end = buf.search(/\r?\n\r?\n/)) >= 0) {
        const frame = buf.slice(0, end);
        buf = buf.slice(end + (buf[end] === '\r' ? 4 : 2));
        this.frame(frame);
      }
    }
  }

  frame(text) {
    let id = null, type = 'message', data = '';
    for (const line of text.split(/\r?\n/)) {
      if (!line || line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      let value = i < 0 ? '' : line.slice(i + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'id') id = value;
      else if (field === 'event') type = value;
      else if (field === 'data') data += (data ? '\n' : '') + value;
    }
    if (id) this.lastId = id;
    if (!data) return;
    let payload;
    try {
      payload = JSON.parse(data);
    } catch {
      return;
    }
    const ev = { id, type: payload.eventType || type, data: payload, seq: ++EventStream.seq };
    this.recent.push(ev);
    if (this.recent.length > this.keep) this.recent.splice(0, this.recent.length - this.keep);
    for (const fn of this.listeners) fn(ev);
  }
}
EventStream.seq = 0;
