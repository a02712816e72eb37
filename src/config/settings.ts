/** The config's own vocabulary, shared by every layer: which header, which store, the broker's settings. */
import { boolean, durationMs, oneOf, table, type Infer } from './schema.js'

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

/** `[broker]`: every key has a default. */
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
  },
  // readTopTable closes it, as it does [vault]
)
export type BrokerSettings = Infer<typeof brokerTable>
