import { join } from 'node:path';
import { readmeApiNames } from '@platform/testing';
import * as api from './index';

it('the README API table lists exactly the runtime exports of @platform/telemetry, at most 25', () => {
  expect(readmeApiNames(join(__dirname, '..', 'README.md')).sort()).toEqual(Object.keys(api).sort());
  expect(Object.keys(api).length).toBeLessThanOrEqual(25);
});
