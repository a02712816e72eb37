/**
 * Test helper: a REAL, isolated Secret Service (gnome-keyring) for keytar.
 *
 * startSecretService() spawns, in its own process group,
 *
 *   dbus-run-session -- sh -c '<script>'
 *
 * with a throwaway HOME / XDG_* tree. The script reads a random password from
 * its stdin, starts `gnome-keyring-daemon --foreground --unlock
 * --components=secrets` with that password piped in (this creates the "login"
 * keyring on first use and unlocks it, so no GUI prompt is ever needed), waits
 * until the daemon owns org.freedesktop.secrets on the private session bus,
 * checks that the "default" alias resolves to an unlocked collection, prints
 * the bus address and then blocks on its stdin. The session therefore ends
 * when stop() is called, and also when the test process dies (its end of the
 * stdin pipe closes -> the script exits -> dbus-run-session tears down the bus
 * -> gnome-keyring-daemon exits on losing it).
 *
 * Returned `env` is what a child process needs so that keytar (libsecret) in
 * it talks to this keyring: spawn it with `{ ...process.env, ...env }`.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export interface SecretServiceRunning {
  ok: true;
  /**
   * Variables for a child process: DBUS_SESSION_BUS_ADDRESS, HOME,
   * XDG_DATA_HOME, XDG_CONFIG_HOME, XDG_CACHE_HOME, XDG_STATE_HOME,
   * XDG_RUNTIME_DIR. Merge as `{ ...process.env, ...env }` (put your own
   * overrides, e.g. a config dir, after it).
   */
  env: Record<string, string>;
  /** Root of the throwaway tree (HOME etc. live below it); removed by stop(). */
  dir: string;
  /** Kills the whole session (process group) and removes `dir`. Idempotent. */
  stop(): Promise<void>;
}

export interface SecretServiceUnavailable {
  ok: false;
  /** Precise, human-readable reason; meant for `t.skip(reason)`. */
  reason: string;
}

export type SecretServiceResult = SecretServiceRunning | SecretServiceUnavailable;

export interface StartSecretServiceOptions {
  /** Upper bound for the whole start-up, in ms. Default 10000. */
  timeoutMs?: number;
}

const REQUIRED_COMMANDS: ReadonlyArray<{ cmd: string; pkg: string }> = [
  { cmd: 'dbus-run-session', pkg: 'dbus (dbus-daemon)' },
  { cmd: 'dbus-daemon', pkg: 'dbus (dbus-daemon)' },
  { cmd: 'dbus-send', pkg: 'dbus (dbus-bin)' },
  { cmd: 'gnome-keyring-daemon', pkg: 'gnome-keyring' },
];

/** Variables from the parent that must not leak into the isolated session. */
const SCRUBBED_VARS = [
  'DBUS_SESSION_BUS_ADDRESS',
  'DBUS_STARTER_ADDRESS',
  'DBUS_STARTER_BUS_TYPE',
  'GNOME_KEYRING_CONTROL',
  'DISPLAY',
  'WAYLAND_DISPLAY',
];

// Runs under `sh` (dash on Debian) inside dbus-run-session. Protocol on
// stdout: "CCRED_SS_BUS=<addr>", "CCRED_SS_COLLECTION=<path>",
// "CCRED_SS_READY", or "CCRED_SS_FAIL=<reason>" (then exit 1). Everything
// else the daemons say goes to stderr.
const SESSION_SCRIPT = String.raw`
fail() { echo "CCRED_SS_FAIL=$*"; exit 1; }
call() { dbus-send --session --print-reply --reply-timeout=2000 "$@" 2>&1; }
IFS= read -r pw || fail "no keyring password on stdin"
[ -n "$DBUS_SESSION_BUS_ADDRESS" ] || fail "dbus-run-session did not set DBUS_SESSION_BUS_ADDRESS"
printf '%s' "$pw" | gnome-keyring-daemon --foreground --unlock --components=secrets >&2 &
gkd=$!
pw=
# Poll with NameHasOwner (asking org.freedesktop.secrets itself would D-Bus
# activate a second, locked daemon while ours is still starting).
i=0
until call --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets | grep -q 'boolean true'; do
  kill -0 "$gkd" 2>/dev/null || fail "gnome-keyring-daemon exited before owning org.freedesktop.secrets"
  i=$((i + 1))
  [ "$i" -lt 150 ] || fail "gnome-keyring-daemon did not own org.freedesktop.secrets within 15 s"
  sleep 0.1
done
read_alias() {
  call --dest=org.freedesktop.secrets /org/freedesktop/secrets org.freedesktop.Secret.Service.ReadAlias string:default \
    | sed -n 's/.*object path "\(.*\)".*/\1/p'
}
coll=$(read_alias)
if [ -z "$coll" ] || [ "$coll" = "/" ]; then
  # No default alias yet: point it at the login keyring created by --unlock.
  call --dest=org.freedesktop.secrets /org/freedesktop/secrets org.freedesktop.Secret.Service.SetAlias \
    string:default objpath:/org/freedesktop/secrets/collection/login >&2
  coll=$(read_alias)
fi
case "$coll" in
  ""|/) fail "no default collection (ReadAlias default returned '$coll')" ;;
esac
locked=$(call --dest=org.freedesktop.secrets "$coll" org.freedesktop.DBus.Properties.Get string:org.freedesktop.Secret.Collection string:Locked)
case "$locked" in
  *"boolean false"*) ;;
  *) fail "default collection $coll is not unlocked: $(echo $locked)" ;;
esac
echo "CCRED_SS_BUS=$DBUS_SESSION_BUS_ADDRESS"
echo "CCRED_SS_COLLECTION=$coll"
echo "CCRED_SS_READY"
# Live until our parent closes stdin (stop()) or dies. If it died without
# stop(), also remove the throwaway tree ourselves.
cat >/dev/null
kill "$gkd" 2>/dev/null
wait "$gkd" 2>/dev/null
case "$CCRED_SS_DIR" in
  */ccred-ss-*) rm -rf "$CCRED_SS_DIR" ;;
esac
`;

async function findOnPath(cmd: string, envPath: string | undefined): Promise<string | undefined> {
  for (const dir of (envPath ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, cmd);
    try {
      await access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: group already gone
  }
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

function tail(text: string, max = 1500): string {
  const trimmed = text.trim();
  return trimmed.length > max ? '…' + trimmed.slice(-max) : trimmed;
}

export async function startSecretService(
  options: StartSecretServiceOptions = {},
): Promise<SecretServiceResult> {
  const timeoutMs = options.timeoutMs ?? 10_000;

  if (process.platform !== 'linux') {
    return { ok: false, reason: `Secret Service helper needs Linux (platform is ${process.platform})` };
  }
  const missing: string[] = [];
  for (const { cmd, pkg } of REQUIRED_COMMANDS) {
    if ((await findOnPath(cmd, process.env['PATH'])) === undefined) {
      missing.push(`'${cmd}' (Debian package ${pkg})`);
    }
  }
  if (missing.length > 0) {
    return { ok: false, reason: `not found on PATH: ${missing.join(', ')}` };
  }

  const dir = await mkdtemp(path.join(os.tmpdir(), 'ccred-ss-'));
  const home = path.join(dir, 'home');
  const paths = {
    HOME: home,
    XDG_DATA_HOME: path.join(home, '.local', 'share'),
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
    XDG_STATE_HOME: path.join(home, '.local', 'state'),
    XDG_RUNTIME_DIR: path.join(dir, 'run'),
  };
  for (const p of Object.values(paths)) await mkdir(p, { recursive: true, mode: 0o700 });
  await chmod(paths.XDG_RUNTIME_DIR, 0o700); // gnome-keyring insists on 0700

  const sessionEnv: NodeJS.ProcessEnv = { ...process.env, ...paths, CCRED_SS_DIR: dir };
  for (const name of SCRUBBED_VARS) delete sessionEnv[name];

  const child = spawn('dbus-run-session', ['--', 'sh', '-c', SESSION_SCRIPT], {
    cwd: home,
    env: sessionEnv,
    detached: true, // own process group, so stop() can kill all of it
    stdio: ['pipe', 'pipe', 'pipe'],
  });

  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-16_384);
  });
  child.stdin?.on('error', () => {
    // EPIPE if the session died early; reported through 'exit' instead.
  });

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    child.stdin?.end();
    killGroup(child, 'SIGTERM');
    if (!(await waitForExit(child, 3000))) {
      killGroup(child, 'SIGKILL');
      await waitForExit(child, 2000);
    }
    // Anything in the group that outlived dbus-run-session (it should not).
    killGroup(child, 'SIGKILL');
    await rm(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 100 });
  };

  const outcome = await new Promise<
    { ready: true; bus: string } | { ready: false; reason: string }
  >((resolve) => {
    let stdoutBuf = '';
    let bus: string | undefined;
    let settled = false;
    const settle = (
      value: { ready: true; bus: string } | { ready: false; reason: string },
    ): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(value);
    };
    const timer = setTimeout(() => {
      settle({
        ready: false,
        reason: `Secret Service did not come up within ${timeoutMs} ms` + (stderr ? `; stderr: ${tail(stderr)}` : ''),
      });
    }, timeoutMs);

    child.on('error', (err: Error) => {
      settle({ ready: false, reason: `cannot spawn dbus-run-session: ${err.message}` });
    });
    child.on('exit', (code, signal) => {
      // Give stdout's last line a chance to be parsed first.
      setImmediate(() =>
        settle({
          ready: false,
          reason:
            `dbus-run-session exited (${signal ?? `code ${String(code)}`}) before the Secret Service was ready` +
            (stderr ? `; stderr: ${tail(stderr)}` : ''),
        }),
      );
    });
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      stdoutBuf += chunk;
      let nl: number;
      while ((nl = stdoutBuf.indexOf('\n')) >= 0) {
        const line = stdoutBuf.slice(0, nl).trim();
        stdoutBuf = stdoutBuf.slice(nl + 1);
        if (line.startsWith('CCRED_SS_BUS=')) {
          bus = line.slice('CCRED_SS_BUS='.length);
        } else if (line === 'CCRED_SS_READY') {
          if (bus) settle({ ready: true, bus });
          else settle({ ready: false, reason: 'session script reported ready without a bus address' });
        } else if (line.startsWith('CCRED_SS_FAIL=')) {
          settle({
            ready: false,
            reason: line.slice('CCRED_SS_FAIL='.length) + (stderr ? `; stderr: ${tail(stderr)}` : ''),
          });
        }
      }
    });

    // Random per-session keyring password, first line of the script's stdin.
    child.stdin?.write(randomBytes(18).toString('hex') + '\n');
  });

  if (!outcome.ready) {
    await stop();
    return { ok: false, reason: outcome.reason };
  }

  // Do not let the session keep the test process alive: if the process exits
  // without stop(), the stdin pipe closes and the session tears itself down.
  child.unref();
  for (const s of [child.stdin, child.stdout, child.stderr]) {
    (s as unknown as Socket | null)?.unref?.();
  }
  child.stdout?.resume();

  return {
    ok: true,
    env: { DBUS_SESSION_BUS_ADDRESS: outcome.bus, ...paths },
    dir,
    stop,
  };
}
