import { requestCredential } from '../client/credentials.js'
import { runDoctorChecks, type Check } from '../doctor/doctor.js'
import { probeGateway } from '../doctor/gateway-probe.js'
import { EXIT_CODES } from '../errors.js'
import { formatTable } from '../output/table.js'
import { ioPlatform, type Io } from './io.js'
import { stringifyJsonSafely } from '../text/sanitize.js'

const GATEWAY_PROBE_TIMEOUT_MS = 5_000
/** `ccred doctor [profile] [--json]`: one line per check with a verdict; exit 13 when any fails. */
export async function runDoctor(profile: string | undefined, options: { json?: boolean; trustProject?: boolean }, io: Io, projectDir = process.cwd()): Promise<number> {
  const checks: Check[] = await runDoctorChecks(profile, {
    env: io.env,
    platform: ioPlatform(io),
    projectDir,
    fetchCredential: requestCredential,
    probeGateway: (url, route) => probeGateway(url, route, GATEWAY_PROBE_TIMEOUT_MS),
    trust: options.trustProject === true ? { trusted: true, by: 'flag' } : { trusted: false },
    nowMs: () => Date.now(),
  })
  const failed = checks.filter((c) => c.verdict === 'fail').length
  const warned = checks.filter((c) => c.verdict === 'warn').length
  if (options.json) {
    io.stdout.write(`${stringifyJsonSafely({ ok: failed === 0, checks }, 2)}\n`)
  } else {
    io.stdout.write(formatTable([['CHECK', 'VERDICT', 'DETAIL'], ...checks.map((c) => [c.check, c.verdict === 'ok' || c.verdict === 'info' ? c.verdict : c.verdict.toUpperCase(), c.detail])]))
    io.stdout.write(failed > 0 ? `\n${failed} problem(s) would break an agent's credential (Claude Code, Codex)${warned > 0 ? `, ${warned} warning(s)` : ''}.\n` : `\nno problems${warned > 0 ? `, ${warned} warning(s)` : ''}.\n`)
  }
  return failed > 0 ? EXIT_CODES.DOCTOR_FOUND_PROBLEMS : EXIT_CODES.OK
}
