import { helperContext } from '../claude/helper-context.js'
import { requestCredential } from '../client/credentials.js'
import { envExports, envVariables } from '../output/format.js'
import { parseHeaderOption } from './get.js'
import type { Io } from './io.js'
import { sanitizeLine } from '../text/sanitize.js'
import { EXIT_CODES } from '../errors.js'

export async function issuedVariables(profile: string, headerOption: string | undefined, io: Io): Promise<Record<string, string>> {
  const header = parseHeaderOption(headerOption)
  const issued = await requestCredential(
    { profile, callerTtlMs: helperContext(io.env).callerTtlMs },
    io.env,
    (line) => io.stderr.write(`${sanitizeLine(line)}\n`),
  )
  if (issued.warning !== undefined) io.stderr.write(`ccred: warning: ${sanitizeLine(issued.warning)}\n`)
  return envVariables(issued, header ?? issued.header)
}

/** `ccred env <profile>`: shell exports for `eval "$(ccred env corp)"`. */
export async function runEnv(profile: string, options: { header?: string }, io: Io): Promise<number> {
  io.stdout.write(envExports(await issuedVariables(profile, options.header, io)))
  return EXIT_CODES.OK
}
