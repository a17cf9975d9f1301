#!/usr/bin/env node
// The `reprobook` command of the engine's package. Thin launcher: registers tsx so the
// TypeScript CLI runs without a build step (tsx transforms the engine's .ts files under
// node_modules too). Both hooks, as `node --import tsx` does: with the ESM one alone, a `.ts`
// module of a project without `"type": "module"` (a plugin) loads through Node's CommonJS
// path and fails.
import { register as registerEsm } from 'tsx/esm/api';
import { register as registerCjs } from 'tsx/cjs/api';

registerCjs();
registerEsm();
await import('../cli/main.ts');
