/**
 * Proves test/helpers/secret-service.ts: keytar in a CHILD process, given the
 * helper's env, really stores, finds and deletes a secret in gnome-keyring;
 * and keytar without any Secret Service fails fast instead of hanging.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startSecretService } from '../helpers/secret-service.js';

function findRepoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === 'ccred') return dir;
      } catch {
        // keep looking
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the ccred repo root above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

const REPO_ROOT = findRepoRoot();
const HARD_TIMEOUT_MS = 20_000;

/**
 * Child program (ESM). Loads keytar the way ccred does (createRequire from the
 * repo root + dynamic import), runs the ops named in CCRED_T_OPS, and prints a
 * JSON report: per op either {ok, value, ms} or {ok:false, error, ms}.
 */
const CHILD = String.raw`
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
const req = createRequire(process.env.CCRED_T_ROOT + '/package.json');
let keytar;
try {
  const mod = await import(pathToFileURL(req.resolve('keytar')).href);
  keytar = mod.default ?? mod;
} catch (e) {
  console.log(JSON.stringify({ loadError: String(e && e.message || e) }));
  process.exit(0);
}
const ops = {
  set: () => keytar.setPassword('ccred-test', 'k', 'v'),
  get: () => keytar.getPassword('ccred-test', 'k'),
  find: () => keytar.findCredentials('ccred-test'),
  del: () => keytar.deletePassword('ccred-test', 'k'),
};
const report = [];
for (const name of process.env.CCRED_T_OPS.split(',')) {
  const t0 = performance.now();
  try {
    const value = await ops[name]();
    report.push({ op: name, ok: true, value: value === undefined ? null : value, ms: Math.round(performance.now() - t0) });
  } catch (e) {
    report.push({ op: name, ok: false, error: String(e && e.message || e), ms: Math.round(performance.now() - t0) });
  }
}
console.log(JSON.stringify({ report }));
`;

interface OpResult {
  op: string;
  ok: boolean;
  value?: unknown;
  error?: string;
  ms: number;
}

interface ChildRun {
  loadError?: string;
  report?: OpResult[];
  ms: number;
  timedOut: boolean;
  raw: string;
}

function keytarInstalled(): boolean {
  return existsSync(path.join(REPO_ROOT, 'node_modules', 'keytar', 'package.json'));
}

function runKeytarChild(env: NodeJS.ProcessEnv, ops: string[]): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
      cwd: REPO_ROOT,
      env: { ...env, CCRED_T_ROOT: REPO_ROOT, CCRED_T_OPS: ops.join(',') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, HARD_TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = Date.now() - t0;
      const raw = `exit=${signal ?? String(code)} stdout=${out.trim()} stderr=${err.trim()}`;
      const line = out.trim().split('\n').pop() ?? '';
      try {
        const parsed = JSON.parse(line) as { loadError?: string; report?: OpResult[] };
        resolve({ ...parsed, ms, timedOut, raw });
      } catch {
        resolve({ ms, timedOut, raw });
      }
    });
  });
}

/** process.env without any way to reach a session bus or a display. */
async function envWithoutBus(): Promise<{ env: NodeJS.ProcessEnv; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'ccred-nobus-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: dir,
    XDG_RUNTIME_DIR: dir, // no $XDG_RUNTIME_DIR/bus here
    XDG_DATA_HOME: path.join(dir, 'data'),
    XDG_CONFIG_HOME: path.join(dir, 'config'),
  };
  for (const v of ['DBUS_SESSION_BUS_ADDRESS', 'DBUS_STARTER_ADDRESS', 'DBUS_STARTER_BUS_TYPE', 'DISPLAY', 'WAYLAND_DISPLAY']) {
    delete env[v];
  }
  return { env, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

function byOp(run: ChildRun, t: TestContext): Record<string, OpResult> {
  assert.equal(run.timedOut, false, `keytar child hung for ${HARD_TIMEOUT_MS} ms: ${run.raw}`);
  assert.equal(run.loadError, undefined, `keytar failed to load in the child: ${run.loadError ?? ''}`);
  assert.ok(run.report, `no JSON report from the child: ${run.raw}`);
  const map: Record<string, OpResult> = {};
  for (const r of run.report) {
    map[r.op] = r;
    t.diagnostic(`${r.op}: ${r.ok ? 'ok ' + JSON.stringify(r.value) : 'error ' + JSON.stringify(r.error)} (${r.ms} ms)`);
  }
  return map;
}

test('startSecretService gives a child keytar a working, unlocked keyring', async (t) => {
  if (!keytarInstalled()) {
    t.skip('keytar (optional dependency) is not installed');
    return;
  }
  const t0 = Date.now();
  const ss = await startSecretService();
  if (!ss.ok) {
    console.log(`skipping: Secret Service unavailable: ${ss.reason}`);
    t.skip(ss.reason);
    return;
  }
  t.after(() => ss.stop());
  t.diagnostic(`Secret Service up in ${Date.now() - t0} ms at ${ss.env['DBUS_SESSION_BUS_ADDRESS'] ?? '?'}`);

  for (const key of ['DBUS_SESSION_BUS_ADDRESS', 'HOME', 'XDG_DATA_HOME', 'XDG_RUNTIME_DIR', 'XDG_CONFIG_HOME']) {
    assert.ok(ss.env[key], `env.${key} is set`);
  }
  assert.ok(ss.env['HOME']?.startsWith(ss.dir), 'HOME is inside the throwaway dir');

  const run = await runKeytarChild({ ...process.env, ...ss.env }, ['set', 'get', 'find', 'del', 'get']);
  const report = run.report ?? [];
  byOp(run, t);
  assert.deepEqual(
    report.map((r) => [r.op, r.ok, r.value]),
    [
      ['set', true, null],
      ['get', true, 'v'],
      ['find', true, [{ account: 'k', password: 'v' }]],
      ['del', true, true],
      ['get', true, null],
    ],
    run.raw,
  );
  // No prompt: every operation answered before the child's hang guard (no bound taken from wall time).
  assert.equal(run.timedOut, false, `the keytar child hung (a prompt?): ${run.raw}`);

  // The secret really lives in the throwaway keyring directory.
  assert.ok(
    existsSync(path.join(ss.env['XDG_DATA_HOME'] ?? '', 'keyrings', 'login.keyring')),
    'login.keyring was created under the isolated XDG_DATA_HOME',
  );

  await ss.stop();
  await ss.stop(); // idempotent
  assert.equal(existsSync(ss.dir), false, 'stop() removes the throwaway dir');
});

test('keytar in a child without a session bus fails fast with an error', async (t) => {
  if (process.platform === 'win32') {
    t.skip('the Secret Service (D-Bus) is Linux\'s; node_modules holds a Linux keytar build');
    return;
  }
  if (!keytarInstalled()) {
    t.skip('keytar (optional dependency) is not installed');
    return;
  }
  const { env, cleanup } = await envWithoutBus();
  t.after(cleanup);
  const run = await runKeytarChild(env, ['set', 'get', 'find', 'del']);
  const ops = byOp(run, t);
  t.diagnostic(`child total ${run.ms} ms (includes node start-up)`);
  for (const name of ['set', 'get', 'find', 'del']) {
    const r = ops[name];
    assert.ok(r, `${name} ran`);
    assert.equal(r.ok, false, `${name} must fail without a Secret Service: ${run.raw}`);
    // libsecret/GIO: "Cannot autolaunch D-Bus without X11 $DISPLAY" (no DISPLAY),
    // or "Error spawning command line “dbus-launch --autolaunch=…”" (with one).
    assert.match(r.error ?? '', /d-?bus/i);
  }
  assert.equal(run.timedOut, false, `the keytar child hung instead of failing: ${run.raw}`);
});

test('keytar with a session bus but no unlocked keyring fails fast (headless)', async (t) => {
  if (!keytarInstalled()) {
    t.skip('keytar (optional dependency) is not installed');
    return;
  }
  // The bus D-Bus-activates gnome-keyring-daemon, which has no login keyring
  // and wants to prompt for one; with no display the prompter dies and the
  // call errors out. (On a desktop this is where a GUI prompt would appear.)
  const ss = await startSecretService(); // only to learn whether the tools exist
  if (!ss.ok) {
    t.skip(ss.reason);
    return;
  }
  await ss.stop();
  const { env, cleanup } = await envWithoutBus();
  t.after(cleanup);
  const t0 = Date.now();
  const run = await new Promise<ChildRun>((resolve, reject) => {
    // Same child program, but inside a bare `dbus-run-session` (no keyring).
    const child = spawn(
      'dbus-run-session',
      ['--', process.execPath, '--input-type=module', '-e', CHILD],
      {
        cwd: REPO_ROOT,
        env: { ...env, CCRED_T_ROOT: REPO_ROOT, CCRED_T_OPS: 'set,get' },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      },
    );
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }, HARD_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const raw = `exit=${signal ?? String(code)} stdout=${out.trim()} stderr=${err.trim()}`;
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve({ ...(JSON.parse(line) as { report?: OpResult[] }), ms: Date.now() - t0, timedOut, raw });
      } catch {
        resolve({ ms: Date.now() - t0, timedOut, raw });
      }
    });
  });
  const ops = byOp(run, t);
  for (const name of ['set', 'get']) {
    const r = ops[name];
    assert.ok(r, `${name} ran`);
    if (name === 'set') {
      // "Object does not exist at path “/org/freedesktop/secrets/collection/login”"
      assert.equal(r.ok, false, `set must fail without an unlocked keyring: ${run.raw}`);
    }
  }
  assert.equal(run.timedOut, false, `the keytar child hung instead of failing: ${run.raw}`);
});
