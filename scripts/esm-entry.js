#!/usr/bin/env node
// Writes a package's ESM entry (dist/index.mjs + dist/index.d.mts) as a thin wrapper over its
// CommonJS build, run by each library's `build` after tsup (cwd = the package). A second, ESM
// copy of the code would hold a second module state: a second PlatformError class (instanceof
// fails across them), a second set of shared connections, script caches and metrics. The wrapper
// re-exports the CommonJS module's own objects, so `import` and `require` see the same ones.
'use strict';
const { writeFileSync } = require('node:fs');
const { join, resolve } = require('node:path');

const dist = resolve(process.cwd(), 'dist');
const names = Object.keys(require(join(dist, 'index.js')))
  .filter((name) => name !== 'default' && name !== '__esModule')
  .sort();
if (names.length === 0) throw new Error(`${dist}/index.js exports nothing`);

const header = '// ESM entry: the CommonJS build re-exported, so both module systems share one module state.\n';
writeFileSync(
  join(dist, 'index.mjs'),
  `${header}import cjs from './index.js';\n\nexport const {\n${names.map((n) => `  ${n},`).join('\n')}\n} = cjs;\n`,
);
writeFileSync(join(dist, 'index.d.mts'), `${header}export * from './index.js';\n`);
