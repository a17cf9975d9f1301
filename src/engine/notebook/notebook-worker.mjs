// Entry of a notebook's worker thread (isolation.ts). Workers start without the parent's
// loaders, so tsx is registered here before anything TypeScript is imported: the worker
// module, and later the project modules the notebook's cells import.
import { register } from 'tsx/esm/api';

register();
await import('./notebook-worker.ts');
