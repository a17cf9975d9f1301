/**
 * Renamed markdown-format.ts (`format` also named value formatting in the report). This
 * re-export stays only for freeze/ and test/report-embed.test.ts, until they import
 * markdown-format.ts themselves; new code imports that.
 */
export * from './markdown-format.ts';
