/** The config's own vocabulary, shared by every layer: which header, which store, the broker's settings. */
import { boolean, durationMs, oneOf, raw, table, type Infer } from './schema.js'

export type Header = 'authorization' | 'proxy-authorization'
export const HEADERS: readonly Header[] = ['authorization', 'proxy-authorization']
const STORE_KINDS = ['keychain', 'file'] as const
export type StoreKind = (typeof STORE_KINDS)[number]

export const DEFAULT_BROKER = {
  skewMs: 60_000,
  store: 'keychain' as StoreKind,
  idleExitMs: 8 * 3_600_000,
  reissueIntervalMs: 10_000,
  audit: true,
}

/**
 * `[broker]`: every key has a default. The upstream budget's two keys (forced_refresh_burst,
 * forced_refresh_every) are undefined when absent: their defaults are the broker's own
 * (src/broker/budget.ts), the one place that states them; config sits below the broker and
 * does not import it.
 */
export const brokerTable = table(
  {
    /** Extra validity beyond the caller's TTL. */
    skewMs: durationMs('skew', { fallbackMs: DEFAULT_BROKER.skewMs, maxMs: 3_600_000 }),
    store: oneOf('store', STORE_KINDS, DEFAULT_BROKER.store),
    /** The daemon exits after this long without a request. */
    idleExitMs: durationMs('idle_exit', { fallbackMs: DEFAULT_BROKER.idleExitMs, minMs: 10_000 }),
    /** At most one 401-aware re-issue per profile within this interval. */
    reissueIntervalMs: durationMs('reissue_interval', { fallbackMs: DEFAULT_BROKER.reissueIntervalMs }),
    audit: boolean('audit', DEFAULT_BROKER.audit),
    /** The upstream budget's bucket: forced refreshes and re-issues at once. */
    forcedBurst: raw('forced_refresh_burst', (value, problem) => {
      if (value === undefined) return undefined
      return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 100 ? value : problem('expected a whole number from 1 to 100')
    }),
    /** ... and one more per this interval. */
    forcedRefillMs: durationMs('forced_refresh_every', { minMs: 1000, maxMs: 3_600_000 }),
  },
  // readTopTable closes it, as it does [vault]
)
export type BrokerSettings = Infer<typeof brokerTable>
