// A loopback stub of the Anthropic Messages API, shaped like an LLM gateway (e.g. LiteLLM):
// it authenticates each request from `authorization: Bearer <v>` or `x-api-key: <v>` and
// answers `POST /v1/messages` with a canned "pong" reply (SSE when the body asks to stream).
import http from 'node:http';
import { listenOnLoopback } from './listen.js';

export interface RecordedRequest {
  method: string;
  /** Path with query string, e.g. `/v1/messages?beta=true` (absolute-form requests are reduced to this). */
  path: string;
  /** Header names lower-cased, as node gives them. */
  headers: http.IncomingHttpHeaders;
  body?: string;
  /** Credential the gateway extracted (Bearer value, else x-api-key), or undefined. */
  credential?: string;
  /** Why `verify` refused the credential, if it did. */
  rejection?: string;
  /** Status code the gateway answered with. */
  status?: number;
  /** Date.now() when the request headers arrived. */
  at: number;
}

export interface Gateway {
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** The names of the tools the gateway asked Claude Code to call (callToolEndingWith), in order. */
  toolCalls: string[];
  /** The text of each tool_result Claude Code sent back, in order. */
  toolResults: string[];
  close(): Promise<void>;
}

export interface GatewayOptions {
  /** Return true to reject a credential with 401 (missing/empty credentials are always rejected). */
  rejectValues?: (value: string) => boolean;
  /**
   * Checks a credential the way a real gateway would (e.g. a JWT against a remote JWKS):
   * resolves to a reason to answer 401, or undefined to accept.
   */
  verify?: (value: string) => Promise<string | undefined>;
  /** Text of the assistant reply; default "pong". */
  replyText?: string;
  /**
   * Scripts an MCP tool call: when a request's `tools` hold a tool whose name ends with this
   * (Claude Code names MCP tools `mcp__<server>__<tool>`) and its messages hold no tool_result
   * yet, the reply is a `tool_use` block for that tool (stop_reason "tool_use"); once the
   * tool_result is there, the usual text reply. E.g. "ccred_echo".
   */
  callToolEndingWith?: string;
}

/** Extract the credential: `authorization: Bearer <v>` first, then `x-api-key`. */
export function credentialOf(headers: http.IncomingHttpHeaders): string | undefined {
  const auth = headers['authorization'];
  if (typeof auth === 'string') {
    const m = /^\s*bearer\s+(.*)$/i.exec(auth);
    if (m && m[1] !== undefined && m[1].trim() !== '') return m[1].trim();
  }
  const key = headers['x-api-key'];
  if (typeof key === 'string' && key.trim() !== '') return key.trim();
  return undefined;
}

function pathOf(rawUrl: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(rawUrl)) {
    const u = new URL(rawUrl);
    return u.pathname + u.search;
  }
  return rawUrl;
}

/** The Anthropic streaming events of a one-block text reply. */
function streamEvents(id: string, model: string, text: string): { type: string }[] {
  return [
    {
      type: 'message_start',
      message: {
        id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null,
        usage: { input_tokens: 10, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
      },
    },
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } },
    { type: 'content_block_stop', index: 0 },
    { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 2 } },
    { type: 'message_stop' },
  ] as { type: string }[];
}

/** The Anthropic streaming events of a reply that calls one tool with an empty input. */
function toolUseEvents(id: string, model: string, toolUseId: string, toolName: string): { type: string }[] {
  return [
    {
      type: 'message_start',
      message: {
        id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null,
        usage: { input_tokens: 10, output_tokens: 1, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
      },
    },
    { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: toolUseId, name: toolName, input: {} } },
    { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{}' } },
    { type: 'content_block_stop', index: 0 },
    { type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 5 } },
    { type: 'message_stop' },
  ] as { type: string }[];
}

interface MessagesBody {
  stream?: unknown;
  model?: unknown;
  tools?: unknown;
  messages?: unknown;
}

/** The tool the request should call (a name ending with `suffix` among its tools), unless a tool_result is already there. */
function scriptedToolCall(body: MessagesBody, suffix: string | undefined, toolResults: string[]): string | undefined {
  if (suffix === undefined || !Array.isArray(body.tools)) return undefined;
  const results = toolResultTexts(body.messages);
  if (results.length > 0) {
    toolResults.push(...results);
    return undefined;
  }
  for (const tool of body.tools as { name?: unknown }[]) {
    if (typeof tool?.name === 'string' && tool.name.endsWith(suffix)) return tool.name;
  }
  return undefined;
}

/** The text of every tool_result block in the request's messages. */
function toolResultTexts(messages: unknown): string[] {
  const texts: string[] = [];
  if (!Array.isArray(messages)) return texts;
  for (const message of messages as { content?: unknown }[]) {
    if (!Array.isArray(message?.content)) continue;
    for (const block of message.content as { type?: unknown; content?: unknown }[]) {
      if (block?.type !== 'tool_result') continue;
      const content = block.content;
      if (typeof content === 'string') texts.push(content);
      else if (Array.isArray(content)) texts.push(content.map((part: { text?: unknown }) => (typeof part?.text === 'string' ? part.text : '')).join(''));
      else texts.push('');
    }
  }
  return texts;
}

const CRC32_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC32_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * One message of the AWS event stream encoding (vnd.amazon.eventstream): prelude (total
 * length, headers length, prelude CRC32), string headers, payload, message CRC32. Bedrock's
 * InvokeModelWithResponseStream sends each model event as a "chunk" whose payload is
 * {"bytes": base64(event JSON)}.
 */
export function bedrockChunk(event: unknown): Buffer {
  const headers = Buffer.concat(
    Object.entries({ ':event-type': 'chunk', ':content-type': 'application/json', ':message-type': 'event' }).map(([name, value]) => {
      const nameBytes = Buffer.from(name, 'utf8');
      const valueBytes = Buffer.from(value, 'utf8');
      const header = Buffer.alloc(1 + nameBytes.length + 1 + 2 + valueBytes.length);
      header.writeUInt8(nameBytes.length, 0);
      nameBytes.copy(header, 1);
      header.writeUInt8(7, 1 + nameBytes.length); // 7 = string
      header.writeUInt16BE(valueBytes.length, 2 + nameBytes.length);
      valueBytes.copy(header, 4 + nameBytes.length);
      return header;
    }),
  );
  const payload = Buffer.from(JSON.stringify({ bytes: Buffer.from(JSON.stringify(event), 'utf8').toString('base64') }), 'utf8');
  const totalLength = 12 + headers.length + payload.length + 4;
  const prelude = Buffer.alloc(12);
  prelude.writeUInt32BE(totalLength, 0);
  prelude.writeUInt32BE(headers.length, 4);
  prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8);
  const body = Buffer.concat([prelude, headers, payload]);
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32BE(crc32(body), 0);
  return Buffer.concat([body, trailer]);
}

function sse(res: http.ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

export async function startGateway(opts: GatewayOptions = {}): Promise<Gateway> {
  const requests: RecordedRequest[] = [];
  const toolCalls: string[] = [];
  const toolResults: string[] = [];
  const replyText = opts.replyText ?? 'pong';
  let msgCounter = 0;

  const server = http.createServer((req, res) => {
    const rec: RecordedRequest = {
      method: req.method ?? '',
      path: pathOf(req.url ?? '/'),
      headers: req.headers,
      at: Date.now(),
    };
    requests.push(rec);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void answer());
    const answer = async (): Promise<void> => {
      if (chunks.length > 0) rec.body = Buffer.concat(chunks).toString('utf8');
      const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
        rec.status = status;
        const text = JSON.stringify(body);
        res.writeHead(status, {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(text)),
          'request-id': `req_stub_${requests.length}`,
          ...headers,
        });
        res.end(text);
      };
      const pathname = rec.path.split('?')[0] ?? '/';
      const method = rec.method.toUpperCase();

      if ((method === 'GET' || method === 'HEAD') && pathname === '/') {
        rec.status = 200;
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(method === 'HEAD' ? undefined : 'ok');
        return;
      }
      // Vertex (gateway auth): …/publishers/anthropic/models/<id>:streamRawPredict answers the
      // Anthropic SSE stream; :rawPredict a JSON message. Bedrock: …/model/<id>/invoke-with-response-stream
      // answers an AWS event stream of "chunk" events; …/invoke a JSON message.
      const vertex = /\/publishers\/anthropic\/models\/([^/:]+):(streamRawPredict|rawPredict)$/.exec(pathname);
      const bedrock = /\/model\/([^/]+)\/(invoke-with-response-stream|invoke)$/.exec(pathname);
      const isMessages = pathname === '/v1/messages' || vertex !== null || bedrock !== null;
      const isCount = pathname === '/v1/messages/count_tokens';
      if (method !== 'POST' || (!isMessages && !isCount)) {
        send(404, { type: 'error', error: { type: 'not_found_error', message: `no route ${method} ${pathname}` } });
        return;
      }

      const cred = credentialOf(req.headers);
      if (cred !== undefined) rec.credential = cred;
      if (cred !== undefined && opts.verify !== undefined) {
        const rejection = await opts.verify(cred);
        if (rejection !== undefined) rec.rejection = rejection;
      }
      if (cred === undefined || rec.rejection !== undefined || (opts.rejectValues !== undefined && opts.rejectValues(cred))) {
        // Deliberately no `x-should-retry: false`: Claude Code must clear its helper cache and retry.
        send(401, {
          type: 'error',
          error: {
            type: 'authentication_error',
            message: cred === undefined ? 'missing credential' : 'invalid x-api-key (stub gateway rejected it)',
          },
        });
        return;
      }

      // The first-party Messages API refuses a request without `anthropic-version`
      // (https://docs.anthropic.com/en/api/versioning); Vertex and Bedrock carry it in the body.
      if ((pathname === '/v1/messages' || isCount) && typeof req.headers['anthropic-version'] !== 'string') {
        send(400, { type: 'error', error: { type: 'invalid_request_error', message: 'anthropic-version: header is required' } });
        return;
      }

      let parsed: MessagesBody = {};
      try {
        parsed = rec.body ? (JSON.parse(rec.body) as typeof parsed) : {};
      } catch {
        send(400, { type: 'error', error: { type: 'invalid_request_error', message: 'body is not JSON' } });
        return;
      }
      if (isCount) {
        send(200, { input_tokens: 42 });
        return;
      }
      const model = typeof parsed.model === 'string' ? parsed.model : decodeURIComponent(vertex?.[1] ?? bedrock?.[1] ?? 'claude-sonnet-4-5');
      const id = `msg_stub_${++msgCounter}`;
      const toolName = isMessages ? scriptedToolCall(parsed, opts.callToolEndingWith, toolResults) : undefined;
      if (toolName !== undefined) {
        toolCalls.push(toolName);
        const toolUseId = `toolu_stub_${msgCounter}`;
        if (parsed.stream === true) {
          rec.status = 200;
          res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': `req_stub_${requests.length}` });
          for (const event of toolUseEvents(id, model, toolUseId, toolName)) sse(res, event.type, event);
          res.end();
          return;
        }
        send(200, {
          id, type: 'message', role: 'assistant', model,
          content: [{ type: 'tool_use', id: toolUseId, name: toolName, input: {} }],
          stop_reason: 'tool_use', stop_sequence: null,
          usage: { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
        });
        return;
      }
      if (bedrock !== null && bedrock[2] === 'invoke-with-response-stream') {
        rec.status = 200;
        res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': `req_stub_${requests.length}` });
        for (const event of streamEvents(id, model, replyText)) res.write(bedrockChunk(event));
        res.end();
        return;
      }
      if (parsed.stream === true || vertex?.[2] === 'streamRawPredict') {
        rec.status = 200;
        res.writeHead(200, {
          'content-type': 'text/event-stream',
          'cache-control': 'no-cache',
          'request-id': `req_stub_${requests.length}`,
        });
        for (const event of streamEvents(id, model, replyText)) sse(res, event.type, event);
        res.end();
        return;
      }
      send(200, {
        id, type: 'message', role: 'assistant', model,
        content: [{ type: 'text', text: replyText }],
        stop_reason: 'end_turn', stop_sequence: null,
        usage: { input_tokens: 10, output_tokens: 2, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
      });
    };
  });

  const port = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    toolCalls,
    toolResults,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
