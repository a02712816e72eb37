import { request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { isIP } from 'node:net'
import { connect as tlsConnect, rootCertificates } from 'node:tls'

/**
 * `ccred doctor`'s reachability probe of the gateway, the way Claude Code reaches it:
 * through the HTTP(S) proxy its settings name, with the Proxy-Authorization value its
 * proxyAuthHelper prints. A probe that went direct said "no problems" while Claude Code
 * hung on a dead proxy.
 */
export interface ProbeRoute {
  /** The proxy Claude Code would use for this URL (HTTPS_PROXY / HTTP_PROXY, minus NO_PROXY). */
  proxyUrl?: string
  /** The Proxy-Authorization header value (the proxyAuthHelper's output). Never printed. */
  proxyAuthorization?: string
  /**
   * PEM text of the extra CAs Claude Code trusts (NODE_EXTRA_CA_CERTS from its settings and
   * its own environment), trusted beside the bundled roots, as Node does with the variable.
   */
  extraCaCertificates?: string[]
}

export type ProbeResult =
  | { ok: true; status: number }
  | { ok: false; where: 'proxy' | 'gateway'; reason: string }

/** One place that knows which proxy variable applies to a URL; names as Claude Code (and curl) read them. */
export function proxyFor(url: string, lookup: (name: string) => string | undefined): string | undefined {
  const target = new URL(url)
  const noProxy = lookup('NO_PROXY') ?? lookup('no_proxy')
  if (noProxy !== undefined && bypasses(target.hostname, noProxy)) return undefined
  const proxy = target.protocol === 'https:'
    ? lookup('HTTPS_PROXY') ?? lookup('https_proxy') ?? lookup('HTTP_PROXY') ?? lookup('http_proxy')
    : lookup('HTTP_PROXY') ?? lookup('http_proxy')
  return proxy === undefined || proxy === '' ? undefined : proxy
}

function bypasses(hostname: string, noProxy: string): boolean {
  return noProxy.split(/[\s,]+/).filter((entry) => entry !== '').some((entry) => {
    if (entry === '*') return true
    const bare = entry.replace(/:\d+$/, '').replace(/^\*?\./, '')
    return hostname === bare || hostname.endsWith(`.${bare}`)
  })
}

function describeNetworkError(error: unknown): string {
  const failure = error as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException }
  return failure.code ?? failure.cause?.code ?? failure.message
}

/** Any HTTP answer from the gateway means it is reachable (it may well want a credential first). */
export function probeGateway(url: string, route: ProbeRoute, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let settled = false
    const finish = (result: ProbeResult) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(result)
    }
    const timer = setTimeout(() => {
      finish({ ok: false, where: route.proxyUrl === undefined ? 'gateway' : 'proxy', reason: `no answer within ${Math.round(timeoutMs / 1000)}s` })
      cleanup()
    }, timeoutMs)
    const cleanups: (() => void)[] = []
    const cleanup = () => { for (const c of cleanups) c() }
    const answered = (response: IncomingMessage) => {
      response.resume()
      finish({ ok: true, status: response.statusCode ?? 0 })
      cleanup()
    }
    const target = new URL(url)
    // Giving `ca` replaces the bundled roots, so they are named again beside the extra ones.
    const trustOptions = route.extraCaCertificates === undefined || route.extraCaCertificates.length === 0 ? {} : { ca: [...rootCertificates, ...route.extraCaCertificates] }
    const proxyHeaders = route.proxyAuthorization === undefined ? {} : { 'proxy-authorization': route.proxyAuthorization }

    if (route.proxyUrl === undefined) {
      const req = target.protocol === 'https:' ? httpsRequest(target, { method: 'GET', ...trustOptions }, answered) : httpRequest(target, { method: 'GET' }, answered)
      req.on('error', (error) => finish({ ok: false, where: 'gateway', reason: describeNetworkError(error) }))
      cleanups.push(() => req.destroy())
      req.end()
      return
    }
    const proxy = new URL(route.proxyUrl)
    const proxyRequest = (options: Parameters<typeof httpRequest>[1], callback?: (response: IncomingMessage) => void) =>
      proxy.protocol === 'https:' ? httpsRequest(proxy, { ...trustOptions, ...options }, callback) : httpRequest(proxy, options ?? {}, callback)
    const onProxyError = (error: unknown) => finish({ ok: false, where: 'proxy', reason: describeNetworkError(error) })
    const refused = (status: number | undefined) => finish({
      ok: false,
      where: 'proxy',
      reason: status === 407
        ? `answered 407 Proxy Authentication Required ${route.proxyAuthorization === undefined ? 'to a request without Proxy-Authorization' : 'to the proxyAuthHelper value'}`
        : `answered HTTP ${status ?? '?'} to the tunnel request`,
    })

    if (target.protocol === 'http:') {
      // Plain http through a proxy: the absolute-form request goes to the proxy itself.
      const req = proxyRequest({ method: 'GET', path: target.href, headers: { host: target.host, ...proxyHeaders } }, (response) => {
        if (response.statusCode === 407) {
          response.resume()
          refused(407)
          return
        }
        answered(response)
      })
      req.on('error', onProxyError)
      cleanups.push(() => req.destroy())
      req.end()
      return
    }
    // https through a proxy: CONNECT, then TLS to the gateway inside the tunnel.
    const port = target.port === '' ? '443' : target.port
    const connectRequest = proxyRequest({ method: 'CONNECT', path: `${target.hostname}:${port}`, headers: { host: `${target.hostname}:${port}`, ...proxyHeaders } })
    connectRequest.on('error', onProxyError)
    cleanups.push(() => connectRequest.destroy())
    connectRequest.on('connect', (response: IncomingMessage, socket) => {
      cleanups.push(() => socket.destroy())
      if (response.statusCode !== 200) {
        refused(response.statusCode)
        return
      }
      // SNI carries host names only: an IP address there is a Node deprecation warning (DEP0123)
      // on stderr. `host` is what the certificate is checked against either way.
      const hostname = target.hostname.replace(/^\[|\]$/g, '')
      const tls = tlsConnect({ socket, host: hostname, ...(isIP(hostname) === 0 ? { servername: hostname } : {}), ...trustOptions })
      tls.on('error', (error) => finish({ ok: false, where: 'gateway', reason: describeNetworkError(error) }))
      const req = httpsRequest(target, { method: 'GET', createConnection: () => tls }, answered)
      req.on('error', (error) => finish({ ok: false, where: 'gateway', reason: describeNetworkError(error) }))
      cleanups.push(() => req.destroy())
      req.end()
    })
    connectRequest.end()
  })
}
