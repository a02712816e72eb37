/**
 * The project's documentation as tests read it: README.md and every page under docs/, with the
 * fenced code blocks and heading anchors a Markdown renderer (GitHub's) would see.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { repoRoot } from './claude.js'

export interface DocPage {
  /** Repository-relative, with forward slashes: `README.md`, `docs/sources.md`. */
  path: string
  text: string
}

/** README.md and docs/*.md. */
export function docPages(): DocPage[] {
  const root = repoRoot()
  const docs = readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).sort()
  return ['README.md', ...docs.map((name) => `docs/${name}`)].map((path) => ({ path, text: readFileSync(join(root, path), 'utf8') }))
}

export interface CodeBlock {
  /** The fence's info string (`toml`, `sh`, or empty). */
  info: string
  body: string
  /** 1-based line of the opening fence. */
  line: number
  /** The non-empty line before the opening fence, where a page may put a marker comment. */
  lineBefore: string
}

/** The page's fenced code blocks (```), in order. An unclosed fence is an error: the page is broken. */
export function codeBlocks(page: DocPage): CodeBlock[] {
  const blocks: CodeBlock[] = []
  const lines = page.text.split('\n')
  let open: { info: string; line: number; lineBefore: string; body: string[] } | undefined
  let lastText = ''
  lines.forEach((line, index) => {
    if (open === undefined) {
      const fence = /^```(.*)$/.exec(line)
      if (fence) open = { info: fence[1]!.trim(), line: index + 1, lineBefore: lastText, body: [] }
      else if (line.trim() !== '') lastText = line.trim()
    } else if (line.startsWith('```')) {
      blocks.push({ info: open.info, body: open.body.join('\n') + '\n', line: open.line, lineBefore: open.lineBefore })
      open = undefined
    } else {
      open.body.push(line)
    }
  })
  if (open !== undefined) throw new Error(`${page.path}:${open.line}: a code fence that is never closed`)
  return blocks
}

/** The page's lines outside fenced code blocks, each with its 1-based line number. */
export function proseLines(page: DocPage): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = []
  let fenced = false
  page.text.split('\n').forEach((text, index) => {
    if (text.startsWith('```')) fenced = !fenced
    else if (!fenced) out.push({ line: index + 1, text })
  })
  return out
}

/**
 * GitHub's anchor for a heading: the text without markup, lower-cased, every character that is
 * not a letter, digit, `_`, `-` or space dropped, spaces turned into hyphens.
 */
export function headingSlug(heading: string): string {
  const text = heading.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
  return text.trim().toLowerCase().replace(/[^\p{L}\p{N}_\- ]/gu, '').replace(/ /g, '-')
}

/** Every anchor the page's headings make; a repeated heading gets `-1`, `-2`, … as on GitHub. */
export function headingAnchors(page: DocPage): Set<string> {
  const seen = new Map<string, number>()
  const anchors = new Set<string>()
  for (const { text } of proseLines(page)) {
    const heading = /^#{1,6} (.*)$/.exec(text)
    if (!heading) continue
    const slug = headingSlug(heading[1]!)
    const count = seen.get(slug) ?? 0
    seen.set(slug, count + 1)
    anchors.add(count === 0 ? slug : `${slug}-${count}`)
  }
  return anchors
}
