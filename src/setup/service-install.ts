import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { CcredError } from '../errors.js'
import { daemonLogPath, runtimeDir } from '../config/paths.js'
import type { Platform } from '../platform.js'
import { DAEMON_V8_FLAGS } from '../rendezvous/v8-flags.js'
import { ccredProgram, type CcredInstall } from './helper-command.js'

/** Variables the daemon needs to find the same config, socket and directories as the CLI. */
const PASSED_VARIABLES = ['CCRED_CONFIG', 'CCRED_RUNTIME_DIR', 'XDG_CONFIG_HOME', 'XDG_STATE_HOME', 'XDG_DATA_HOME'] as const

export interface LoginService {
  kind: 'systemd' | 'launchd'
  path: string
  text: string
  /** Directories the service writes into that must exist before it starts (launchd does not create a log file's directory). */
  directories: string[]
  /** Succeeds only where the service manager can take the service (a systemd user manager, a launchd GUI session). */
  probe: string[]
  /** Commands run first whose failure is expected and harmless (unloading an agent that is not loaded). */
  prepare: string[][]
  /** Commands that load and start it (run if the tool is there; printed either way). */
  enable: string[][]
  disable: string[][]
}

/**
 * A user service that starts `ccred daemon run` at login: a systemd user unit on
 * Linux, a launchd agent on macOS. Autostart from `get` stays the default; this
 * is for people who want the daemon managed like their other agents.
 */
export function loginService(platform: Platform, install: CcredInstall, uid: number, exists: (path: string) => boolean = existsSync): LoginService | undefined {
  // node takes the daemon's V8 flags before the bin; the executable is the daemon itself.
  const [program, ...rest] = ccredProgram(platform, install, exists)
  const daemonArgv = [program!, ...(install.kind === 'npm' ? DAEMON_V8_FLAGS : []), ...rest, 'daemon', 'run']
  const { env, home } = platform
  const { join } = platform.path
  const passed = PASSED_VARIABLES.filter((name) => env[name] !== undefined && env[name] !== '').map((name) => [name, env[name]!] as const)
  if (platform.os === 'linux') {
    const path = join(env.XDG_CONFIG_HOME || join(home, '.config'), 'systemd', 'user', 'ccred.service')
    const quote = (arg: string) => (/[\s"\\]/.test(arg) ? `"${arg.replace(/(["\\])/g, '\\$1')}"` : arg)
    const text = [
      '[Unit]',
      'Description=ccred: credential daemon for Claude Code',
      '',
      '[Service]',
      `ExecStart=${daemonArgv.map(quote).join(' ')}`,
      ...passed.map(([name, value]) => `Environment=${quote(`${name}=${value}`)}`),
      'Restart=on-failure',
      '# No core dumps: the daemon holds credentials in memory.',
      'LimitCORE=0',
      '',
      '[Install]',
      'WantedBy=default.target',
      '',
    ].join('\n')
    return {
      kind: 'systemd',
      path,
      text,
      directories: [], // journald keeps the log
      probe: ['systemctl', '--user', 'show-environment'],
      prepare: [],
      enable: [['systemctl', '--user', 'daemon-reload'], ['systemctl', '--user', 'enable', '--now', 'ccred.service']],
      disable: [['systemctl', '--user', 'disable', '--now', 'ccred.service'], ['systemctl', '--user', 'daemon-reload']],
    }
  }
  if (platform.os === 'darwin') {
    const path = join(home, 'Library', 'LaunchAgents', 'dev.ccred.daemon.plist')
    const xml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    // launchd gives agents PATH=/usr/bin:/bin:/usr/sbin:/sbin and its own TMPDIR: the
    // installing shell's PATH (so `exec` profiles find bare command names) and the runtime
    // directory the CLI uses (so client and daemon meet at one socket) are written in.
    const logPath = daemonLogPath(env, platform)
    const launchdEnv = new Map<string, string>(passed)
    if (env.PATH) launchdEnv.set('PATH', env.PATH)
    launchdEnv.set('CCRED_RUNTIME_DIR', runtimeDir(env, platform))
    const text = [
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
      '<plist version="1.0">',
      '<dict>',
      '  <key>Label</key><string>dev.ccred.daemon</string>',
      '  <key>ProgramArguments</key>',
      '  <array>',
      // The Homebrew prefix's node, not the Cellar version `brew upgrade` deletes (ccredProgram).
      ...daemonArgv.map((arg) => `    <string>${xml(arg)}</string>`),
      '  </array>',
      '  <key>EnvironmentVariables</key>',
      '  <dict>',
      ...[...launchdEnv].map(([name, value]) => `    <key>${name}</key><string>${xml(value)}</string>`),
      '  </dict>',
      '  <key>RunAtLoad</key><true/>',
      // Restarted after a crash, not after an idle exit or `ccred daemon stop` (both exit 0).
      '  <key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>',
      '  <key>SoftResourceLimits</key><dict><key>Core</key><integer>0</integer></dict>',
      '  <key>HardResourceLimits</key><dict><key>Core</key><integer>0</integer></dict>',
      // The same log the CLI names everywhere else (state dir, XDG_STATE_HOME honoured).
      `  <key>StandardErrorPath</key><string>${xml(logPath)}</string>`,
      '</dict>',
      '</plist>',
      '',
    ].join('\n')
    // bootstrap of an agent that is already loaded fails ("Bootstrap failed: 5"): unload it first.
    const bootout = ['launchctl', 'bootout', `gui/${uid}/dev.ccred.daemon`]
    return { kind: 'launchd', path, text, directories: [platform.path.dirname(logPath)], probe: ['launchctl', 'print', `gui/${uid}`], prepare: [bootout], enable: [['launchctl', 'bootstrap', `gui/${uid}`, path]], disable: [bootout] }
  }
  return undefined
}

/** How a service manager command went: the first line of its complaint when it failed. */
export type CommandResult = { ok: true } | { ok: false; why: string }

/** Runs a service manager command (the real one: spawnSync, 30 s at most). */
export function runServiceCommand(command: string[]): CommandResult {
  const result = spawnSync(command[0]!, command.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 30_000 })
  if (result.error === undefined && result.status === 0) return { ok: true }
  return { ok: false, why: result.error?.message ?? (result.stderr.trim().split('\n')[0] || `exit ${result.status}`) }
}

export interface InstallDeps {
  /** Runs a service manager command; undefined: run none and print them for the user (CCRED_SERVICE_MANAGER=none). */
  run?: (command: string[]) => CommandResult
  /** Stops a daemon `get` autostarted, so the service's daemon can take the socket. */
  stopAutostartedDaemon(): Promise<void>
  notice(line: string): void
}

function managerName(service: LoginService): string {
  return service.kind === 'systemd' ? 'the systemd user manager (systemctl --user)' : 'launchd (launchctl)'
}

function managerHint(service: LoginService): string {
  return service.kind === 'systemd'
    ? 'log in to a session with a user manager (ssh or a desktop login starts one; as root or in a container there is none), or: loginctl enable-linger $USER; the daemon still starts by itself on the first ccred get'
    : 'run it from your logged-in macOS session (not over ssh without one); the daemon still starts by itself on the first ccred get'
}

/**
 * `ccred daemon install`: the service manager is asked first, so where there is none
 * (no systemd user session, no launchd GUI domain) nothing is written and the running
 * daemon is left alone; the autostarted daemon is stopped only right before the
 * command that starts the service's.
 */
export async function installLoginService(service: LoginService, deps: InstallDeps): Promise<{ started: boolean }> {
  const probe = deps.run?.(service.probe)
  if (probe !== undefined && !probe.ok) {
    throw new CcredError('ERR_DAEMON', `cannot install the ccred ${service.kind} service: ${managerName(service)} is not reachable (${probe.why}); nothing was written and the running daemon was left alone`, { hint: managerHint(service) })
  }
  mkdirSync(dirname(service.path), { recursive: true })
  for (const directory of service.directories) mkdirSync(directory, { recursive: true, mode: 0o700 })
  writeFileSync(service.path, service.text, { mode: 0o644 })
  deps.notice(`ccred: wrote the ${service.kind} ${service.kind === 'systemd' ? 'user unit' : 'agent'} ${service.path}`)
  if (deps.run === undefined) {
    deps.notice(`ccred: to start it now and at login, run:\n${[...service.prepare, ...service.enable].map((c) => `  ${c.join(' ')}`).join('\n')}`)
    return { started: false }
  }
  for (const command of service.prepare) deps.run(command)
  const load = service.enable.slice(0, -1)
  const start = service.enable.at(-1)!
  for (const command of load) {
    const result = deps.run(command)
    if (!result.ok) throw startFailed(service, command, result.why, false)
  }
  await deps.stopAutostartedDaemon()
  const started = deps.run(start)
  if (!started.ok) throw startFailed(service, start, started.why, true)
  deps.notice(`ccred: the daemon now starts at login (${start.join(' ')})`)
  return { started: true }
}

function startFailed(service: LoginService, command: string[], why: string, daemonStopped: boolean): CcredError {
  return new CcredError('ERR_DAEMON', `${command.join(' ')} did not succeed (${why})${daemonStopped ? '; the autostarted daemon was stopped, and the next ccred get starts one again' : '; the running daemon was left alone'}`, {
    hint: `the service file is ${service.path}; once the cause is fixed run: ${service.enable.map((c) => c.join(' ')).join(' && ')}`,
  })
}

/** `ccred daemon uninstall`: stop and remove the login service; autostart from get keeps working. */
export function uninstallLoginService(service: LoginService, deps: Pick<InstallDeps, 'run' | 'notice'>): void {
  if (!existsSync(service.path)) {
    deps.notice(`ccred: no ${service.kind} service to remove (${service.path} does not exist)`)
    return
  }
  let stopped = deps.run !== undefined
  for (const command of deps.run === undefined ? [] : service.disable) {
    const result = deps.run!(command)
    if (!result.ok) {
      deps.notice(`ccred: ${command.join(' ')} did not succeed (${result.why})`)
      stopped = false
      break
    }
  }
  rmSync(service.path, { force: true })
  deps.notice(`ccred: removed ${service.path}${stopped ? '' : `; if it was loaded, also run:\n${service.disable.map((c) => `  ${c.join(' ')}`).join('\n')}`}`)
}
