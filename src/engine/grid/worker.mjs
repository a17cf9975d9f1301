// Entry of a grid worker thread (piscina). Workers start without the parent's loaders, so
// tsx is registered here before anything TypeScript is imported: the task module, and
// later the handler module and the project modules it imports.
import { register } from 'tsx/esm/api';

register();
const { default: runWorkerTask } = await import('./worker-task.ts');

export default runWorkerTask;
