import { describeDay, mixedDay, shortTtlDay, type DayResult } from '../test/helpers/soak-day.js'
import { isMain, log, printMachine, type Log } from './lib.js'

/**
 * The soak figures (test/unit/soak.test.ts asserts them): a simulated 24 h of
 * 5-minute tokens through the real Broker on a FakeClock, printed. Takes about
 * a second of real time.
 */

export interface SoakDay {
  label: string
  result: DayResult
  expected: number
}

export async function benchSoak(out: Log = log): Promise<SoakDay[]> {
  // Whole seconds, as in the test: the jwt source's expiry has whole seconds.
  const startMs = Date.UTC(2026, 10, 22, 0, 0, 0)
  const days: SoakDay[] = []
  for (const kind of ['counting', 'jwt'] as const) days.push({ label: `${kind} source, mixed TTLs`, ...(await mixedDay(kind, startMs)) })
  days.push({ label: 'counting source, 60 s TTL only', ...(await shortTtlDay(startMs)) })
  out('soak: a simulated 24 h of 5-minute tokens, callers at random times (FakeClock)')
  for (const day of days) out(`  ${describeDay(day.label, day.result, day.expected)}`)
  return days
}

if (isMain(import.meta.url)) {
  printMachine()
  await benchSoak()
}
