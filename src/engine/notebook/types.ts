/**
 * Moved to core/records.ts, below the store and the notebook layer, which both read and
 * write these records. This re-export stays only for report/, diff/ and freeze/, until they
 * import core/records.ts themselves; new code imports that.
 */
export type * from '../core/records.ts';
