import { EXIT_CODES } from '../errors.js'
import { undoSetup } from '../setup/setup-claude.js'
import { applyCodexSetup, prepareCodexSetup } from '../setup/setup-codex.js'
import { sanitizeLine } from '../text/sanitize.js'
import { ioPlatform, usageError, type Io } from './io.js'
import { reportPlans, reportUndo } from './setup-report.js'

export interface SetupCodexOptions {
  provider?: string
  baseUrl?: string
  wireApi?: string
  default?: boolean
  mcp?: string
  mcpUrl?: string
  otel?: boolean
  fix?: boolean
  dryRun?: boolean
  undo?: boolean
}

const HTTP_URL = /^https?:\/\/[^\s/]+/

/** `ccred setup codex <profile>`: checks the options, then plans, shows and writes Codex's config.toml (src/setup/setup-codex.ts), or undoes that. */
export async function runSetupCodex(profileName: string | undefined, options: SetupCodexOptions, io: Io): Promise<number> {
  const dryRun = options.dryRun === true
  if (options.undo) return reportUndo(undoSetup('codex', io.env, dryRun), 'ccred setup codex', dryRun, io)
  if (profileName === undefined) throw usageError('which profile? ccred setup codex <profile>', 'list profiles with: ccred profiles')
  for (const [flag, url] of [['--base-url', options.baseUrl], ['--mcp-url', options.mcpUrl]] as const) {
    if (url !== undefined && !HTTP_URL.test(url)) throw usageError(`${flag} must be an http(s) URL, not "${url.slice(0, 60)}"`, `e.g. ${flag} https://llm.example.com/v1`)
  }
  if (options.mcpUrl !== undefined && options.mcp === undefined) throw usageError('--mcp-url goes with --mcp <server>', 'e.g. ccred setup codex litellm --mcp corp-tools --mcp-url https://mcp.example.com/mcp')
  const ctx = { env: io.env, projectDir: process.cwd(), platform: ioPlatform(io), warn: (line: string) => io.stderr.write(`${line}\n`) }
  const prepared = await prepareCodexSetup({
    profileName,
    makeDefault: options.default === true,
    otel: options.otel === true,
    fix: options.fix === true,
    ...(options.provider === undefined ? {} : { providerId: options.provider }),
    ...(options.baseUrl === undefined ? {} : { baseUrl: options.baseUrl }),
    ...(options.wireApi === undefined ? {} : { wireApi: options.wireApi }),
    ...(options.mcp === undefined ? {} : { mcpServer: options.mcp }),
    ...(options.mcpUrl === undefined ? {} : { mcpUrl: options.mcpUrl }),
  }, ctx)
  reportPlans(prepared.plans, dryRun, io)
  for (const warning of prepared.warnings) io.stderr.write(`ccred: ${dryRun ? 'would be ' : ''}${sanitizeLine(warning)}\n`)
  if (dryRun) return EXIT_CODES.OK
  applyCodexSetup(prepared, profileName, io.env, new Date())
  const written = prepared.plans.some((plan) => plan.changes.length > 0)
  io.stderr.write(`ccred: Codex config ${written ? 'written' : 'already set up'}: ${prepared.configPath}${written ? ' (undo: ccred setup codex --undo)' : ''}; refresh_interval_ms = ${prepared.refreshIntervalMs}\n`)
  io.stderr.write('ccred: check it with: ccred doctor\n')
  return EXIT_CODES.OK
}
