/**
 * Every README code block marked `<!-- runs -->` on the line before it is executed here, as a
 * service would run it: compiled from TypeScript to CommonJS, importing the built packages
 * (`npm test` builds them first), against the test Redis. It must exit 0 by itself.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

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

const snippets = readmes.flatMap(snippetsOf);
const workDir = join(root, 'node_modules', '.readme-snippets');

beforeAll(() => mkdirSync(workDir, { recursive: true }));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

it('finds runnable snippets in the READMEs', () => {
  expect(snippets.length).toBeGreaterThan(0);
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
    const child = execFile(process.execPath, [file], { env: { ...process.env }, timeout: 45_000, cwd: root }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: `${stdout}${stderr}` });
    });
    child.stdin?.end();
  });
  if (result.code !== 0) throw new Error(`snippet exited ${result.code}:\n${result.output}`);
}, 60_000);
