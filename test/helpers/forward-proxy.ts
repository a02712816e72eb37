// A loopback HTTP forward proxy that demands Proxy-Authorization and sends every request to one
// upstream port on 127.0.0.1 whatever host was asked for (so `gateway.test` reaches the stub gateway).
import http from 'node:http';
import net from 'node:net';
import { listenOnLoopback } from './listen.js';

export interface ProxyRequest {
  method: string;
  /** Request target as received: absolute-form URL, or `host:port` for CONNECT. */
  url: string;
  proxyAuthorization?: string;
  /** Status the proxy answered with (407), or the upstream status once known (200 for CONNECT). */
  status?: number;
  at: number;
}

export interface Proxy {
  url: string;
  port: number;
  requests: ProxyRequest[];
  close(): Promise<void>;
}

export interface ForwardProxyOptions {
  upstreamPort: number;
  /** Receives the raw `proxy-authorization` header value (undefined if absent); false → 407. */
  requireProxyAuth: (value: string | undefined) => boolean;
}

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-authorization', 'proxy-authenticate', 'proxy-connection',
  'te', 'trailer', 'transfer-encoding', 'upgrade',
]);

const CHALLENGE = 'Bearer realm="ccred-test"';

export async function startForwardProxy(opts: ForwardProxyOptions): Promise<Proxy> {
  const requests: ProxyRequest[] = [];
  const sockets = new Set<net.Socket>();

  const server = http.createServer((req, res) => {
    const pa = req.headers['proxy-authorization'];
    const rec: ProxyRequest = { method: req.method ?? '', url: req.url ?? '', at: Date.now() };
    if (typeof pa === 'string') rec.proxyAuthorization = pa;
    requests.push(rec);

    if (!opts.requireProxyAuth(rec.proxyAuthorization)) {
      rec.status = 407;
      req.resume();
      const body = 'proxy authentication required';
      res.writeHead(407, {
        'proxy-authenticate': CHALLENGE,
        'content-type': 'text/plain',
        'content-length': String(Buffer.byteLength(body)),
      });
      res.end(body);
      return;
    }

    let path = rec.url;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(rec.url)) {
      const u = new URL(rec.url);
      path = u.pathname + u.search;
    }
    const headers: http.OutgoingHttpHeaders = {};
    const connectionListed = new Set(
      String(req.headers['connection'] ?? '')
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    );
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || HOP_BY_HOP.has(k) || connectionListed.has(k)) continue;
      headers[k] = v;
    }
    const upstream = http.request(
      { host: '127.0.0.1', port: opts.upstreamPort, method: req.method, path, headers },
      (ures) => {
        rec.status = ures.statusCode;
        const out: http.OutgoingHttpHeaders = {};
        for (const [k, v] of Object.entries(ures.headers)) {
          if (v === undefined || HOP_BY_HOP.has(k)) continue;
          out[k] = v;
        }
        res.writeHead(ures.statusCode ?? 502, out);
        ures.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      if (!res.headersSent) {
        rec.status = 502;
        res.writeHead(502, { 'content-type': 'text/plain' });
      }
      res.end(`upstream error: ${err.message}`);
    });
    req.pipe(upstream);
  });

  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    const pa = req.headers['proxy-authorization'];
    const rec: ProxyRequest = { method: 'CONNECT', url: req.url ?? '', at: Date.now() };
    if (typeof pa === 'string') rec.proxyAuthorization = pa;
    requests.push(rec);
    client.on('error', () => client.destroy());
    if (!opts.requireProxyAuth(rec.proxyAuthorization)) {
      rec.status = 407;
      client.end(
        `HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: ${CHALLENGE}\r\n` +
          'Content-Length: 0\r\nConnection: close\r\n\r\n',
      );
      return;
    }
    const up = net.connect(opts.upstreamPort, '127.0.0.1', () => {
      rec.status = 200;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) up.write(head);
      up.pipe(client);
      client.pipe(up);
    });
    sockets.add(up);
    up.on('close', () => sockets.delete(up));
    up.on('error', () => {
      if (rec.status === undefined) {
        rec.status = 502;
        client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      } else {
        client.destroy();
      }
    });
  });

  const port = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
