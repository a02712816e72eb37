import { generateKeyPairSync } from 'node:crypto'
import { repoRoot } from '../test/helpers/claude.js'
import { Sandbox } from '../test/helpers/sandbox.js'
import { isMain, log, ms, numberOption, printMachine, ratio, summarize, type Log, type Summary } from './lib.js'
import { timeChild } from './warm-get.js'

/**
 * Warm `ccred get` of a jwt profile (the daemon holds a minted ES256 token) against
 * the hand-made helper it replaces: a `node -e` script that imports jose and signs
 * a fresh ES256 token on every call. Interleaved with `node -e ""` in one run.
 */

export interface JwtGetOptions {
  runs: number
  budgetMs: number
  out: Log
}

export interface JwtGetResult {
  runs: number
  ccred: Summary
  naive: Summary
  node: Summary
  /** median(ccred) / median(naive): target ≤ 0.75 */
  ratio: number
  /** median(naive) / median(node) */
  naiveRatio: number
  failures: number
}

/** What the typical hand-made helper does each time Claude Code runs it. */
const NAIVE_HELPER = `import('jose').then(async ({ importPKCS8, SignJWT }) => {
  const key = await importPKCS8(process.env.GW_SIGNING_KEY, 'ES256')
  const now = Math.floor(Date.now() / 1000)
  const token = await new SignJWT({ sub: process.env.USER || 'me', team: 'engineering' })
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT' }).setIssuer('ccred').setAudience('litellm')
    .setIssuedAt(now).setNotBefore(now).setExpirationTime(now + 3600).setJti(crypto.randomUUID()).sign(key)
  process.stdout.write(token + '\\n')
})`

export async function benchJwtGet(options: JwtGetOptions): Promise<JwtGetResult> {
  const { out } = options
  const pem = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const sandbox = new Sandbox({ GW_SIGNING_KEY: pem })
  try {
    sandbox.writeConfig(`
[profiles.litellm]
source = "jwt"
[profiles.litellm.jwt]
algorithm = "ES256"
key = "env:GW_SIGNING_KEY"
claims = { iss = "ccred", aud = "litellm", sub = "\${USER}", team = "engineering" }
`)
    const ccredArgs = [sandbox.cliPath, 'get', 'litellm']
    const naiveArgs = ['-e', NAIVE_HELPER]
    const nodeArgs = ['-e', '']
    const cwd = repoRoot() // where the naive helper finds jose
    out(`jwt-get: ${options.runs} interleaved runs each of warm \`ccred get litellm\` (ES256 jwt profile), a naive \`node -e\` helper that imports jose and signs ES256 per call, and \`node -e ""\``)
    const first = await sandbox.run(['get', 'litellm'], { timeoutMs: 20_000 })
    if (first.code !== 0) throw new Error(`priming \`ccred get litellm\` failed (exit ${first.code}): ${first.stderr.trim()}`)
    for (let i = 0; i < 3; i++) {
      await timeChild(ccredArgs, sandbox.env)
      await timeChild(naiveArgs, sandbox.env, 15_000, cwd)
      await timeChild(nodeArgs, sandbox.env)
    }
    const times = { ccred: [] as number[], naive: [] as number[], node: [] as number[] }
    let failures = 0
    const deadline = performance.now() + options.budgetMs
    for (let i = 0; i < options.runs && performance.now() < deadline; i++) {
      const order = (i % 2 === 0 ? ['ccred', 'naive', 'node'] : ['node', 'naive', 'ccred']) as (keyof typeof times)[]
      for (const which of order) {
        const run = which === 'ccred' ? await timeChild(ccredArgs, sandbox.env)
          : which === 'naive' ? await timeChild(naiveArgs, sandbox.env, 15_000, cwd)
            : await timeChild(nodeArgs, sandbox.env)
        if (which !== 'node' && (run.code !== 0 || run.stdout.split('.').length !== 3)) {
          failures++
          if (failures === 1) out(`  ${which} failed (exit ${run.code}): ${run.stderr.trim().slice(0, 300)}`)
        }
        times[which].push(run.ms)
      }
    }
    const ccred = summarize(times.ccred)
    const naive = summarize(times.naive)
    const node = summarize(times.node)
    const result: JwtGetResult = { runs: Math.min(ccred.count, naive.count), ccred, naive, node, ratio: ccred.p50 / naive.p50, naiveRatio: naive.p50 / node.p50, failures }
    if (result.runs < options.runs) out(`  (time budget of ${options.budgetMs / 1000}s reached after ${result.runs} runs)`)
    out(`  ccred get litellm : median ${ms(ccred.p50)}  p90 ${ms(ccred.p90)}  (${ccred.count} runs${failures > 0 ? `, ${failures} failed` : ''})`)
    out(`  naive jose helper : median ${ms(naive.p50)}  p90 ${ms(naive.p90)}`)
    out(`  node -e ""        : median ${ms(node.p50)}  p90 ${ms(node.p90)}`)
    out(`  ccred ÷ naive (medians): ${ratio(result.ratio)} (target ≤ 0.75×); naive ÷ node: ${ratio(result.naiveRatio)}; ccred ÷ node: ${ratio(ccred.p50 / node.p50)}`)
    return result
  } finally {
    await sandbox.cleanup()
  }
}

if (isMain(import.meta.url)) {
  printMachine()
  await benchJwtGet({ runs: numberOption('runs', 30, 20, 1000), budgetMs: numberOption('warm-budget-ms', 60_000, 1_000, 600_000), out: log })
}
