import { CcredError } from '../errors.js'

/** A credential endpoint answers in a few KiB; anything near this is not one (a proxy's page, a hostile server). */
export const MAX_UPSTREAM_RESPONSE_BYTES = 1024 * 1024

/**
 * A fetch that refuses response bodies over `maxBytes`, for client libraries
 * that read whatever arrives into memory (gaxios for google-auth-library). The
 * body is counted as it streams, so an over-long answer is cut off after
 * `maxBytes` (the connection is cancelled), not read to the end; a
 * Content-Length over the limit is refused before reading anything.
 */
export function boundedFetch(maxBytes = MAX_UPSTREAM_RESPONSE_BYTES, base: typeof fetch = globalThis.fetch): typeof fetch {
  const tooLarge = (url: string) => new CcredError('ERR_SOURCE_OUTPUT', `the answer from ${originOf(url)} is larger than ${Math.round(maxBytes / 1024)} KiB; a credential endpoint never sends that much`, {
    hint: 'check that the endpoint address is right and nothing else (a proxy, a captive portal) answers there',
  })
  return async (input, init) => {
    const response = await base(input, init)
    const url = response.url || String(input instanceof Request ? input.url : input)
    const declared = Number.parseInt(response.headers.get('content-length') ?? '', 10)
    if (Number.isFinite(declared) && declared > maxBytes) {
      await response.body?.cancel().catch(() => undefined)
      throw tooLarge(url)
    }
    if (response.body === null) return response
    let seen = 0
    const limited = response.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength
        // Erroring the stream cancels the source: the rest is never read.
        if (seen > maxBytes) controller.error(tooLarge(url))
        else controller.enqueue(chunk)
      },
    }))
    const bounded = new Response(limited, { status: response.status, statusText: response.statusText, headers: response.headers })
    // A new Response has no url; libraries use it in their messages.
    Object.defineProperty(bounded, 'url', { value: response.url })
    return bounded
  }
}

function originOf(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return 'the endpoint'
  }
}
