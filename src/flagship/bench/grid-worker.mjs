// Entry of a bench grid thread (grid.ts). Threads start without the parent's loaders, so tsx is
// registered here before anything TypeScript is imported (as the grid's own worker.mjs does).
import { register } from 'tsx/esm/api';

register();
const { runGridTask } = await import('./grid-thread.ts');
await runGridTask();
