import { withInProcessService } from '../client/in-process.js'
import { formatTable } from '../output/table.js'
import type { Io } from './io.js'
import { sanitizeLine, stringifyJsonSafely } from '../text/sanitize.js'
import { EXIT_CODES } from '../errors.js'

/** `ccred profiles`: what the config defines, and which profiles have errors. Reads the config only. */
export async function runProfiles(options: { json?: boolean }, io: Io): Promise<number> {
  return withInProcessService(io.env, async (service) => {
    const config = await service.config.current()
    const profiles = await service.listProfiles()
    if (options.json) {
      io.stdout.write(stringifyJsonSafely({ config: config.fromFile ? config.path : null, profiles }, 2) + '\n')
    } else {
      io.stderr.write(`config: ${sanitizeLine(config.fromFile ? config.path : `embedded default (no file at ${config.path}; run \`ccred init\`)`)}\n`)
      const rows = [['PROFILE', 'SOURCE', 'HEADER', 'DESCRIPTION'], ...profiles.map((p) => [p.name, p.source, p.header, p.error === undefined ? (p.description ?? '') : `ERROR: ${p.error.message}`])]
      io.stdout.write(formatTable(rows))
    }
    return profiles.some((p) => p.error !== undefined) ? EXIT_CODES.ERR_CONFIG : EXIT_CODES.OK
  })
}
