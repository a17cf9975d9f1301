// Entry of a notebook's worker thread (isolation.ts). Workers start without the parent's
// loaders, so tsx is registered here before anything TypeScript is imported: the worker
// module, and later the project modules the notebook's cells import. Both of tsx's hooks:
// the ESM one alone loads a `.ts` file of a project without `"type": "module"` through
// Node's CommonJS path, which then fails with "Cannot require() ES Module … in a cycle";
// the CommonJS one also serves the cells' `require('./m.ts')`.
import { register as registerEsm } from 'tsx/esm/api';
import { register as registerCjs } from 'tsx/cjs/api';

registerCjs();
registerEsm();
await import('./notebook-worker.ts');
