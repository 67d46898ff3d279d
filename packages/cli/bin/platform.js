#!/usr/bin/env node
// Committed shim so npm can link the `platform` binary at install time, before `dist/` is built.
'use strict';
require('../dist/bin.js');
