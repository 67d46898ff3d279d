/**
 * Every README code block marked `<!-- runs -->` on the line before it is executed here, as a
 * service would run it: compiled from TypeScript to CommonJS, importing the built packages
 * (`npm test` builds them first), against the test Redis (`REDIS_URL`) and, for a block that reads
 * `DATABASE_URL`, a private PostgreSQL. It must exit 0 by itself. The first example of every README
 * must be one of them, and every package it imports must be in that README's `npm install` line.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { startPostgresServer, type PostgresServer } from '@platform/testing';

const root = join(__dirname, '..');
const readmes = [
  join(root, 'README.md'),
  ...readdirSync(join(root, 'packages')).map((p) => join(root, 'packages', p, 'README.md')),
].filter((file) => existsSync(file));

interface Snippet {
  file: string;
  line: number;
  code: string;
}

function snippetsOf(file: string): Snippet[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const found: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '<!-- runs -->') continue;
    const open = lines[i + 1]?.trim();
    if (!open?.startsWith('```ts')) throw new Error(`${file}:${i + 1}: <!-- runs --> must precede a \`\`\`ts block`);
    const end = lines.indexOf('```', i + 2);
    found.push({ file, line: i + 2, code: lines.slice(i + 2, end).join('\n') });
  }
  return found;
}

/** The first ```ts block of a README: its line and whether `<!-- runs -->` marks it. */
function firstExampleOf(file: string): { line: number; runs: boolean } | undefined {
  const lines = readFileSync(file, 'utf8').split('\n');
  const at = lines.findIndex((line) => line.trim().startsWith('```ts'));
  return at < 0 ? undefined : { line: at + 1, runs: lines[at - 1]?.trim() === '<!-- runs -->' };
}

/** Every package named in a README's `npm install ...` lines. */
function installedBy(file: string): Set<string> {
  const names = new Set<string>();
  for (const match of readFileSync(file, 'utf8').matchAll(/npm install ([^\n`#]+)/g)) {
    for (const word of match[1]!.trim().split(/\s+/)) if (!word.startsWith('-')) names.add(word.replace(/(.)@[^@/]*$/, '$1'));
  }
  return names;
}

/** The bare package names a snippet imports (not `node:` built-ins). */
function importsOf(code: string): string[] {
  return [...code.matchAll(/from '((?:@[^/']+\/)?[^/.'][^/']*)[^']*'/g)].map((m) => m[1]!).filter((name) => !name.startsWith('node:'));
}

const snippets = readmes.flatMap(snippetsOf);
const workDir = join(root, 'node_modules', '.readme-snippets');
let postgres: PostgresServer | undefined;

beforeAll(async () => {
  mkdirSync(workDir, { recursive: true });
  if (snippets.some((s) => s.code.includes('DATABASE_URL'))) postgres = await startPostgresServer();
}, 120_000);
afterAll(async () => {
  rmSync(workDir, { recursive: true, force: true });
  await postgres?.stop();
});

it('finds runnable snippets in the READMEs', () => {
  expect(snippets.length).toBeGreaterThan(0);
});

it.each(readmes.map((file) => [relative(root, file), file] as const))('%s: the first example runs, with what its install line names', (_name, file) => {
  const first = firstExampleOf(file);
  if (!first) return;
  expect(`${relative(root, file)}:${first.line} ${first.runs ? 'runs' : 'is not marked <!-- runs -->'}`).toMatch(/ runs$/);
  const snippet = snippets.find((s) => s.file === file && s.line === first.line)!;
  const installed = installedBy(file);
  const missing = importsOf(snippet.code).filter((name) => !installed.has(name));
  expect(missing).toEqual([]);
});

it.each(snippets.map((s) => [`${relative(root, s.file)}:${s.line}`, s] as const))('%s runs', async (_name, snippet) => {
  const js = ts.transpileModule(`${snippet.code}\nexport {};\n`, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  }).outputText;
  // Top-level await is not CommonJS: run the body in an async function.
  const wrapped = `(async () => {\n${js}\n})().catch((e) => { console.error(e); process.exit(1); });\n`;
  const file = join(workDir, `${relative(root, snippet.file).replace(/[/.]/g, '_')}_${snippet.line}.js`);
  writeFileSync(file, wrapped);
  const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
    const env = { ...process.env, ...(postgres ? { DATABASE_URL: postgres.url } : {}) };
    const child = execFile(process.execPath, [file], { env, timeout: 45_000, cwd: root }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: `${stdout}${stderr}` });
    });
    child.stdin?.end();
  });
  if (result.code !== 0) throw new Error(`snippet exited ${result.code}:\n${result.output}`);
}, 60_000);
