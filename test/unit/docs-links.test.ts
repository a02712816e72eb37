// The documentation holds together: every relative link in README.md and docs/*.md reaches a file
// of the repository, every `#anchor` a heading of the page it names, every page is reachable from
// the README, and nothing cites a file outside the repository.
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, posix, relative } from 'node:path'
import { describe, it } from 'node:test'
import { repoRoot } from '../helpers/claude.js'
import { docPages, headingAnchors, proseLines, type DocPage } from '../helpers/docs.js'

interface Link {
  page: string
  line: number
  target: string
}

/** Inline links `[text](target)` outside code: code spans are dropped first, so `a](b` in code is no link. */
function relativeLinks(page: DocPage): Link[] {
  const links: Link[] = []
  for (const { line, text } of proseLines(page)) {
    const prose = text.replace(/(`+)[\s\S]*?\1/g, '')
    for (const match of prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = match[1]!
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // https:, mailto:
      links.push({ page: page.path, line, target })
    }
  }
  return links
}

/** The repository-relative file a link points at (the page itself for a bare `#anchor`), and its anchor. */
function resolveLink(link: Link): { file: string; anchor: string | undefined } {
  const hash = link.target.indexOf('#')
  const path = hash === -1 ? link.target : link.target.slice(0, hash)
  const anchor = hash === -1 ? undefined : decodeURIComponent(link.target.slice(hash + 1))
  const file = path === '' ? link.page : posix.normalize(posix.join(posix.dirname(link.page), decodeURIComponent(path)))
  return { file: file.replace(/\/$/, ''), anchor }
}

function problems(pages: DocPage[]): string[] {
  const root = repoRoot()
  const anchors = new Map(pages.map((page) => [page.path, headingAnchors(page)]))
  const found: string[] = []
  for (const page of pages) {
    for (const link of relativeLinks(page)) {
      const where = `${link.page}:${link.line}: (${link.target})`
      const { file, anchor } = resolveLink(link)
      if (file.startsWith('../') || file === '..') {
        found.push(`${where} leaves the repository`)
        continue
      }
      if (!anchors.has(file) && !existsSync(join(root, file))) {
        found.push(`${where}: no file ${file}`)
        continue
      }
      if (anchor === undefined) continue
      const pageAnchors = anchors.get(file)
      if (pageAnchors === undefined) found.push(`${where}: an anchor into ${file}, which is not a documentation page`)
      else if (!pageAnchors.has(anchor)) found.push(`${where}: ${file} has no heading #${anchor}`)
    }
  }
  return found
}

describe('documentation links', () => {
  it('every relative link and anchor in README.md and docs/*.md resolves', () => {
    const pages = docPages()
    assert.ok(pages.length >= 10, `README.md and the docs/ pages (found ${pages.map((p) => p.path).join(', ')})`)
    assert.ok(pages.reduce((count, page) => count + relativeLinks(page).length, 0) > 50, 'the pages link to each other')
    assert.deepEqual(problems(pages), [])
  })

  it('finds a broken anchor, a missing page, a link out of the repository and an anchor in code', () => {
    const pages: DocPage[] = [
      { path: 'README.md', text: '# Top\n\nSee [a](docs/a.md#real), [b](docs/a.md#gone), [c](docs/missing.md), [d](#top), [e](../outside.md), [f](#nowhere).\n' },
      { path: 'docs/a.md', text: '# A page\n\n## Real\n\n```sh\n# Gone\n```\n\n`[g](#not-a-link)` and [h](../README.md#top) and [i](../package.json).\n' },
    ]
    assert.deepEqual(problems(pages), [
      'README.md:3: (docs/a.md#gone): docs/a.md has no heading #gone',
      'README.md:3: (docs/missing.md): no file docs/missing.md',
      'README.md:3: (../outside.md) leaves the repository',
      'README.md:3: (#nowhere): README.md has no heading #nowhere',
    ])
  })

  it('anchors are made as GitHub makes them, repeated headings numbered', () => {
    const page: DocPage = { path: 'x.md', text: '# ccred — credentials\n## `source = "aws"` (AWS)\n## Use with Claude Code: `ccred setup claude`\n## Figures\n## Figures\n## Without settings.json\n' }
    assert.deepEqual([...headingAnchors(page)], ['ccred--credentials', 'source--aws-aws', 'use-with-claude-code-ccred-setup-claude', 'figures', 'figures-1', 'without-settingsjson'])
  })

  it('every docs/ page is reachable from README.md', () => {
    const pages = docPages()
    const reached = new Set(['README.md'])
    const queue = ['README.md']
    while (queue.length > 0) {
      const path = queue.shift()!
      const page = pages.find((p) => p.path === path)!
      for (const link of relativeLinks(page)) {
        const { file } = resolveLink(link)
        if (!reached.has(file) && pages.some((p) => p.path === file)) {
          reached.add(file)
          queue.push(file)
        }
      }
    }
    assert.deepEqual(pages.map((p) => p.path).filter((path) => !reached.has(path)), [])
  })

  it('no source, test, benchmark or page cites a file outside the repository', () => {
    const root = repoRoot()
    // Built from parts so this file does not match itself.
    const outside = new RegExp(['\\.\\./', 'shared/', '|', '\\bshared/', '(claude-code-auth|agents-auth|DESIGN|STYLE)\\.md'].join(''))
    const files = ['README.md', ...['cmd', 'src', 'test', 'bench', 'docs'].flatMap((dir) => walk(join(root, dir)))]
    const citing = files.filter((file) => outside.test(readFileSync(join(root, file), 'utf8')))
    assert.deepEqual(citing, [], 'cite docs/agents-facts.md (the measured facts in the repository) instead')
  })

  it('every docs/ page and anchor that code cites exists', () => {
    const root = repoRoot()
    const anchors = new Map(docPages().map((page) => [page.path, headingAnchors(page)]))
    const cited: string[] = []
    const missing: string[] = []
    // This file and its helper hold made-up pages for their own checks.
    const own = new Set([join('test', 'unit', 'docs-links.test.ts'), join('test', 'helpers', 'docs.ts')])
    for (const file of ['cmd', 'src', 'test', 'bench'].flatMap((dir) => walk(join(root, dir))).filter((f) => !own.has(f))) {
      for (const match of readFileSync(join(root, file), 'utf8').matchAll(/(?<![\w/.-])docs\/([\w.-]+\.md)(?:#([\w-]+))?/g)) {
        const page = `docs/${match[1]!}`
        cited.push(match[0])
        if (!anchors.has(page)) missing.push(`${file}: ${match[0]}: no page ${page}`)
        else if (match[2] !== undefined && !anchors.get(page)!.has(match[2])) missing.push(`${file}: ${match[0]}: no heading #${match[2]}`)
      }
    }
    assert.ok(cited.length >= 10, `code cites the documentation (${cited.length} citations)`)
    assert.deepEqual(missing, [])
  })
})

/** Repository-relative paths of the .ts and .md files under dir. */
function walk(dir: string): string[] {
  const root = repoRoot()
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return walk(path)
    return /\.(ts|md)$/.test(name) ? [relative(root, path)] : []
  })
}
