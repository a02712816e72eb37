// A real MCP server (the official @modelcontextprotocol/sdk, Streamable HTTP, stateful
// sessions) on loopback that checks the bearer on every request, as a remote MCP server
// behind auth does. Claude Code connects to it with the headers its `headersHelper` prints.
// It records what it saw, and can answer 401 to the next tools/call (the re-run path).
import { randomUUID } from 'node:crypto'
import http from 'node:http'
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { listenOnLoopback } from './listen.js'

export interface McpRecordedRequest {
  /** The JSON-RPC method of a POST (initialize, tools/list, tools/call, …), or the HTTP method. */
  method: string
  authorization?: string
  /** Other headers a test may care about (lower-case names as Node gives them). */
  headers: http.IncomingHttpHeaders
  status: number
  at: number
}

export interface McpTestServer {
  url: string
  requests: McpRecordedRequest[]
  /** Bearer values accepted by `tools/call`, in the order the calls succeeded. */
  toolCallBearers: string[]
  /** The next `tools/call` whose bearer is accepted is answered 401 anyway (once per call). */
  rejectNextToolCall(): void
  close(): Promise<void>
}

export interface McpServerOptions {
  /** Accepts or refuses a bearer token (the value after "Bearer "); refused → 401. */
  verify(token: string): Promise<boolean> | boolean
}

function bodyOf(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => { body += chunk })
    req.on('end', () => resolve(body))
    req.on('error', reject)
  })
}

function rpcMethod(parsed: unknown): string {
  const first = Array.isArray(parsed) ? parsed[0] : parsed
  return typeof (first as { method?: unknown } | undefined)?.method === 'string' ? (first as { method: string }).method : 'response'
}

function newMcpServer(): McpServer {
  const server = new McpServer({ name: 'ccred-test-mcp', version: '1.0.0' })
  server.registerTool('ccred_echo', { description: 'Returns the word pong. Use it when asked to ping the MCP server.' }, async () => ({
    content: [{ type: 'text', text: 'mcp-pong' }],
  }))
  return server
}

export async function startMcpServer(options: McpServerOptions): Promise<McpTestServer> {
  const requests: McpRecordedRequest[] = []
  const toolCallBearers: string[] = []
  const transports = new Map<string, StreamableHTTPServerTransport>()
  let rejectNext = 0

  const httpServer = http.createServer((req, res) => {
    void (async () => {
      const text = req.method === 'POST' ? await bodyOf(req) : ''
      let parsed: unknown
      try {
        parsed = text === '' ? undefined : JSON.parse(text)
      } catch {
        parsed = undefined
      }
      const method = req.method === 'POST' ? rpcMethod(parsed) : req.method ?? '?'
      const authorization = req.headers.authorization
      const record: McpRecordedRequest = { method, headers: req.headers, status: 0, at: Date.now(), ...(authorization === undefined ? {} : { authorization }) }
      requests.push(record)
      const unauthorized = () => {
        record.status = 401
        res.writeHead(401, { 'www-authenticate': 'Bearer realm="ccred-test-mcp", error="invalid_token"', 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: 'invalid_token' }))
      }
      const token = authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : undefined
      if (token === undefined || !(await options.verify(token))) return unauthorized()
      if (method === 'tools/call') {
        if (rejectNext > 0) {
          rejectNext--
          return unauthorized()
        }
        toolCallBearers.push(token)
      }
      const sessionId = req.headers['mcp-session-id']
      let transport = typeof sessionId === 'string' ? transports.get(sessionId) : undefined
      if (transport === undefined) {
        if (typeof sessionId === 'string') {
          // A session this server does not know (restarted, or closed): 404 per the spec.
          record.status = 404
          res.writeHead(404, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }))
          return
        }
        const created = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => { transports.set(id, created) },
        })
        created.onclose = () => { if (created.sessionId !== undefined) transports.delete(created.sessionId) }
        await newMcpServer().connect(created)
        transport = created
      }
      res.on('finish', () => { record.status = res.statusCode })
      await transport.handleRequest(req, res, parsed)
    })().catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500)
      res.end(String(error))
    })
  })
  const port = await listenOnLoopback(httpServer)
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    requests,
    toolCallBearers,
    rejectNextToolCall: () => { rejectNext++ },
    close: async () => {
      for (const transport of transports.values()) await transport.close().catch(() => undefined)
      httpServer.closeAllConnections()
      await new Promise<void>((resolve) => httpServer.close(() => resolve()))
    },
  }
}
