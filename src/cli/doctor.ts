import { requestCredential } from '../client/credentials.js'
import { runDoctorChecks, type Check } from '../doctor/doctor.js'
import { formatTable } from '../output/table.js'
import type { Io } from './io.js'
import { stringifyJsonSafely } from '../text/sanitize.js'
import { EXIT_CODES } from '../errors.js'

const GATEWAY_PROBE_TIMEOUT_MS = 5_000

/** Any HTTP answer means the gateway is reachable (it may well want a credential first). */
async function probeUrl(url: string): Promise<number> {
  try {
    const response = await fetch(url, { method: 'GET', redirect: 'manual', signal: AbortSignal.timeout(GATEWAY_PROBE_TIMEOUT_MS) })
    await response.body?.cancel()
    return response.status
  } catch (error) {
    // fetch reports the socket's errno (ECONNREFUSED, ENOTFOUND) as its cause.
    const cause = (error as Error).cause as NodeJS.ErrnoException | undefined
    throw new Error(cause?.code ?? cause?.message ?? (error as Error).message, { cause: error })
  }
}

/** `ccred doctor [profile] [--json]`: one line per check with a verdict; exit 13 when any fails. */
export async function runDoctor(profile: string | undefined, options: { json?: boolean }, io: Io, projectDir = process.cwd()): Promise<number> {
  const checks: Check[] = await runDoctorChecks(profile, { env: io.env, projectDir, fetchCredential: requestCredential, probeUrl, nowMs: () => Date.now() })
  const failed = checks.filter((c) => c.verdict === 'fail').length
  const warned = checks.filter((c) => c.verdict === 'warn').length
  if (options.json) {
    io.stdout.write(`${stringifyJsonSafely({ ok: failed === 0, checks }, 2)}\n`)
  } else {
    io.stdout.write(formatTable([['CHECK', 'VERDICT', 'DETAIL'], ...checks.map((c) => [c.check, c.verdict === 'ok' ? 'ok' : c.verdict.toUpperCase(), c.detail])]))
    io.stdout.write(failed > 0 ? `\n${failed} problem(s) would break Claude Code${warned > 0 ? `, ${warned} warning(s)` : ''}.\n` : `\nno problems${warned > 0 ? `, ${warned} warning(s)` : ''}.\n`)
  }
  return failed > 0 ? EXIT_CODES.DOCTOR_FOUND_PROBLEMS : EXIT_CODES.OK
}
