import { existsSync } from 'node:fs'
import { runtimeDir } from '../config/paths.js'
import { stableNodePath, type Platform } from '../platform.js'
import { DAEMON_V8_FLAGS } from '../rendezvous/v8-flags.js'

/** Variables the daemon needs to find the same config, socket and directories as the CLI. */
const PASSED_VARIABLES = ['CCRED_CONFIG', 'CCRED_RUNTIME_DIR', 'XDG_CONFIG_HOME', 'XDG_STATE_HOME', 'XDG_DATA_HOME'] as const

export interface LoginService {
  kind: 'systemd' | 'launchd'
  path: string
  text: string
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
export function loginService(platform: Platform, nodePath: string, binPath: string, uid: number, exists: (path: string) => boolean = existsSync): LoginService | undefined {
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
      `ExecStart=${[nodePath, ...DAEMON_V8_FLAGS, binPath, 'daemon', 'run'].map(quote).join(' ')}`,
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
      // The Homebrew prefix's node, not the Cellar version `brew upgrade` deletes.
      ...[stableNodePath(nodePath, exists), ...DAEMON_V8_FLAGS, binPath, 'daemon', 'run'].map((arg) => `    <string>${xml(arg)}</string>`),
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
      `  <key>StandardErrorPath</key><string>${xml(join(home, 'Library', 'Logs', 'ccred', 'daemon.log'))}</string>`,
      '</dict>',
      '</plist>',
      '',
    ].join('\n')
    // bootstrap of an agent that is already loaded fails ("Bootstrap failed: 5"): unload it first.
    const bootout = ['launchctl', 'bootout', `gui/${uid}/dev.ccred.daemon`]
    return { kind: 'launchd', path, text, prepare: [bootout], enable: [['launchctl', 'bootstrap', `gui/${uid}`, path]], disable: [bootout] }
  }
  return undefined
}
