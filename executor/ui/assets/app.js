// app.js: the shell: the bar with the pages and the stream's state, and the
// hash router (#/apps, #/apps/<id>, #/deployments, #/events, #/cluster).
import { html, render, useState, useEffect, useRef } from './lib.js';
import { EventStream } from './api.js';
import { setStream, getStream, parseHash, useLive } from './util.js';
import { AppsPage } from './pages/apps.js';
import { AppPage } from './pages/app.js';
import { DeploymentsPage } from './pages/deployments.js';
import { EventsPage } from './pages/events.js';
import { ClusterPage } from './pages/cluster.js';

const stream = new EventStream('/v2/events').start();
setStream(stream);
// A page left for another (or for the back/forward cache) lets its stream go:
// an open stream would hold one of the browser's few connections to the server
// while the page sits in the cache. Shown again, it reconnects and resyncs.
addEventListener('pagehide', () => stream.stop());
addEventListener('pageshow', (e) => { if (e.persisted) stream.start(); });

function useHash() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function LiveIndicator() {
  const s = getStream();
  const [status, setStatus] = useState(s.status);
  useEffect(() => {
    setStatus(s.status); // it may have moved between the render and now
    return s.onStatus((st) => { if (st !== 'resync') setStatus(st); });
  }, []);
  const text = { live: 'Live', connecting: 'Connecting…', reconnecting: 'Reconnecting…' }[status] || status;
  const key = status === 'live' ? 'healthy' : 'waiting';
  return html`<div class="live" role="status" aria-live="polite">
    <span class=${'status ' + key} data-stream=${status} title="Updates follow the server's event stream (/v2/events)">${text}</span>
  </div>`;
}

const pages = [
  { key: 'apps', label: 'Apps' },
  { key: 'deployments', label: 'Deployments' },
  { key: 'events', label: 'Events' },
  { key: 'cluster', label: 'Cluster' },
];

function Nav({ current }) {
  // The number of running deployments, live.
  const deps = useLive('/v2/deployments', {
    interest: (ev) => ev.type.startsWith('deployment_') || ev.type === 'group_change_success',
    throttle: 500,
  });
  const running = Array.isArray(deps.data) ? deps.data.length : 0;
  return html`<nav class="main" aria-label="Pages">
    ${pages.map((p) => html`
      <a href=${'#/' + p.key} aria-current=${current === p.key ? 'page' : null}>
        ${p.label}${p.key === 'deployments' && running > 0
          ? html`<span class="count-pill" data-running=${running}><span class="sr-only">, running: </span>${running}</span>`
          : null}
      </a>`)}
  </nav>`;
}

function Shell() {
  const hash = useHash();
  const { segs, params } = parseHash(hash);
  const page = segs[0] || 'apps';
  const mainRef = useRef(null);
  let body;
  let title;
  switch (page) {
    case 'apps':
      if (segs.length > 1) {
        const id = '/' + segs.slice(1).join('/');
        title = id;
        body = html`<${AppPage} key=${hash} id=${id} params=${params} />`;
      } else {
        title = 'Apps';
        body = html`<${AppsPage} key=${hash} params=${params} />`;
      }
      break;
    case 'deployments':
      title = 'Deployments';
      body = html`<${DeploymentsPage} key=${hash} params=${params} />`;
      break;
    case 'events':
      title = 'Events';
      body = html`<${EventsPage} key=${hash} params=${params} />`;
      break;
    case 'cluster':
      title = 'Cluster';
      body = html`<${ClusterPage} />`;
      break;
    default:
      title = 'Not found';
      body = html`<h1>Not found</h1><p>There is no page <code>${hash}</code>. <a href="#/apps">Apps</a></p>`;
  }
  useEffect(() => { document.title = `${title} · Stride`; }, [title]);
  // A new page takes the focus, as a page load would: keyboard and screen
  // reader users start from its top, not from the link they left.
  const first = useRef(true);
  useEffect(() => {
    if (first.current) { first.current = false; return; }
    if (mainRef.current) mainRef.current.focus({ preventScroll: false });
  }, [segs.join('/')]);
  return html`
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); mainRef.current && mainRef.current.focus(); }}>Skip to content</a>
    <header class="top">
      <a class="brand" href="#/apps"><img src="favicon.svg" alt="" />Stride</a>
      <${Nav} current=${page} />
      <${LiveIndicator} />
    </header>
    <main id="main" ref=${mainRef} tabindex="-1" data-page=${page}>${body}</main>`;
}

render(html`<${Shell} />`, document.getElementById('root'));
