// util.js: what every page shares: times, health, live data, dialogs.
import { html, useState, useEffect, useRef, useCallback } from './lib.js';
import { getJSON, send, APIError } from './api.js';

// ---- The event stream, shared by every page (set by app.js). ----

let stream = null;
export function setStream(s) { stream = s; }
export function getStream() { return stream; }

// ---- Times: relative, with the exact time on hover. ----

const clockSubs = new Set();
let clockTimer = null;

/** Re-renders the caller every 10 s, so that "3 min ago" stays true. */
export function useNow() {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    clockSubs.add(setNow);
    if (!clockTimer) {
      clockTimer = setInterval(() => { const t = Date.now(); for (const f of clockSubs) f(t); }, 10000);
    }
    return () => {
      clockSubs.delete(setNow);
      if (!clockSubs.size) { clearInterval(clockTimer); clockTimer = null; }
    };
  }, []);
  return now;
}

export function parseTime(iso) {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

/** "just now", "42 s ago", "3 min ago", "5 h ago", "2 d ago", "in 12 s". */
export function relative(ms, now) {
  const d = Math.round((now - ms) / 1000);
  const s = Math.abs(d);
  if (s < 3) return 'just now';
  let text;
  if (s < 60) text = `${s} s`;
  else if (s < 3600) text = `${Math.floor(s / 60)} min`;
  else if (s < 86400) text = `${Math.floor(s / 3600)} h`;
  else text = `${Math.floor(s / 86400)} d`;
  return d < 0 ? `in ${text}` : `${text} ago`;
}

/** The exact time, in UTC (as the API writes it) and in the browser's zone. */
export function exact(ms) {
  const d = new Date(ms);
  return `${d.toISOString()} (${d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' })} local)`;
}

/** <time>: relative text, exact time on hover and for screen readers' details. */
export function Time({ iso, now }) {
  const t = parseTime(iso);
  if (t === null) return html`<span class="muted">—</span>`;
  return html`<time datetime=${iso} title=${exact(t)}>${relative(t, now)}</time>`;
}

/** Shortens a task or deployment id for display (the full one is its title). */
export function shortID(id) {
  if (!id) return '';
  const dot = id.lastIndexOf('.');
  const tail = dot >= 0 ? id.slice(dot + 1) : id;
  return tail.length > 8 ? tail.slice(0, 8) : tail;
}

// ---- Health: a colour, a word and a shape (style.css). ----

const severity = { unhealthy: 6, waiting: 5, backoff: 5, degraded: 4, deploying: 3, checking: 2, healthy: 1, suspended: 0 };

/** The health of an app from its Marathon counts and why it waits (or null). */
export function appHealth(app, wait) {
  const inst = app.instances || 0;
  const run = app.tasksRunning || 0;
  const staged = app.tasksStaged || 0;
  const checks = (app.healthChecks || []).length > 0;
  if ((app.tasksUnhealthy || 0) > 0) return { key: 'unhealthy', text: 'Unhealthy' };
  if (wait && wait.waiting) return { key: 'waiting', text: 'Waiting' };
  if (wait && wait.delaySeconds > 0 && run < inst) return { key: 'backoff', text: 'Backing off' };
  if ((app.deployments || []).length > 0) return { key: 'deploying', text: 'Deploying' };
  if (inst === 0 && run === 0 && staged === 0) return { key: 'suspended', text: 'Suspended' };
  if (run < inst) return { key: 'degraded', text: staged > 0 ? 'Starting' : 'Degraded' };
  if (checks && (app.tasksHealthy || 0) < run) return { key: 'checking', text: 'Checking' };
  return { key: 'healthy', text: checks ? 'Healthy' : 'Running' };
}

/** The worse of two healths (a group shows its worst app). */
export function worse(a, b) {
  if (!a) return b;
  return severity[b.key] > severity[a.key] ? b : a;
}

const stateNames = {
  TASK_STAGING: 'Staging', TASK_STARTING: 'Starting', TASK_RUNNING: 'Running', TASK_KILLING: 'Killing',
  TASK_FINISHED: 'Finished', TASK_FAILED: 'Failed', TASK_KILLED: 'Killed', TASK_ERROR: 'Error',
  TASK_LOST: 'Lost', TASK_DROPPED: 'Dropped', TASK_UNREACHABLE: 'Unreachable', TASK_GONE: 'Gone', TASK_UNKNOWN: 'Unknown',
};
export function stateName(s) { return stateNames[s] || s || '—'; }

/** The health of one task: checks that ran, of the app's checks Stride runs. */
export function taskHealth(task, app) {
  if (task.state !== 'TASK_RUNNING') {
    const key = task.state === 'TASK_KILLING' ? 'neutral' : 'staged';
    return { key, text: stateName(task.state) };
  }
  const checks = (app.healthChecks || []);
  if (!checks.length) return { key: 'healthy', text: 'Running', detail: 'no health checks' };
  const own = checks.filter((c) => !String(c.protocol || 'HTTP').startsWith('MESOS_') && c.protocol !== 'COMMAND').length;
  const res = task.healthCheckResults || [];
  const failing = res.find((r) => !r.alive);
  if (failing) return { key: 'unhealthy', text: 'Unhealthy', detail: failing.lastFailureCause || 'health check failing' };
  if (res.length < own) return { key: 'checking', text: 'Checking', detail: 'no health check result yet' };
  return { key: 'healthy', text: 'Healthy' };
}

export function Status({ h, label }) {
  return html`<span class=${'status ' + h.key} title=${h.detail || null}>${label || h.text}</span>`;
}

// ---- Live data: fetched once, then again when the event stream says so. ----

/**
 * useLive loads `path` and reloads it when an event passes `interest` (at most
 * once per `throttle` ms, never two requests at once), when the stream
 * reconnects, and every `poll` ms as a safety net (events are hints: a slow
 * subscriber may lose some). The last good data stays on screen while a reload
 * runs or fails. Returns {data, error, reload}.
 */
export function useLive(path, { interest = () => true, throttle = 400, poll = 30000 } = {}) {
  const [state, setState] = useState({ data: null, error: null, path: null });
  const r = useRef({});
  const interestRef = useRef(interest);
  interestRef.current = interest;

  const load = useCallback(() => {
    const s = r.current;
    if (!path) return;
    if (s.inflight) { s.again = true; return; }
    const wait = s.last ? s.last + throttle - Date.now() : 0;
    if (wait > 0) {
      if (!s.timer) s.timer = setTimeout(() => { s.timer = null; load(); }, wait);
      return;
    }
    s.inflight = true;
    s.last = Date.now();
    const ctrl = new AbortController();
    s.ctrl = ctrl;
    getJSON(path, ctrl.signal).then(
      (data) => { if (!ctrl.signal.aborted) setState({ data, error: null, path }); },
      (error) => { if (!ctrl.signal.aborted) setState((old) => ({ data: old.path === path ? old.data : null, error, path })); },
    ).finally(() => {
      s.inflight = false;
      if (s.again && !ctrl.signal.aborted) { s.again = false; load(); }
    });
  }, [path, throttle]);

  useEffect(() => {
    const s = (r.current = {});
    load();
    const offEv = stream ? stream.on((ev) => { if (interestRef.current(ev)) load(); }) : () => {};
    const offSt = stream ? stream.onStatus((st) => { if (st === 'resync') load(); }) : () => {};
    const timer = poll ? setInterval(load, poll) : null;
    return () => {
      offEv(); offSt();
      clearInterval(timer); clearTimeout(s.timer);
      if (s.ctrl) s.ctrl.abort();
      s.again = false;
    };
  }, [load, poll]);

  return { data: state.path === path ? state.data : null, error: state.path === path ? state.error : null, reload: load };
}

/** Events that change what an app shows. */
export function touchesApp(ev, id) {
  const d = ev.data || {};
  if (ev.type.startsWith('deployment_') || ev.type === 'group_change_success') return true;
  return d.appId === id || d.runSpecId === id;
}

// ---- Hash routes: #/apps, #/apps/shop/web, #/deployments?id=..., ... ----

export function parseHash(hash) {
  let h = (hash || '').replace(/^#/, '');
  if (!h.startsWith('/')) h = '/' + h;
  const q = h.indexOf('?');
  const path = q >= 0 ? h.slice(0, q) : h;
  const params = new URLSearchParams(q >= 0 ? h.slice(q + 1) : '');
  const segs = path.split('/').filter(Boolean).map((s) => { try { return decodeURIComponent(s); } catch { return s; } });
  return { segs, params };
}

/** Builds "#/path?k=v" leaving out empty parameters. */
export function hashFor(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined) q.set(k, v);
  const qs = q.toString();
  return '#' + path + (qs ? '?' + qs : '');
}

export function appHref(id) {
  return '#/apps' + id.split('/').filter(Boolean).map((s) => '/' + encodeURIComponent(s)).join('');
}

export function deploymentHref(id) {
  return hashFor('/deployments', { id });
}

// ---- Actions: a confirmation, the call, and what came of it. ----

/**
 * useAction keeps the state of one confirmable action: `ask(spec)` opens the
 * dialog; `spec` = {title, body, confirm, danger, run(force) → Promise<result>}.
 * A 409 (the app is locked by a deployment) offers to force it, as Marathon's
 * ?force=true. The result (or the error) is shown by <ActionResult>.
 */
export function useAction() {
  const [pending, setPending] = useState(null);
  const [result, setResult] = useState(null);
  const ask = (spec) => { setResult(null); setPending({ ...spec, busy: false, error: null }); };
  const cancel = () => setPending(null);
  const run = async (force) => {
    const spec = pending;
    setPending({ ...spec, busy: true, error: null });
    try {
      const res = await spec.run(force);
      setPending(null);
      setResult({ ok: true, status: res.status, message: spec.done ? spec.done(res) : 'Done.', deploymentId: res.deploymentId });
    } catch (e) {
      const status = e instanceof APIError ? e.status : 0;
      if (status === 409) {
        setPending({ ...spec, busy: false, error: e.message, canForce: true });
        return;
      }
      setPending(null);
      setResult({ ok: false, status, message: e.message });
    }
  };
  return { pending, result, ask, cancel, run, clear: () => setResult(null) };
}

/** The confirmation dialog of useAction, modal (focus stays in it; Esc cancels). */
export function ConfirmDialog({ action, body, invalid }) {
  const ref = useRef(null);
  const p = action.pending;
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (p && !d.open) d.showModal();
    if (!p && d.open) d.close();
  }, [p]);
  return html`
    <dialog ref=${ref} aria-labelledby="confirm-title" onCancel=${(e) => { e.preventDefault(); action.cancel(); }}>
      ${p && html`
        <h2 id="confirm-title">${p.title}</h2>
        <div>${body || p.body}</div>
        ${p.error && html`<p class="notice error" role="alert">${p.error}</p>`}
        <div class="buttons">
          <button type="button" onClick=${action.cancel} disabled=${p.busy}>Cancel</button>
          ${p.canForce
            ? html`<button type="button" class="danger primary" data-action="force" onClick=${() => action.run(true)} disabled=${p.busy}>Force: cancel the running deployment</button>`
            : html`<button type="button" class=${p.danger ? 'danger primary' : 'primary'} data-action="confirm" onClick=${() => action.run(false)} disabled=${p.busy || invalid}>${p.busy ? 'Working…' : p.confirm}</button>`}
        </div>`}
    </dialog>`;
}

/** What came of the last action: the deployment it started, or the error. */
export function ActionResult({ action }) {
  const r = action.result;
  if (!r) return null;
  return html`
    <div class=${'notice ' + (r.ok ? 'ok' : 'error')} role="status" data-result=${r.ok ? 'ok' : 'error'} data-status=${r.status}>
      <span data-message>${r.message}</span>
      ${r.deploymentId && html` <a href=${deploymentHref(r.deploymentId)}>Follow deployment ${shortID(r.deploymentId)}</a>`}
      ${' '}<button type="button" class="link" onClick=${action.clear} aria-label="Dismiss">Dismiss</button>
    </div>`;
}

export { send };

/** Formats a number of a resource (0.1 cpus, 128 MB). */
export function fmtNum(x) {
  if (x === null || x === undefined) return '—';
  return Number.isInteger(x) ? String(x) : String(Math.round(x * 100) / 100);
}

/** JSON values as `stride plan` prints them. */
export function jsonValue(v) {
  return JSON.stringify(v === undefined ? null : v);
}

export function ErrorNotice({ error, what }) {
  if (!error) return null;
  return html`<div class="notice error" role="alert">Could not load ${what}: ${error.message}</div>`;
}
