#!/usr/bin/env node
// The flagship's `./bin/reprobook.js`: the engine's own launcher (src/engine/bin/reprobook.js,
// the `reprobook` command of the engine's package), which registers tsx and runs the CLI.
import '../src/engine/bin/reprobook.js';
