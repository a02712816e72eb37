// End-to-end proof that the test helpers drive the REAL Claude Code CLI: a stub gateway, a
// forward proxy, and shell-script apiKeyHelper / proxyAuthHelper commands standing in for ccred.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startGateway } from '../helpers/gateway.js';
import { startForwardProxy } from '../helpers/forward-proxy.js';
import { runClaude, claudeAvailable } from '../helpers/claude.js';
import type { RunClaudeResult } from '../helpers/claude.js';
import { shQuote } from '../helpers/claude-world.js';

let root = '';
before(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'ccred-e2e-helpers-'));
});
after(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

function scratch(name: string): { dir: string; home: string } {
  const dir = fs.mkdtempSync(path.join(root, `${name}-`));
  const home = path.join(dir, 'home');
  fs.mkdirSync(home);
  return { dir, home };
}


/**
 * Writes an executable sh script that, on each run, bumps a counter, logs the run's time (ms),
 * its ancestry (pid ppid comm, helper first) and its environment (NUL-separated), then prints
 * `output` with `$n` replaced by the run number.
 */
function writeHelper(dir: string, name: string, output: string): string {
  const file = path.join(dir, `${name}.sh`);
  const log = path.join(dir, name);
  fs.mkdirSync(log, { recursive: true });
  const script = `#!/bin/sh
d=${shQuote(log)}
n=$(cat "$d/count" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" > "$d/count"
echo "$n $(date +%s%3N)" >> "$d/runs"
p=$$
for i in 1 2 3; do
  if command -v ps >/dev/null 2>&1; then
    line=$(ps -o pid=,ppid=,comm= -p "$p")
  else
    line="$p $(sed 's/.*) //' /proc/$p/stat | cut -d' ' -f2) $(cat /proc/$p/comm)"
  fi
  echo "$line" >> "$d/ps.$n"
  p=$(echo "$line" | awk '{print $2}')
done
env -0 > "$d/env.$n"
printf '%s\\n' "${output.replace(/\$n/g, '$n')}"
`;
  fs.writeFileSync(file, script, { mode: 0o755 });
  return file;
}

interface HelperLog {
  runs: { n: number; at: number }[];
  ancestry(n: number): { pid: number; ppid: number; comm: string }[];
  env(n: number): Record<string, string>;
}

function readHelperLog(dir: string, name: string): HelperLog {
  const log = path.join(dir, name);
  const runsFile = path.join(log, 'runs');
  const runs = fs.existsSync(runsFile)
    ? fs
        .readFileSync(runsFile, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const [n, at] = l.split(' ');
          return { n: Number(n), at: Number(at) };
        })
    : [];
  return {
    runs,
    ancestry: (n) =>
      fs
        .readFileSync(path.join(log, `ps.${n}`), 'utf8')
        .trim()
        .split('\n')
        .map((l) => {
          const m = /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l);
          assert.ok(m, `unparsable ps line ${JSON.stringify(l)}`);
          return { pid: Number(m[1]), ppid: Number(m[2]), comm: (m[3] ?? '').trim() };
        }),
    env: (n) => {
      const out: Record<string, string> = {};
      for (const entry of fs.readFileSync(path.join(log, `env.${n}`), 'utf8').split('\0')) {
        const i = entry.indexOf('=');
        if (i > 0) out[entry.slice(0, i)] = entry.slice(i + 1);
      }
      return out;
    },
  };
}

function describeRun(r: RunClaudeResult): string {
  return `code=${r.code} signal=${r.signal} timedOut=${r.timedOut} ${r.durationMs} ms\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

// ---------------------------------------------------------------------------------------------
// The stubs on their own (no Claude Code needed).

test('stub gateway: routes, auth, SSE and absolute-form requests', async () => {
  const gw = await startGateway({ rejectValues: (v) => v === 'bad' });
  try {
    const call = (method: string, p: string, headers: Record<string, string>, body?: string) =>
      new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
        // As every Messages API client sends it (the gateway refuses a request without it).
        const req = http.request({ host: '127.0.0.1', port: gw.port, method, path: p, headers: { 'anthropic-version': '2023-06-01', ...headers } }, (res) => {
          let b = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (b += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b }));
        });
        req.on('error', reject);
        req.end(body);
      });
    assert.equal((await call('HEAD', '/', {})).status, 200);
    assert.equal((await call('GET', '/', {})).status, 200);

    const missing = await call('POST', '/v1/messages', { 'content-type': 'application/json' }, '{}');
    assert.equal(missing.status, 401);
    assert.equal(JSON.parse(missing.body).error.type, 'authentication_error');
    assert.equal(missing.headers['x-should-retry'], undefined);

    const bad = await call('POST', '/v1/messages?beta=true', { authorization: 'Bearer bad' }, '{"stream":true}');
    assert.equal(bad.status, 401);
    assert.deepEqual(JSON.parse(bad.body).type, 'error');

    const json = await call('POST', '/v1/messages', { 'x-api-key': 'good' }, '{"model":"m"}');
    assert.equal(json.status, 200);
    assert.equal(JSON.parse(json.body).content[0].text, 'pong');

    const stream = await call(
      'POST',
      'http://gateway.test:1/v1/messages?beta=true',
      { authorization: 'Bearer good' },
      '{"stream":true}',
    );
    assert.equal(stream.status, 200);
    assert.match(String(stream.headers['content-type']), /text\/event-stream/);
    const events = [...stream.body.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]).filter((e) => e !== 'ping');
    assert.deepEqual(events, [
      'message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop',
    ]);
    assert.match(stream.body, /"text":"pong"/);

    const count = await call('POST', '/v1/messages/count_tokens?beta=true', { 'x-api-key': 'good' }, '{}');
    assert.equal(typeof JSON.parse(count.body).input_tokens, 'number');

    assert.equal(gw.requests.length, 7);
    assert.equal(gw.requests[5]?.path, '/v1/messages?beta=true');
    assert.equal(gw.requests[5]?.credential, 'good');
    assert.equal(gw.requests[3]?.body, '{"stream":true}');
  } finally {
    await gw.close();
  }
});

test('forward proxy: 407 challenge, forwarding to the loopback upstream, CONNECT tunnel', async () => {
  const gw = await startGateway();
  const px = await startForwardProxy({ upstreamPort: gw.port, requireProxyAuth: (v) => v === 'Bearer ok' });
  try {
    const viaProxy = (pa: string | undefined) =>
      new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
        const headers: Record<string, string> = {
          host: `gateway.test:${gw.port}`,
          authorization: 'Bearer k',
          'content-type': 'application/json',
          'anthropic-version': '2023-06-01',
        };
        if (pa !== undefined) headers['proxy-authorization'] = pa;
        const req = http.request(
          { host: '127.0.0.1', port: px.port, method: 'POST', path: `http://gateway.test:${gw.port}/v1/messages?beta=true`, headers },
          (res) => {
            let b = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (b += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b }));
          },
        );
        req.on('error', reject);
        req.end('{"stream":true}');
      });
    const denied = await viaProxy(undefined);
    assert.equal(denied.status, 407);
    assert.equal(denied.headers['proxy-authenticate'], 'Bearer realm="ccred-test"');
    const ok = await viaProxy('Bearer ok');
    assert.equal(ok.status, 200);
    assert.match(ok.body, /event: message_stop/);
    assert.equal(gw.requests.length, 1, 'the denied request must not reach the gateway');
    assert.equal(gw.requests[0]?.headers['proxy-authorization'], undefined, 'proxy-authorization is not forwarded');
    assert.equal(gw.requests[0]?.headers['host'], `gateway.test:${gw.port}`);

    const connect = (pa: string | undefined) =>
      new Promise<string>((resolve, reject) => {
        const s = net.connect(px.port, '127.0.0.1', () => {
          s.write(`CONNECT gateway.test:443 HTTP/1.1\r\nHost: gateway.test:443\r\n${pa ? `Proxy-Authorization: ${pa}\r\n` : ''}\r\n`);
        });
        let buf = '';
        let sent = false;
        s.setEncoding('utf8');
        s.on('data', (c: string) => {
          buf += c;
          if (!sent && buf.startsWith('HTTP/1.1 200')) {
            sent = true;
            s.write('GET / HTTP/1.1\r\nHost: gateway.test\r\nConnection: close\r\n\r\n');
          }
        });
        s.on('end', () => resolve(buf));
        s.on('error', reject);
      });
    assert.match(await connect('Bearer nope'), /^HTTP\/1\.1 407[^]*Proxy-Authenticate: Bearer realm="ccred-test"/);
    const tunnelled = await connect('Bearer ok');
    assert.match(tunnelled, /^HTTP\/1\.1 200 Connection Established\r\n\r\nHTTP\/1\.1 200/);
    assert.deepEqual(
      px.requests.map((r) => [r.method, r.proxyAuthorization, r.status]),
      [
        ['POST', undefined, 407],
        ['POST', 'Bearer ok', 200],
        ['CONNECT', 'Bearer nope', 407],
        ['CONNECT', 'Bearer ok', 200],
      ],
    );
  } finally {
    await px.close();
    await gw.close();
  }
});

// ---------------------------------------------------------------------------------------------
// The real Claude Code.

const CLAUDE_TIMEOUT = 90_000;

test('claude: apiKeyHelper value goes out as Bearer and x-api-key', { timeout: CLAUDE_TIMEOUT + 10_000 }, async (t) => {
  const avail = claudeAvailable();
  if (!avail.ok) {
    t.skip(avail.reason);
    return;
  }
  const { dir, home } = scratch('fixed');
  const helper = writeHelper(dir, 'key', 'sk-ccred-fixed-123');
  const gw = await startGateway();
  try {
    const r = await runClaude({
      home,
      settings: { apiKeyHelper: helper },
      env: { ANTHROPIC_BASE_URL: gw.url },
      timeoutMs: CLAUDE_TIMEOUT,
    });
    t.diagnostic(`claude run took ${r.durationMs} ms`);
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stdout, /pong/);
    const msgs = gw.requests.filter((q) => q.method === 'POST' && q.path.startsWith('/v1/messages'));
    assert.ok(msgs.length >= 1, 'gateway saw no /v1/messages request');
    for (const q of msgs) {
      assert.equal(q.headers['authorization'], 'Bearer sk-ccred-fixed-123');
      assert.equal(q.headers['x-api-key'], 'sk-ccred-fixed-123');
      assert.ok(q.headers['anthropic-version'], 'anthropic-version header');
    }
    const log = readHelperLog(dir, 'key');
    assert.equal(log.runs.length, 1, `helper ran ${log.runs.length} times for one request`);
    t.diagnostic(`requests: ${gw.requests.map((q) => `${q.method} ${q.path} ${q.status}`).join(', ')}`);
  } finally {
    await gw.close();
  }
});

test('claude: a 401 makes Claude Code re-run the helper and retry with the new value', { timeout: CLAUDE_TIMEOUT + 10_000 }, async (t) => {
  const avail = claudeAvailable();
  if (!avail.ok) {
    t.skip(avail.reason);
    return;
  }
  const { dir, home } = scratch('rotate');
  const helper = writeHelper(dir, 'key', 'sk-rotating-$n');
  const gw = await startGateway({ rejectValues: (v) => v === 'sk-rotating-1' });
  try {
    const started = Date.now();
    const r = await runClaude({
      home,
      settings: { apiKeyHelper: helper },
      env: { ANTHROPIC_BASE_URL: gw.url },
      timeoutMs: CLAUDE_TIMEOUT,
    });
    t.diagnostic(`claude run took ${r.durationMs} ms`);
    assert.equal(r.code, 0, describeRun(r));
    assert.match(r.stdout, /pong/);

    const msgs = gw.requests.filter((q) => q.method === 'POST' && q.path.startsWith('/v1/messages'));
    assert.deepEqual(
      msgs.map((q) => [q.credential, q.status]),
      [
        ['sk-rotating-1', 401],
        ['sk-rotating-2', 200],
      ],
    );
    assert.equal(msgs[1]?.headers['x-api-key'], 'sk-rotating-2');

    const log = readHelperLog(dir, 'key');
    assert.equal(log.runs.length, 2, 'helper runs: one at start-up, one after the 401');
    const [run1, run2] = log.runs;
    assert.ok(run1 && run2 && msgs[0] && msgs[1]);
    assert.ok(run1.at <= msgs[0].at, 'first helper run happens before the first request');
    assert.ok(run2.at >= msgs[0].at && run2.at <= msgs[1].at, 'second run is between the 401 and the retry');
    t.diagnostic(
      `helper run 1 at +${run1.at - started} ms, request 1 (401) at +${msgs[0].at - started} ms, ` +
        `helper run 2 at +${run2.at - started} ms (${run2.at - msgs[0].at} ms after the 401), ` +
        `retry at +${msgs[1].at - started} ms`,
    );

    // Ancestry: helper script ← sh ← the claude process we spawned.
    for (const n of [1, 2]) {
      const chain = log.ancestry(n);
      t.diagnostic(`run ${n} ancestry: ${chain.map((c) => `${c.pid}/${c.comm}`).join(' <- ')}`);
      assert.equal(chain[1]?.comm, 'sh', `parent of the helper is sh (got ${JSON.stringify(chain)})`);
      assert.equal(chain[1]?.ppid, r.pid, 'parent of sh is the claude process');
      assert.equal(chain[2]?.pid, r.pid);
    }
  } finally {
    await gw.close();
  }
});

async function proxyScenario(
  t: { diagnostic(msg: string): void },
  name: string,
  proxyOutput: string,
  acceptProxyValue: (v: string | undefined) => boolean,
) {
  const { dir, home } = scratch(name);
  const keyHelper = writeHelper(dir, 'key', 'sk-through-proxy');
  const proxyHelper = writeHelper(dir, 'proxy', proxyOutput);
  const gw = await startGateway({ rejectValues: (v) => v !== 'sk-through-proxy' });
  const px = await startForwardProxy({ upstreamPort: gw.port, requireProxyAuth: acceptProxyValue });
  try {
    const started = Date.now();
    const r = await runClaude({
      home,
      settings: { apiKeyHelper: keyHelper, proxyAuthHelper: proxyHelper },
      env: {
        ANTHROPIC_BASE_URL: `http://gateway.test:${gw.port}`,
        CLAUDE_CODE_ENABLE_PROXY_AUTH_HELPER: '1',
        HTTP_PROXY: px.url,
        HTTPS_PROXY: px.url,
        NO_PROXY: '',
      },
      timeoutMs: CLAUDE_TIMEOUT,
    });
    t.diagnostic(`claude run took ${r.durationMs} ms`);
    return { r, gw, px, started, proxyLog: readHelperLog(dir, 'proxy'), keyLog: readHelperLog(dir, 'key') };
  } finally {
    await px.close();
    await gw.close();
  }
}

test('claude: proxyAuthHelper output goes out as Proxy-Authorization on the proxy hop', { timeout: CLAUDE_TIMEOUT + 10_000 }, async (t) => {
  const avail = claudeAvailable();
  if (!avail.ok) {
    t.skip(avail.reason);
    return;
  }
  const { r, gw, px, proxyLog, keyLog } = await proxyScenario(t, 'proxy', 'Bearer p-123', (v) => v === 'Bearer p-123');
  assert.equal(r.code, 0, describeRun(r));
  assert.match(r.stdout, /pong/);
  const msgs = px.requests.filter((q) => q.url.includes('/v1/messages'));
  assert.ok(msgs.length >= 1, `proxy saw no /v1/messages request: ${JSON.stringify(px.requests)}`);
  for (const q of msgs) {
    assert.equal(q.proxyAuthorization, 'Bearer p-123');
    assert.ok(q.url.startsWith(`http://gateway.test:${gw.port}/`), `absolute-form target, got ${q.url}`);
  }
  const gwMsgs = gw.requests.filter((q) => q.path.startsWith('/v1/messages'));
  assert.ok(gwMsgs.length >= 1);
  assert.equal(gwMsgs[0]?.headers['authorization'], 'Bearer sk-through-proxy');
  assert.equal(gwMsgs[0]?.headers['x-api-key'], 'sk-through-proxy');
  assert.equal(gwMsgs[0]?.headers['host'], `gateway.test:${gw.port}`, 'the gateway.test name went through the proxy');
  // Claude Code 2.1.330 runs proxyAuthHelper once or twice at start-up, both before the
  // first request and neither with a challenge; apiKeyHelper once.
  assert.ok(proxyLog.runs.length >= 1 && proxyLog.runs.length <= 2, `proxy helper ran ${proxyLog.runs.length} times`);
  for (let n = 1; n <= proxyLog.runs.length; n++) assert.equal(proxyLog.env(n)['CLAUDE_CODE_PROXY_AUTHENTICATE'], undefined);
  assert.equal(keyLog.runs.length, 1);
  const env = proxyLog.env(1);
  assert.equal(env['CLAUDE_CODE_PROXY_URL'], px.url);
  assert.equal(env['CLAUDE_CODE_PROXY_HOST'], '127.0.0.1');
  assert.equal(env['CLAUDE_CODE_PROXY_AUTHENTICATE'], undefined, 'no challenge before any 407');
  t.diagnostic(`proxy helper env: ${Object.keys(env).filter((k) => /^(CLAUDE|ANTHROPIC|HTTPS?_PROXY|NO_PROXY|AI_AGENT)/.test(k)).sort().join(' ')}`);
  const chain = proxyLog.ancestry(1);
  assert.equal(chain[1]?.comm, 'sh');
  assert.equal(chain[1]?.ppid, r.pid);
});

test('claude: a 407 re-runs proxyAuthHelper with CLAUDE_CODE_PROXY_AUTHENTICATE set', { timeout: CLAUDE_TIMEOUT + 10_000 }, async (t) => {
  const avail = claudeAvailable();
  if (!avail.ok) {
    t.skip(avail.reason);
    return;
  }
  // The proxy accepts only a value from a run that saw the 407 challenge. Claude Code may run
  // the helper once or twice at start-up, so count those runs rather than assume one.
  const { r, px, started, proxyLog } = await proxyScenario(t, 'proxy407', 'Bearer p-$n${CLAUDE_CODE_PROXY_AUTHENTICATE:+-after-407}', (v) => v?.endsWith('-after-407') === true);
  assert.equal(r.code, 0, describeRun(r));
  assert.match(r.stdout, /pong/);
  const msgs = px.requests.filter((q) => q.url.includes('/v1/messages'));
  const startupRuns = proxyLog.runs.length - 1;
  assert.ok(startupRuns >= 1 && startupRuns <= 2, `proxy helper ran ${proxyLog.runs.length} times`);
  assert.deepEqual(
    msgs.map((q) => [q.proxyAuthorization, q.status]),
    [
      [`Bearer p-${startupRuns}`, 407],
      [`Bearer p-${startupRuns + 1}-after-407`, 200],
    ],
  );
  for (let n = 1; n <= startupRuns; n++) assert.equal(proxyLog.env(n)['CLAUDE_CODE_PROXY_AUTHENTICATE'], undefined);
  assert.equal(proxyLog.env(startupRuns + 1)['CLAUDE_CODE_PROXY_AUTHENTICATE'], 'Bearer realm="ccred-test"');
  const run1 = proxyLog.runs[startupRuns - 1];
  const run2 = proxyLog.runs[startupRuns];
  assert.ok(run1 && run2 && msgs[0] && msgs[1]);
  t.diagnostic(
    `proxy helper run 1 at +${run1.at - started} ms, 407 at +${msgs[0].at - started} ms, ` +
      `run 2 at +${run2.at - started} ms, retry at +${msgs[1].at - started} ms`,
  );
});
