import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { isIP } from 'node:net';
import { contentType } from '../util/content-types.ts';
import { UserError } from '../util/errors.ts';

/**
 * The preview's HTTP side: the built site's files (only those under the site folder), with a
 * small script in every HTML page that listens on an event stream and reloads the page when
 * a build finishes, or shows a banner when it failed. The script and the looser
 * Content-Security-Policy it needs exist only here, never in a built site.
 */

export const EVENTS_PATH = '/__reprobook/events';

const RELOAD_SCRIPT = `<script>
(() => {
  const es = new EventSource(${JSON.stringify(EVENTS_PATH)});
  es.addEventListener('reload', () => location.reload());
  es.addEventListener('failed', (e) => {
    let b = document.getElementById('reprobook-preview-error');
    if (!b) { b = document.createElement('pre'); b.id = 'reprobook-preview-error'; b.setAttribute('role', 'alert');
      b.style.cssText = 'position:fixed;left:0;right:0;bottom:0;margin:0;padding:1em;max-height:40vh;overflow:auto;background:#7f1d1d;color:#fff;font:13px monospace;z-index:9999;white-space:pre-wrap';
      document.body.appendChild(b); }
    b.textContent = 'reprobook preview: the build failed\\n' + JSON.parse(e.data).message;
  });
})();
</script>`;

/** A page as the preview serves it: the built site's CSP relaxed for the one inline script. */
export function injectReload(html: string): string {
  const csp = html.replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, `<meta http-equiv="Content-Security-Policy" content="script-src 'unsafe-inline' 'self'; object-src 'none'; img-src 'self' data:">`);
  return csp.includes('</body>') ? csp.replace('</body>', `${RELOAD_SCRIPT}\n</body>`) : csp + RELOAD_SCRIPT;
}

export interface PreviewServer {
  server: Server;
  url: string;
  /** Tell every open page: `reload`, or `failed` with a message. */
  broadcast(event: 'reload' | 'failed', data: Record<string, unknown>): void;
  close(): Promise<void>;
}

/**
 * Whether a request was addressed to this server by a name that cannot be rebound: a page on
 * another site whose domain the attacker re-points at 127.0.0.1 (DNS rebinding) sends its
 * own domain as Host. Allowed: localhost, the loopback addresses, the bound address, and any
 * address literal when bound to all interfaces (a LAN preview is reached by IP).
 */
export function allowedHost(header: string | undefined, bound: string): boolean {
  if (!header) return false;
  const m = /^(\[[^\]]*\]|[^:]*)(?::\d+)?$/.exec(header.trim().toLowerCase());
  if (!m) return false;
  const name = m[1]!.replace(/^\[|\]$/g, '');
  const b = bound.toLowerCase().replace(/^\[|\]$/g, '');
  if (['localhost', '127.0.0.1', '::1', b].includes(name)) return true;
  return (b === '0.0.0.0' || b === '::') && isIP(name) !== 0;
}

export async function startServer(opts: { siteDir: () => string; host: string; port: number; lastError: () => string | undefined }): Promise<PreviewServer> {
  const clients = new Set<ServerResponse>();
  const send = (res: ServerResponse, event: string, data: Record<string, unknown>) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (!allowedHost(req.headers.host, opts.host)) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end('reprobook preview answers only requests addressed to this machine (Host: localhost or 127.0.0.1)');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://preview');
    if (url.pathname === EVENTS_PATH) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      res.write(': connected\n\n');
      clients.add(res);
      const err = opts.lastError();
      if (err) send(res, 'failed', { message: err });
      req.on('close', () => clients.delete(res));
      return;
    }
    const notBuilt = (what: string) => {
      res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' });
      res.end(injectReload(`<!DOCTYPE html><html><body><h1>Not built yet</h1><pre>${(opts.lastError() ?? what).replace(/[<&]/g, (c) => (c === '<' ? '&lt;' : '&amp;'))}</pre></body></html>`));
    };
    // Before the site folder exists there is nothing to serve (and never the working directory).
    if (!opts.siteDir()) return notBuilt('the first build has not started');
    const root = resolve(opts.siteDir());
    let rel: string;
    try {
      rel = decodeURIComponent(url.pathname);
    } catch {
      res.writeHead(400).end('bad path');
      return;
    }
    let file = normalize(join(root, rel));
    if (file !== root && !file.startsWith(root + sep)) {
      res.writeHead(403).end('outside the site');
      return;
    }
    try {
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
      const body = await readFile(file);
      const type = contentType(file);
      res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(type.startsWith('text/html') ? injectReload(body.toString('utf8')) : body);
    } catch {
      notBuilt(`${rel} is not in the site`);
    }
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((err) => res.writeHead(500).end(String(err)));
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE'
        ? new UserError(`port ${opts.port} on ${opts.host} is in use`, `stop the program using it, or pick another port: reprobook preview --port ${opts.port + 1}`)
        : err);
    });
    server.listen(opts.port, opts.host, () => resolveListen());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  return {
    server,
    url: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}/`,
    broadcast: (event, data) => {
      for (const c of clients) send(c, event, data);
    },
    close: () => new Promise<void>((r) => {
      for (const c of clients) c.end();
      clients.clear();
      server.close(() => r());
      server.closeAllConnections();
    }),
  };
}
