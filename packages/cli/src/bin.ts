#!/usr/bin/env node
import { main } from './main';

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // Safety net: if a socket or timer is still pending (e.g. ioredis' disconnect timer after Redis
  // vanished), exit anyway once output has had time to flush. Unref'd, so it never delays exit.
  setTimeout(() => process.exit(code), 3000).unref();
});
