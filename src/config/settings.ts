/** The config's own vocabulary, shared by every layer: which header, which store, the broker's settings. */

export type Header = 'authorization' | 'proxy-authorization'
export const HEADERS: readonly Header[] = ['authorization', 'proxy-authorization']
export type StoreKind = 'keychain' | 'file'

export interface BrokerSettings {
  /** Extra validity beyond the caller's TTL. */
  skewMs: number
  store: StoreKind
  /** The daemon exits after this long without a request. */
  idleExitMs: number
  /** At most one 401-aware re-issue per profile within this interval. */
  reissueIntervalMs: number
  audit: boolean
}

export const DEFAULT_BROKER: BrokerSettings = {
  skewMs: 60_000,
  store: 'keychain',
  idleExitMs: 8 * 3_600_000,
  reissueIntervalMs: 10_000,
  audit: true,
}
