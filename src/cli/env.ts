import { requestCredential } from '../client/credentials.js'
import { envVariables } from '../output/format.js'
import { envLines, SHELLS, type Shell } from '../output/shell-env.js'
import { parseHeaderOption } from './get.js'
import { usageError, type Io } from './io.js'
import { sanitizeLine } from '../text/sanitize.js'
import { EXIT_CODES } from '../errors.js'

export async function issuedVariables(profile: string, headerOption: string | undefined, io: Io): Promise<Record<string, string>> {
  const header = parseHeaderOption(headerOption)
  const issued = await requestCredential(
    // The caller's TTL: its kind's (src/callers/), as for get.
    { profile },
    io.env,
    (line) => io.stderr.write(`${sanitizeLine(line)}\n`),
  )
  if (issued.warning !== undefined) io.stderr.write(`ccred: warning: ${sanitizeLine(issued.warning)}\n`)
  return envVariables(issued, header ?? issued.header)
}

/** `ccred env <profile>`: shell exports for `eval "$(ccred env corp)"` (or PowerShell's and cmd's syntax with --shell). */
export async function runEnv(profile: string, options: { header?: string; shell?: string }, io: Io): Promise<number> {
  const shell = (options.shell ?? 'posix') as Shell
  if (!SHELLS.includes(shell)) throw usageError(`--shell must be one of ${SHELLS.join(', ')}`, 'posix (default): eval "$(ccred env <profile>)"; powershell: ccred env <profile> --shell powershell | Invoke-Expression')
  io.stdout.write(envLines(await issuedVariables(profile, options.header, io), shell))
  return EXIT_CODES.OK
}
