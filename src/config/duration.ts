const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y

/** Parses "90s", "5m", "1h30m", "500ms" into milliseconds; undefined when it is not a duration. */
export function parseDurationMs(text: string): number | undefined {
  const trimmed = text.trim()
  if (trimmed === '') return undefined
  let totalMs = 0
  PART.lastIndex = 0
  while (PART.lastIndex < trimmed.length) {
    const start = PART.lastIndex
    const match = PART.exec(trimmed)
    if (match === null || match.index !== start) return undefined
    totalMs += Number(match[1]) * UNIT_MS[match[2]!]!
  }
  // "99999999999999999999d" is digits and a unit but no usable time: an Infinity or
  // imprecise lifetime would become an invalid expiry date further on.
  const ms = Math.round(totalMs)
  return Number.isSafeInteger(ms) ? ms : undefined
}

/** 330000 -> "5m30s"; for messages and status, not for parsing back exactly. */
/**
 * A lifetime measured from a fetch, in whole seconds rounded up: the fetch itself takes
 * a few ms and JWT expiry has whole seconds, so a 2m token measures 1m59.x s.
 */
export function lifetimeInWholeSecondsMs(ms: number): number {
  return Math.ceil(ms / 1000) * 1000
}

export function formatDurationMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms)
  const sign = ms < 0 ? '-' : ''
  let rest = Math.abs(Math.round(ms))
  if (rest < 1000) return `${sign}${rest}ms`
  const parts: string[] = []
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    const count = Math.floor(rest / size)
    if (count > 0) parts.push(`${count}${unit}`)
    rest -= count * size
  }
  return sign + parts.join('')
}
