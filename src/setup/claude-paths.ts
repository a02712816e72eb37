/**
 * Where Claude Code keeps managed settings, per OS: the one table for settingsLocations
 * and for `setup claude --help` (which lists every OS's path, whatever it runs on).
 * Imports nothing, so the CLI's help costs no file-system modules.
 */
export const MANAGED_SETTINGS_PATHS = {
  linux: '/etc/claude-code/managed-settings.json',
  darwin: '/Library/Application Support/ClaudeCode/managed-settings.json',
  win32: 'C:\\Program Files\\ClaudeCode\\managed-settings.json',
} as const

/** Any OS but macOS and Windows is treated like Linux. */
export function managedSettingsPathFor(os: NodeJS.Platform): string {
  return os === 'darwin' || os === 'win32' ? MANAGED_SETTINGS_PATHS[os] : MANAGED_SETTINGS_PATHS.linux
}

/** The scopes paragraph of `setup claude --help`: each scope's file on Linux and macOS, and on Windows. */
export function settingsScopesHelp(): string {
  return [
    'Scopes (Linux, macOS | Windows):',
    '  user     ~/.claude/settings.json                 | %USERPROFILE%\\.claude\\settings.json (or CLAUDE_CONFIG_DIR)',
    '  project  .claude/settings.json                   | .claude\\settings.json',
    '  local    .claude/settings.local.json             | .claude\\settings.local.json',
    `  managed  ${MANAGED_SETTINGS_PATHS.linux} (Linux), ${MANAGED_SETTINGS_PATHS.darwin} (macOS),`,
    `           ${MANAGED_SETTINGS_PATHS.win32} (Windows); needs root or an administrator`,
  ].join('\n')
}
