/**
 * A loopback stub of the OpenAI Responses API as an LLM gateway in front of Codex serves it:
 * `GET {base}/models` and `POST {base}/responses` (SSE), each authenticated from
 * `Authorization: Bearer <v>` the way a gateway does it (a `verify` hook, e.g. a JWT checked
 * against the profile's JWKS). Like the real API it answers 401 with an OpenAI error object when
 * the credential is missing or refused, requires a JSON body with `model` and `input`, and
 * streams `response.created` → `response.output_item.done` → `response.completed`.
 */
import http from 'node:http'
import { listenOnLoopback } from './listen.js'

export interface ResponsesRequest {
  method: string
  path: string
  headers: http.IncomingHttpHeaders
  /** The bearer value Codex sent, or undefined. */
  credential?: string
  status: number
  rejection?: string
}

export interface ResponsesServer {
  /** The base URL Codex is given (`…/v1`); Codex appends /responses and /models. */
  baseUrl: string
  requests: ResponsesRequest[]
  /** Only the model turns (`POST …/responses`). */
  turns(): ResponsesRequest[]
  close(): Promise<void>
}

export interface ResponsesServerOptions {
  /** Resolves to a reason to answer 401, or undefined to accept. Missing credentials are always refused. */
  verify?: (credential: string) => Promise<string | undefined>
  /**
   * The gateway revokes the first credential it sees on a model turn (the upstream rotated it):
   * that turn and every later request carrying it get 401, so going on needs a new credential.
   */
  revokeFirstCredential?: boolean
  replyText?: string
}

function bearerOf(headers: http.IncomingHttpHeaders): string | undefined {
  const match = /^Bearer (\S.*)$/.exec(headers.authorization ?? '')
  return match === null ? undefined : match[1]
}

function sse(events: Record<string, unknown>[]): string {
  return events.map((event) => `event: ${String(event.type)}\ndata: ${JSON.stringify(event)}\n\n`).join('')
}

function openAiError(res: http.ServerResponse, status: number, message: string, code: string): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ error: { message, type: status === 401 ? 'invalid_request_error' : 'invalid_request_error', param: null, code } }))
}

export async function startResponsesServer(options: ResponsesServerOptions = {}): Promise<ResponsesServer> {
  const requests: ResponsesRequest[] = []
  const revoked = new Set<string>()
  let turn = 0
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      void (async () => {
        const path = req.url ?? '/'
        const credential = bearerOf(req.headers)
        const record: ResponsesRequest = { method: req.method ?? '', path, headers: req.headers, status: 0, ...(credential === undefined ? {} : { credential }) }
        requests.push(record)
        const isTurn = req.method === 'POST' && path.split('?')[0] === '/v1/responses'
        if (isTurn) turn++
        const refuse = (reason: string) => {
          record.status = 401
          record.rejection = reason
          openAiError(res, 401, `Incorrect API key provided: ${reason}`, 'invalid_api_key')
        }
        if (credential === undefined) return refuse('no bearer credential')
        const rejection = await options.verify?.(credential)
        if (rejection !== undefined) return refuse(rejection)
        if (isTurn && options.revokeFirstCredential === true && revoked.size === 0) revoked.add(credential)
        if (revoked.has(credential)) return refuse('the credential was revoked')
        if (req.method === 'GET' && path.split('?')[0] === '/v1/models') {
          record.status = 200
          res.writeHead(200, { 'content-type': 'application/json' })
          // Codex's models endpoint shape (`{ models: [...] }`); an empty list makes Codex use its fallback metadata.
          res.end(JSON.stringify({ models: [] }))
          return
        }
        if (!isTurn) {
          record.status = 404
          return openAiError(res, 404, `no route ${req.method} ${path}`, 'not_found')
        }
        let body: { model?: unknown; input?: unknown }
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body
        } catch {
          record.status = 400
          return openAiError(res, 400, 'the body is not JSON', 'invalid_json')
        }
        if (typeof body.model !== 'string' || !Array.isArray(body.input)) {
          record.status = 400
          return openAiError(res, 400, 'model and input are required', 'missing_required_parameter')
        }
        record.status = 200
        const id = `resp_${turn}`
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' })
        res.end(sse([
          { type: 'response.created', response: { id } },
          { type: 'response.output_item.done', item: { type: 'message', role: 'assistant', id: `msg_${turn}`, content: [{ type: 'output_text', text: options.replyText ?? 'pong' }] } },
          { type: 'response.completed', response: { id, usage: { input_tokens: 1, input_tokens_details: null, output_tokens: 1, output_tokens_details: null, total_tokens: 2 } } },
        ]))
      })()
    })
  })
  const port = await listenOnLoopback(server)
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    turns: () => requests.filter((r) => r.method === 'POST' && r.path.split('?')[0] === '/v1/responses'),
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
  }
}
