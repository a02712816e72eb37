import type { CredentialService } from '../service/service.js'
import { CcredError } from '../errors.js'
import type { RelayOpenRequest, RelayOpenResponse, RelayRouteListing } from '../protocol.js'
import type { RelayManager } from '../relay/manager.js'
import type { RelayExchange } from '../relay/route.js'
import { isProcessAlive } from '../rendezvous/process-alive.js'

/**
 * The daemon's one place for relay routes (docs/relay.md). The relay's code, and
 * undici with it, is loaded only when the first route opens: a daemon that only
 * serves `get` never loads it.
 */
export class RelayHost {
  readonly #service: CredentialService
  readonly #env: Record<string, string | undefined>
  readonly #log: (line: string) => void
  #manager: Promise<RelayManager> | undefined

  constructor(service: CredentialService, env: Record<string, string | undefined>, log: (line: string) => void) {
    this.#service = service
    this.#env = env
    this.#log = log
  }

  /** Open routes keep the daemon from its idle exit: an app configured once still relies on them. */
  async active(): Promise<boolean> {
    return this.#manager !== undefined && (await this.#manager).size > 0
  }

  async open(request: RelayOpenRequest): Promise<RelayOpenResponse> {
    // An unknown profile fails here, not at the first relayed request.
    await this.#service.config.profile(request.profile)
    return (await this.#load()).open(request)
  }

  async list(): Promise<RelayRouteListing[]> {
    return this.#manager === undefined ? [] : (await this.#manager).list()
  }

  async close(name: string): Promise<boolean> {
    return this.#manager === undefined ? false : (await this.#manager).close(name)
  }

  async stop(): Promise<void> {
    if (this.#manager !== undefined) await (await this.#manager).closeAll()
  }

  #load(): Promise<RelayManager> {
    this.#manager ??= import('../relay/manager.js').then(({ RelayManager }) => new RelayManager({
      env: this.#env,
      now: () => Date.now(),
      ownerAlive: isProcessAlive,
      credentialHeaders: async (profile, rejected) => {
        // The relay uses a value for one request's start: no validity beyond the broker's skew is needed.
        const issued = await this.#service.get({ profile, callerTtlMs: 0, headerSet: true, ...(rejected ? { rejected: true } : {}) })
        if (issued.kind !== 'headers') throw new CcredError('ERR_SOURCE_OUTPUT', `profile ${profile} gave no header set`, { hint: 'a relay profile yields a token or headers' })
        return issued.headers
      },
      // Method, path (no query), status, size and time: never a header, a key or a body.
      onExchange: (e: RelayExchange) => this.#log(`ccred relay ${e.route}: ${e.method} ${e.path} ${e.status} ${e.bytes} B ${e.durationMs} ms${e.retried ? ' (retried with a fresh credential)' : ''}`),
    }))
    return this.#manager
  }
}
