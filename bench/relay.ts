import http from 'node:http'
import { readFileSync } from 'node:fs'
import { startLlmUpstream, type LlmUpstream } from '../test/helpers/llm-upstream.js'
import { Sandbox } from '../test/helpers/sandbox.js'
import { int, isMain, log, numberOption, ms, printMachine, processRssKb, ratio, summarize, type Log } from './lib.js'

/**
 * `node dist/bench/relay.js [--requests=N] [--streams=N]`: the relay (docs/relay.md)
 * against the same loopback upstream asked directly, in the same run:
 * - added latency per request (small JSON POST, keep-alive both ways), p50 and p99;
 * - time to the first byte of a streamed (SSE) answer;
 * - N concurrent streams through one route (default 256): errors, and the daemon's RSS.
 * Printed figures only: no timing is asserted.
 */

export interface RelayBenchResult {
  direct: { p50: number; p99: number }
  relayed: { p50: number; p99: number }
  ttfbDirect: { p50: number; p99: number }
  ttfbRelayed: { p50: number; p99: number }
  streams: number
  streamErrors: number
  streamsSeconds: number
  daemonRssKbBefore?: number
  daemonRssKbPeak?: number
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 512 })

/** One POST; resolves with the ms to the first body byte and to the end, and the body. */
function post(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; firstByteMs: number; totalMs: number; text: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    let firstByteMs = Number.NaN
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (chunk: string) => {
        if (Number.isNaN(firstByteMs)) firstByteMs = performance.now() - started
        text += chunk
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, firstByteMs, totalMs: performance.now() - started, text }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(body)
  })
}

export async function benchRelay(options: { requests: number; streams: number; out: Log }): Promise<RelayBenchResult> {
  const { out } = options
  const box = new Sandbox()
  const upstreams: LlmUpstream[] = []
  try {
    const fast = await startLlmUpstream({ accepted: 'bench-token' })
    // Streams that last: ten events 50 ms apart, so all N are open at once.
    const slow = await startLlmUpstream({ accepted: 'bench-token', eventGapMs: 50 })
    upstreams.push(fast, slow)
    const script = box.writeScript('token.sh', '#!/bin/sh\necho bench-token\n')
    box.writeConfig(`[profiles.bench]\nsource = "exec"\ncommand = ["${script}"]\n`)
    const start = async (name: string, upstream: LlmUpstream) => {
      const started = await box.run(['relay', 'start', 'bench', '--name', name, '--upstream', `${upstream.url}/v1`])
      if (started.code !== 0) throw new Error(`relay start failed: ${started.stderr}`)
      return { baseUrl: started.stdout.trim(), key: readFileSync(`${box.stateDir}/relay/${name}.key`, 'utf8').trim() }
    }
    const fastRoute = await start('fast', fast)
    const slowRoute = await start('slow', slow)
    const direct = { url: `${fast.url}/v1`, headers: { authorization: 'Bearer bench-token' } }
    const relayed = { url: fastRoute.baseUrl, headers: { authorization: `Bearer ${fastRoute.key}` } }
    const small = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] })
    const streamed = JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] })

    // Warm both paths (connections, JIT, the broker's cache), then alternate so load hits both alike.
    for (let i = 0; i < 50; i++) {
      await post(`${direct.url}/chat/completions`, direct.headers, small)
      await post(`${relayed.url}/chat/completions`, relayed.headers, small)
    }
    const directMs: number[] = []
    const relayedMs: number[] = []
    const ttfbDirect: number[] = []
    const ttfbRelayed: number[] = []
    for (let i = 0; i < options.requests; i++) {
      directMs.push((await post(`${direct.url}/chat/completions`, direct.headers, small)).totalMs)
      relayedMs.push((await post(`${relayed.url}/chat/completions`, relayed.headers, small)).totalMs)
      ttfbDirect.push((await post(`${direct.url}/chat/completions`, direct.headers, streamed)).firstByteMs)
      ttfbRelayed.push((await post(`${relayed.url}/chat/completions`, relayed.headers, streamed)).firstByteMs)
    }
    const d = summarize(directMs)
    const r = summarize(relayedMs)
    const td = summarize(ttfbDirect)
    const tr = summarize(ttfbRelayed)
    out(`relay: ${int(options.requests)} sequential requests each way, keep-alive, loopback`)
    out(`  request, direct:   p50 ${ms(d.p50, 2)}  p99 ${ms(d.p99, 2)}`)
    out(`  request, relayed:  p50 ${ms(r.p50, 2)}  p99 ${ms(r.p99, 2)}   added p50 ${ms(r.p50 - d.p50, 2)}, p99 ${ms(r.p99 - d.p99, 2)} (${ratio(r.p50 / d.p50)} of direct at p50)`)
    out(`  first byte of an SSE answer, direct:  p50 ${ms(td.p50, 2)}  p99 ${ms(td.p99, 2)}`)
    out(`  first byte of an SSE answer, relayed: p50 ${ms(tr.p50, 2)}  p99 ${ms(tr.p99, 2)}   (${ratio(tr.p50 / td.p50)} of direct at p50)`)

    const pid = box.daemonPid()
    const rssBefore = pid === undefined ? undefined : processRssKb(pid)?.rssKb
    let peak = rssBefore ?? 0
    const sampler = setInterval(() => {
      const now = pid === undefined ? undefined : processRssKb(pid)?.rssKb
      if (now !== undefined && now > peak) peak = now
    }, 20)
    const streamsStarted = performance.now()
    const results = await Promise.allSettled(Array.from({ length: options.streams }, () => post(`${slowRoute.baseUrl}/stream`, { authorization: `Bearer ${slowRoute.key}` }, '{}')))
    const streamsSeconds = (performance.now() - streamsStarted) / 1000
    clearInterval(sampler)
    const errors = results.filter((result) => result.status === 'rejected' || result.value.status !== 200 || (result.value.text.match(/^data: /gm)?.length ?? 0) !== 10).length
    out(`  ${options.streams} concurrent SSE streams (10 events, 50 ms apart) through one route: ${errors} errors, ${streamsSeconds.toFixed(2)} s; daemon RSS ${rssBefore === undefined ? 'n/a' : `${int(rssBefore / 1024)} MiB before, ${int(peak / 1024)} MiB at peak`}`)
    return {
      direct: { p50: d.p50, p99: d.p99 }, relayed: { p50: r.p50, p99: r.p99 },
      ttfbDirect: { p50: td.p50, p99: td.p99 }, ttfbRelayed: { p50: tr.p50, p99: tr.p99 },
      streams: options.streams, streamErrors: errors, streamsSeconds,
      ...(rssBefore === undefined ? {} : { daemonRssKbBefore: rssBefore, daemonRssKbPeak: peak }),
    }
  } finally {
    agent.destroy()
    await box.cleanup()
    for (const upstream of upstreams) await upstream.close()
  }
}

if (isMain(import.meta.url)) {
  printMachine()
  await benchRelay({ requests: numberOption('requests', 500, 50, 100_000), streams: numberOption('streams', 256, 1, 4096), out: log })
}
