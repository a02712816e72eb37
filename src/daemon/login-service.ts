import { homedir } from 'node:os'
import { join } from 'node:path'
import { DAEMON_V8_FLAGS } from './v8-flags.js'

type Env = Record<string, string | undefined>

/** Variables the daemon needs to find the same config, socket and directories as the CLI. */
const PASSED_VARIABLES = ['CCRED_CONFIG', 'CCRED_RUNTIME_DIR', 'XDG_CONFIG_HOME', 'XDG_STATE_HOME', 'XDG_DATA_HOME'] as const

export interface LoginService {
  kind: 'systemd' | 'launchd'
  path: string
  text: string
  /** Commands that load and start it (run if the tool is there; printed either way). */
  enable: string[][]
  disable: string[][]
}

/**
 * A user service that starts `ccred daemon run` at login: a systemd user unit on
 * Linux, a launchd agent on macOS. Autostart from `get` stays the default; this
 * is for people who want the daemon managed like their other agents.
 */
export function loginService(env: Env, nodePath: string, binPath: string, platform: NodeJS.Platform = process.platform): LoginService | undefined {
  const home = env.HOME || homedir()
  const passed = PASSED_VARIABLES.filter((name) => env[name] !== undefined && env[name] !== '').map((name) => [name, env[name]!] as const)
  if (platform === 'linux') {
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
      enable: [['systemctl', '--user', 'daemon-reload'], ['systemctl', '--user', 'enable', '--now', 'ccred.service']],
      disable: [['systemctl', '--user', 'disable', '--now', 'ccred.service'], ['systemctl', '--user', 'daemon-reload']],
    }
  }
  if (platform === 'darwin') {
    const path = join(home, 'Library', 'LaunchAgents', 'dev.ccred.daemon.plist')
    const xml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    const text = [
      '<?xml version="1.0" encoding="UTF-8"?>',
      '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
      '<plist version="1.0">',
      '<dict>',
      '  <key>Label</key><string>dev.ccred.daemon</string>',
      '  <key>ProgramArguments</key>',
      '  <array>',
      ...[nodePath, ...DAEMON_V8_FLAGS, binPath, 'daemon', 'run'].map((arg) => `    <string>${xml(arg)}</string>`),
      '  </array>',
      ...(passed.length === 0 ? [] : ['  <key>EnvironmentVariables</key>', '  <dict>', ...passed.map(([name, value]) => `    <key>${name}</key><string>${xml(value)}</string>`), '  </dict>']),
      '  <key>RunAtLoad</key><true/>',
      '  <key>SoftResourceLimits</key><dict><key>Core</key><integer>0</integer></dict>',
      '  <key>HardResourceLimits</key><dict><key>Core</key><integer>0</integer></dict>',
      `  <key>StandardErrorPath</key><string>${xml(join(home, 'Library', 'Logs', 'ccred', 'daemon.log'))}</string>`,
      '</dict>',
      '</plist>',
      '',
    ].join('\n')
    const uid = typeof process.getuid === 'function' ? process.getuid() : 501
    return { kind: 'launchd', path, text, enable: [['launchctl', 'bootstrap', `gui/${uid}`, path]], disable: [['launchctl', 'bootout', `gui/${uid}/dev.ccred.daemon`]] }
  }
  return undefined
}
