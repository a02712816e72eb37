import { inProcessService } from '../client/in-process.js'
import type { Io } from './io.js'

/** `ccred profiles`: what the config defines, and which profiles have errors. Reads the config only. */
export async function runProfiles(options: { json?: boolean }, io: Io): Promise<number> {
  const service = await inProcessService(io.env)
  try {
    const config = await service.config()
    const profiles = await service.listProfiles()
    if (options.json) {
      io.stdout.write(JSON.stringify({ config: config.fromFile ? config.path : null, profiles }, null, 2) + '\n')
    } else {
      io.stderr.write(`config: ${config.fromFile ? config.path : `embedded default (no file at ${config.path}; run \`ccred init\`)`}\n`)
      const rows = [['PROFILE', 'SOURCE', 'HEADER', 'DESCRIPTION'], ...profiles.map((p) => [p.name, p.source, p.header, p.error === undefined ? (p.description ?? '') : `ERROR: ${p.error.message}`])]
      const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
      io.stdout.write(rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n') + '\n')
    }
    return profiles.some((p) => p.error !== undefined) ? 3 : 0
  } finally {
    await service.close()
  }
}
