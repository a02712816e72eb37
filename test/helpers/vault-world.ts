// An in-process ccred (the real CredentialService, broker and vault source) against the Vault
// test server, both on one FakeClock: what the vault unit tests share.
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { CredentialService } from '../../src/service/service.js'
import { FakeClock } from '../../src/clock.js'
import { CcredError } from '../../src/errors.js'
import { MemoryStore } from '../../src/store/memory.js'
import { vaultResource } from '../../src/vault/shared.js'
import type { TokenStatus } from '../../src/vault/tokens.js'
import { startVaultServer, type VaultTestServer } from './vault-server.js'
import { withText } from './issued.js'

export const MINUTE = 60_000
export const HOUR = 60 * MINUTE

export interface World {
  clock: FakeClock
  server: VaultTestServer
  service: CredentialService
  dir: string
  env: Record<string, string>
  get(profile: string, extra?: { forceRefresh?: boolean }): Promise<{ value: string; served: string; expiresAt?: string }>
  /** Advances the fake clock and waits (real time, bounded) for what the timers started. */
  advance(ms: number, until?: () => boolean | Promise<boolean>): Promise<void>
  /** The token manager's view of the [vault] connection: logins and renewals as ccred has processed them. */
  tokens(): Promise<TokenStatus>
  status(profile: string): Promise<{ lastError?: { code: string; message: string }; cached: boolean; nextRefreshAt?: string; meta?: Record<string, string> }>
}

const worlds: World[] = []
after(async () => {
  for (const world of worlds) {
    await world.service.close()
    await world.server.close()
    rmSync(world.dir, { recursive: true, force: true })
  }
})

export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 5))
  }
  throw new Error(`timed out waiting for ${what}`)
}

export async function world(config: (server: VaultTestServer) => string, env: Record<string, string> = {}, tls?: { key: string; cert: string }): Promise<World> {
  const clock = new FakeClock()
  const server = await startVaultServer({ clock, ...(tls === undefined ? {} : { tls }) })
  const dir = mkdtempSync(join(tmpdir(), 'ccred-vault-'))
  mkdirSync(join(dir, 'home'))
  const configPath = join(dir, 'config.toml')
  const fullEnv = { HOME: join(dir, 'home'), VAULT_ADDR: server.url, ...env }
  const w: World = {
    clock,
    server,
    dir,
    env: fullEnv,
    service: undefined as unknown as CredentialService,
    get: async (profile, extra = {}) => withText(await w.service.get({ profile, callerTtlMs: 5 * MINUTE, ...extra })),
    advance: async (ms, check) => {
      clock.advance(ms)
      if (check !== undefined) await until(check, 'the background work after advancing the clock')
      else await new Promise((r) => setTimeout(r, 20))
    },
    tokens: async () => (await w.service.runtime.shared(vaultResource)).get((await w.service.config.current()).shared.of(vaultResource)).tokens.status(),
    status: async (profile) => (await w.service.status()).profiles.find((p) => p.profile === profile)!,
  }
  writeFileSync(configPath, config(server))
  w.service = new CredentialService({ env: fullEnv, clock, configPath, explicitConfig: true, store: new MemoryStore() })
  worlds.push(w)
  return w
}

export async function rejects(promise: Promise<unknown>): Promise<CcredError> {
  try {
    await promise
  } catch (error) {
    assert.ok(error instanceof CcredError, `expected a CcredError, got ${String(error)}`)
    return error
  }
  assert.fail('expected an error')
}

export function reads(server: VaultTestServer, path: string): number {
  return server.requests.filter((r) => r.method === 'GET' && r.path === `/v1/${path}`).length
}

