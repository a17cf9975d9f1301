// The part of citation-js's API the bibliography uses (the package ships no types).
declare module '@citation-js/core' {
  export class Cite {
    constructor(data: unknown);
    data: unknown[];
    format(kind: 'bibliography' | 'citation', options: { format: 'text' | 'html'; template: string; lang: string; entry?: string | string[] }): string;
  }
}
declare module '@citation-js/plugin-bibtex';
declare module '@citation-js/plugin-csl';
