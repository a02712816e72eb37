// A loopback LLM upstream speaking three dialects, each streamed as SSE: Anthropic
// `POST …/v1/messages`, OpenAI `POST …/chat/completions`, Gemini
// `POST …/models/<m>:streamGenerateContent?alt=sse` (and `:generateContent`, `:countTokens`).
// It accepts exactly one credential at a time in one header (`accepted`, changed by the
// test to rotate it: the old one then gets 401) and counts every request it sees.
import http from 'node:http'
import { listenOnLoopback } from './listen.js'

export interface UpstreamRequest {
  method: string
  path: string
  headers: http.IncomingHttpHeaders
  status: number
}

export interface LlmUpstream {
  url: string
  port: number
  requests: UpstreamRequest[]
  /** The one value the credential header must hold now. */
  accepted: string
  /** Answers whose connection closed before they were complete (the client, or a relay, went away). */
  readonly closedEarly: number
  close(): Promise<void>
}

export interface LlmUpstreamOptions {
  /** The header (lower case) that must carry `accepted`; default authorization. */
  header?: string
  /** What precedes the credential in it, e.g. "Bearer "; default "Bearer ". */
  prefix?: string
  accepted: string
  replyText?: string
  /** Each SSE event is written after this many ms (a streamed answer that takes time). */
  eventGapMs?: number
  /** Called after each answer with its status: a test rotates `accepted` here, mid-session. */
  onAnswered?: (request: UpstreamRequest, upstream: LlmUpstream) => void
}

function sse(res: http.ServerResponse, data: unknown, event?: string): void {
  res.write(`${event === undefined ? '' : `event: ${event}\n`}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`)
}

export async function startLlmUpstream(options: LlmUpstreamOptions): Promise<LlmUpstream> {
  const header = options.header ?? 'authorization'
  const prefix = options.prefix ?? 'Bearer '
  const text = options.replyText ?? 'pong from upstream'
  const requests: UpstreamRequest[] = []
  const state = { accepted: options.accepted, closedEarly: 0 }
  let self: LlmUpstream | undefined
  const server = http.createServer((req, res) => {
    const record: UpstreamRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, status: 0 }
    requests.push(record)
    res.on('finish', () => options.onAnswered?.(record, self!))
    res.on('close', () => { if (!res.writableFinished) state.closedEarly += 1 })
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => void answer(Buffer.concat(chunks).toString('utf8')))
    const json = (status: number, body: unknown) => {
      record.status = status
      const payload = JSON.stringify(body)
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) })
      res.end(payload)
    }
    const events = async (list: { data: unknown; event?: string }[]) => {
      record.status = 200
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
      for (const item of list) {
        if (res.destroyed) return
        sse(res, item.data, item.event)
        if (options.eventGapMs !== undefined) await new Promise((resolve) => setTimeout(resolve, options.eventGapMs))
      }
      res.end()
    }
    const answer = async (raw: string) => {
      const path = (req.url ?? '').split('?')[0] ?? ''
      if (req.headers[header] !== `${prefix}${state.accepted}`) return json(401, { error: { type: 'authentication_error', message: 'credential refused by the test upstream', code: 401, status: 'UNAUTHENTICATED' } })
      let body: { model?: string; stream?: boolean } = {}
      try { body = raw === '' ? {} : JSON.parse(raw) as typeof body } catch { return json(400, { error: { message: 'not JSON' } }) }
      const model = body.model ?? 'stub-model'
      if (path.endsWith('/v1/messages/count_tokens')) return json(200, { input_tokens: 42 })
      if (path.endsWith('/v1/messages')) {
        const usage = { input_tokens: 10, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 }
        const id = `msg_${requests.length}`
        if (body.stream !== true) return json(200, { id, type: 'message', role: 'assistant', model, content: [{ type: 'text', text }], stop_reason: 'end_turn', stop_sequence: null, usage })
        return events([
          { event: 'message_start', data: { type: 'message_start', message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage } } },
          { event: 'content_block_start', data: { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } } },
          { event: 'content_block_delta', data: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } } },
          { event: 'content_block_stop', data: { type: 'content_block_stop', index: 0 } },
          { event: 'message_delta', data: { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 2 } } },
          { event: 'message_stop', data: { type: 'message_stop' } },
        ])
      }
      if (path.endsWith('/chat/completions')) {
        const chunk = (delta: object, finish: string | null) => ({ data: { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta, finish_reason: finish }] } })
        if (body.stream !== true) return json(200, { id: 'chatcmpl-1', object: 'chat.completion', created: 1, model, choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } })
        return events([
          chunk({ role: 'assistant', content: '' }, null),
          chunk({ content: text }, null),
          { data: { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } } },
          { data: '[DONE]' },
        ])
      }
      const gemini = /\/models\/([^/:]+):(streamGenerateContent|generateContent|countTokens)$/.exec(path)
      if (gemini !== null) {
        if (gemini[2] === 'countTokens') return json(200, { totalTokens: 1 })
        const candidate = { candidates: [{ content: { parts: [{ text }], role: 'model' }, finishReason: 'STOP', index: 0 }], usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 1, totalTokenCount: 2 }, modelVersion: gemini[1] }
        if (gemini[2] === 'generateContent') return json(200, candidate)
        return events([{ data: candidate }])
      }
      if (path.endsWith('/stream')) {
        // A bare SSE stream for the relay's own tests: ten events.
        return events(Array.from({ length: 10 }, (_, i) => ({ data: { i } })))
      }
      return json(404, { error: { message: `no route ${req.method} ${path}` } })
    }
  })
  const port = await listenOnLoopback(server)
  self = {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    get accepted() { return state.accepted },
    set accepted(value: string) { state.accepted = value },
    get closedEarly() { return state.closedEarly },
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections() }),
  }
  return self
}
