/**
 * Moved to core/environment.ts, below the store, which records it in every results file.
 * This re-export stays only for report/ and freeze/, until they import core/environment.ts
 * themselves; new code imports that.
 */
export { getEnvironment, gitState, type ProjectFacts } from '../core/environment.ts';
