// Run the real Claude Code CLI (node_modules/.bin/claude) headless against loopback stubs.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface RunClaudeOptions {
  /**
   * Used as HOME; `${home}/.claude/settings.json` is (over)written with `settings`, or left as
   * it is when `settings` is undefined (e.g. written by `ccred setup claude`).
   */
  home: string;
  settings?: object;
  /** Extra environment (wins over the defaults below). */
  env?: Record<string, string>;
  cwd?: string;
  /** Kill the process group after this long; default 60 000 ms. */
  timeoutMs?: number;
  /** Default "ping". */
  prompt?: string;
  /**
   * Several prompts in one session (stream-json input on stdin), each sent `gapMs` after the
   * previous answer: for what happens between turns (the helper TTL expiring).
   */
  conversation?: { prompts: string[]; gapMs: number; onResult?: (turn: number) => void };
  /** Extra CLI arguments appended after `-p <prompt> --model claude-sonnet-4-5`. */
  args?: string[];
}

export interface RunClaudeResult {
  /** pid of the claude process (also its process-group id). */
  pid: number | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

let cachedRoot: string | undefined;

/** The repository root: the nearest ancestor of this module holding package.json named "ccred". */
export function repoRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        const name = (JSON.parse(fs.readFileSync(pj, 'utf8')) as { name?: unknown }).name;
        if (name === 'ccred') return (cachedRoot = dir);
      } catch {
        // keep climbing
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no ccred package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** Path of the Claude Code binary; CCRED_CLAUDE_BIN overrides node_modules/.bin/claude. */
export function claudeBin(): string {
  const override = process.env['CCRED_CLAUDE_BIN'];
  if (override) return override;
  return path.join(repoRoot(), 'node_modules', '.bin', process.platform === 'win32' ? 'claude.cmd' : 'claude');
}

/**
 * A clean environment for Claude Code: only PATH, LANG and TMPDIR are inherited, so no
 * ANTHROPIC_*, CLAUDE_*, proxy or cloud variables from the calling shell leak in.
 */
export function baseEnv(home: string): Record<string, string> {
  const env: Record<string, string> = {
    HOME: home,
    PATH: process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
  };
  for (const k of ['LANG', 'TMPDIR', 'USER', 'LOGNAME']) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  return env;
}

let availability: { ok: true } | { ok: false; reason: string } | undefined;

/** Whether the real Claude Code runs here (`claude --version`); memoised. */
export function claudeAvailable(): { ok: true } | { ok: false; reason: string } {
  if (availability !== undefined) return availability;
  let bin: string;
  try {
    bin = claudeBin();
  } catch (e) {
    return (availability = { ok: false, reason: `cannot locate claude: ${(e as Error).message}` });
  }
  if (!fs.existsSync(bin)) {
    return (availability = { ok: false, reason: `Claude Code not installed at ${bin} (npm install)` });
  }
  const home = fs.mkdtempSync(path.join(process.env['TMPDIR'] ?? '/tmp', 'ccred-claude-version-'));
  try {
    const r = spawnSync(bin, ['--version'], {
      env: baseEnv(home),
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
      timeout: 30_000,
    });
    if (r.error) return (availability = { ok: false, reason: `${bin} --version failed: ${r.error.message}` });
    if (r.status !== 0 || !/Claude Code/i.test(r.stdout)) {
      return (availability = {
        ok: false,
        reason: `${bin} --version exited ${r.status ?? r.signal}: ${(r.stderr || r.stdout).trim().slice(0, 300)}`,
      });
    }
    return (availability = { ok: true });
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

/** `claude --version` output, e.g. "2.1.330 (Claude Code)", or undefined. */
export function claudeVersion(): string | undefined {
  const r = spawnSync(claudeBin(), ['--version'], { stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8', timeout: 30_000 });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/**
 * Run `claude -p <prompt> --model claude-sonnet-4-5` with HOME=opts.home. stdin is /dev/null
 * (an open pipe would make -p mode wait for input). The process gets its own process group,
 * which is killed (SIGKILL) after timeoutMs, so stray helper processes go with it.
 */
export async function runClaude(opts: RunClaudeOptions): Promise<RunClaudeResult> {
  const claudeDir = path.join(opts.home, '.claude');
  fs.mkdirSync(claudeDir, { recursive: true });
  if (opts.settings !== undefined) fs.writeFileSync(path.join(claudeDir, 'settings.json'), JSON.stringify(opts.settings, null, 2) + '\n');
  const env = { ...baseEnv(opts.home), ...(opts.env ?? {}) };
  const conversation = opts.conversation;
  const args = conversation === undefined
    ? ['-p', opts.prompt ?? 'ping', '--model', 'claude-sonnet-4-5', ...(opts.args ?? [])]
    : ['-p', '--input-format', 'stream-json', '--output-format', 'stream-json', '--verbose', '--model', 'claude-sonnet-4-5', ...(opts.args ?? [])];
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const started = Date.now();

  return new Promise<RunClaudeResult>((resolve, reject) => {
    const child = spawn(claudeBin(), args, {
      cwd: opts.cwd ?? opts.home,
      env,
      stdio: [conversation === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    if (conversation !== undefined) {
      // One user message per turn; the next goes gapMs after the previous turn's result line.
      let sent = 0;
      let results = 0;
      const sendNext = (): void => {
        if (sent < conversation.prompts.length) {
          const prompt = conversation.prompts[sent++]!;
          child.stdin!.write(JSON.stringify({ type: 'user', message: { role: 'user', content: prompt } }) + '\n');
        } else {
          child.stdin!.end();
        }
      };
      let pending = '';
      child.stdout!.on('data', (c: Buffer) => {
        pending += c.toString('utf8');
        let newline: number;
        while ((newline = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, newline);
          pending = pending.slice(newline + 1);
          let type: unknown;
          try { type = (JSON.parse(line) as { type?: unknown }).type; } catch { type = undefined; }
          if (type === 'result') {
            results++;
            conversation.onResult?.(results);
            setTimeout(sendNext, results < conversation.prompts.length ? conversation.gapMs : 0);
          }
        }
      });
      sendNext();
    }
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    let timedOut = false;
    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // group already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // Reap anything the run left behind in its group (e.g. a helper still sleeping).
      killGroup();
      resolve({
        pid: child.pid,
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        durationMs: Date.now() - started,
      });
    });
  });
}
