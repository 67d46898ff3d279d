import { readFileSync } from 'node:fs';
import { join } from 'node:path';
// The public surface itself is under test here, so this one test imports the index.
import * as api from './index';

describe('public surface', () => {
  it('has at most 25 runtime exports, and the README API table lists exactly them', () => {
    const exported = Object.keys(api).sort();
    expect(exported.length).toBeLessThanOrEqual(25);
    const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## API'), readme.indexOf('\n## ', readme.indexOf('## API') + 1));
    const listed = [...section.matchAll(/^\| `([A-Za-z_]+)[(`]/gm)].map((m) => m[1]!).sort();
    expect(listed).toEqual(exported);
  });
});
