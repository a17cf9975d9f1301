// The part of citation-js's API the bibliography uses (the package ships no types).
declare module '@citation-js/core' {
  export class Cite {
    constructor(data: unknown);
    data: unknown[];
    format(kind: 'data', options: { format: 'object' }): unknown[];
  }
  /** The registered formatters, called with the (cleaned CSL) items to format. */
  export const plugins: {
    output: {
      format(name: 'bibliography' | 'citation', data: unknown[], options: {
        format: 'text' | 'html'; template: string; lang: string; asEntryArray?: boolean; nosort?: boolean;
      }): unknown;
      register: { get(name: string): unknown };
      add(name: string, formatter: (data: unknown[], ...options: unknown[]) => unknown): void;
    };
  };
}
declare module '@citation-js/plugin-bibtex';
declare module '@citation-js/plugin-csl';
