/**
 * The keychain's two native bindings against a real Secret Service (gnome-keyring on a
 * private D-Bus session): module load, set, get and delete through ccred's KeychainStore,
 * each binding alone (CCRED_KEYCHAIN_BACKEND). Runs in a child process per binding, so each
 * load is a cold one. `node dist/bench/keychain.js` runs it alone.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { startSecretService } from '../test/helpers/secret-service.js'
import { isMain, log, ms, numberOption, printMachine, ratio, summarize, type Log, type Summary } from './lib.js'

export interface KeychainBindingFigures {
  loadMs: number
  set: Summary
  get: Summary
  delete: Summary
}

export interface KeychainBenchResult {
  runs: number
  keytar: KeychainBindingFigures
  napi: KeychainBindingFigures
  /** Median get of the fallback ÷ median get of keytar. */
  getRatio: number
}

const CHILD = String.raw`
const started = performance.now()
const { KeychainStore } = await import(process.env.CCRED_B_STORE)
const store = new KeychainStore(process.env)
const state = store.state()
if (state.backend !== process.env.CCRED_KEYCHAIN_BACKEND) throw new Error('wrong binding: ' + JSON.stringify(state))
const loadMs = performance.now() - started
const runs = Number(process.env.CCRED_B_RUNS)
const set = [], get = [], del = []
for (let i = 0; i < runs; i++) {
  const name = 'bench-' + i
  let t = performance.now(); await store.set(name, 'value-' + i); set.push(performance.now() - t)
  t = performance.now(); const v = await store.get(name); get.push(performance.now() - t)
  if (v !== 'value-' + i) throw new Error('read back ' + v)
  t = performance.now(); await store.delete(name); del.push(performance.now() - t)
}
console.log(JSON.stringify({ loadMs, set, get, del }))
`

function measure(binding: string, env: Record<string, string>, runs: number): Promise<{ loadMs: number; set: number[]; get: number[]; del: number[] }> {
  const storeModule = fileURLToPath(new URL('../src/store/keychain.js', import.meta.url))
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
      env: { ...process.env, ...env, CCRED_KEYCHAIN_BACKEND: binding, CCRED_B_STORE: storeModule, CCRED_B_RUNS: String(runs) },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { err += chunk })
    child.on('error', reject)
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${binding}: exit ${code}: ${err.split('\n').find((l) => l.trim() !== '') ?? ''}`))
      resolve(JSON.parse(out.trim().split('\n').pop()!) as { loadMs: number; set: number[]; get: number[]; del: number[] })
    })
  })
}

export async function benchKeychain(options: { runs: number; out: Log }): Promise<KeychainBenchResult> {
  const { out } = options
  out(`keychain bindings: ${options.runs} × set/get/delete through KeychainStore on a real gnome-keyring`)
  const ss = await startSecretService()
  if (!ss.ok) throw new Error(`no Secret Service: ${ss.reason}`)
  try {
    const figures = async (binding: string): Promise<KeychainBindingFigures> => {
      const raw = await measure(binding, ss.env, options.runs)
      const result = { loadMs: raw.loadMs, set: summarize(raw.set), get: summarize(raw.get), delete: summarize(raw.del) }
      out(`  ${binding.padEnd(17)} load ${ms(result.loadMs)}, set ${ms(result.set.p50, 2)}, get ${ms(result.get.p50, 2)}, delete ${ms(result.delete.p50, 2)} (medians)`)
      return result
    }
    const keytar = await figures('keytar')
    const napi = await figures('@napi-rs/keyring')
    const getRatio = napi.get.p50 / keytar.get.p50
    out(`  fallback get ÷ keytar get (medians): ${ratio(getRatio)}`)
    return { runs: options.runs, keytar, napi, getRatio }
  } finally {
    await ss.stop()
  }
}

if (isMain(import.meta.url)) {
  printMachine()
  await benchKeychain({ runs: numberOption('keychain-runs', 50, 5, 1000), out: log })
}
