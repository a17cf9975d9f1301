import { transform } from 'esbuild';
import { parse, type Node } from 'acorn';
import MagicString from 'magic-string';
import { TraceMap, originalPositionFor, GREATEST_LOWER_BOUND, LEAST_UPPER_BOUND } from '@jridgewell/trace-mapping';

/**
 * Turn one TypeScript cell into a function body that runs in the notebook's shared scope.
 *
 * Pipeline: esbuild strips types (keeping value imports verbatim, since a later cell may use
 * them) → acorn parses the JS → magic-string rewrites the top level, without adding or
 * removing lines so that V8's line numbers stay meaningful:
 *   - `const/let/var x = …` (destructuring too) become assignments; the names are
 *     predeclared on the scope object, which the body reads through `with (scope)`;
 *   - `class A {}` becomes `A = class A {}`; `function f() {}` stays (hoisted) and is
 *     copied to the scope at the start of the body;
 *   - static imports become `await __import(spec)` destructurings, and every `import()`
 *     call becomes `__import()` (vm scripts have no module loader of their own);
 *   - a trailing expression statement becomes the cell's value;
 *   - `throw x` becomes `throw __thrown(x)`, so that a non-Error thrown has a known line.
 * Positions in stack traces map back through magic-string's map and esbuild's map.
 */

export interface TransformedCell {
  /** The function body (to be wrapped by the runner). */
  body: string;
  /** Names the cell declares at top level (predeclared on the scope before running). */
  declared: string[];
  /** Names of top-level function declarations (copied to the scope at entry). */
  functions: string[];
  /**
   * The modules the cell loads, as the parser sees them: static imports, `import()`
   * and `require()` of a string literal. The one import list behind the cache key (cache.ts).
   */
  imports: string[];
  /** `import(x)` and `require(x)` whose name is computed: what they load is unknown until they run. */
  computed: ComputedLoad[];
  /** Map a 1-based line / 0-based column of `body` to a 1-based line of the cell source. */
  mapLine(line: number, column: number): number | null;
}

export interface ComputedLoad {
  /** The call as written, shortened: `require(name)`. */
  call: string;
  /** 1-based line in the cell source. */
  cellLine: number;
}

export class CellSyntaxError extends Error {
  /** 1-based line in the cell source. */
  readonly cellLine: number;
  readonly column: number;
  constructor(message: string, cellLine: number, column: number) {
    super(message);
    this.name = 'SyntaxError';
    this.cellLine = cellLine;
    this.column = column;
  }
}

type AnyNode = Node & Record<string, any>;

function collectPatternNames(p: AnyNode | null, out: string[]): void {
  if (!p) return;
  switch (p.type) {
    case 'Identifier': out.push(p.name); break;
    case 'ObjectPattern': for (const prop of p.properties) collectPatternNames(prop.type === 'RestElement' ? prop.argument : prop.value, out); break;
    case 'ArrayPattern': for (const el of p.elements) collectPatternNames(el, out); break;
    case 'RestElement': collectPatternNames(p.argument, out); break;
    case 'AssignmentPattern': collectPatternNames(p.left, out); break;
  }
}

function walk(node: unknown, visit: (n: AnyNode) => void): void {
  if (Array.isArray(node)) { for (const x of node) walk(x, visit); return; }
  if (!node || typeof node !== 'object' || typeof (node as AnyNode).type !== 'string') return;
  visit(node as AnyNode);
  for (const [k, v] of Object.entries(node)) {
    if (k === 'loc' || k === 'range') continue;
    if (v && typeof v === 'object') walk(v, visit);
  }
}

/** The module a load names when it is a string (a literal, or a template without `${}`). */
function literalSpecifier(arg: AnyNode | undefined): string | undefined {
  if (!arg) return undefined;
  if (arg.type === 'Literal' && typeof arg.value === 'string') return arg.value;
  if (arg.type === 'TemplateLiteral' && arg.expressions.length === 0) return arg.quasis[0].value.cooked ?? undefined;
  return undefined;
}

function newlines(s: string): string {
  return '\n'.repeat((s.match(/\n/g) ?? []).length);
}

export async function transformCell(source: string, filename: string): Promise<TransformedCell> {
  let js: string;
  let esMap: string;
  try {
    const r = await transform(source, {
      loader: 'ts',
      sourcemap: 'external',
      sourcefile: filename,
      target: 'es2022',
      tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true } },
      logLevel: 'silent',
    });
    js = r.code;
    esMap = r.map;
  } catch (err) {
    const e = (err as { errors?: Array<{ text: string; location?: { line: number; column: number } }> }).errors?.[0];
    throw new CellSyntaxError(e?.text ?? (err as Error).message, e?.location?.line ?? 1, e?.location?.column ?? 0);
  }

  const esTrace = new TraceMap(esMap);
  let program: AnyNode;
  try {
    program = parse(js, { ecmaVersion: 'latest', sourceType: 'module', allowAwaitOutsideFunction: true, locations: true }) as AnyNode;
  } catch (err) {
    const loc = (err as { loc?: { line: number; column: number } }).loc;
    const mapped = loc ? originalPositionFor(esTrace, { line: loc.line, column: loc.column }).line : null;
    throw new CellSyntaxError((err as Error).message.replace(/\s*\(\d+:\d+\)$/, ''), mapped ?? 1, 0);
  }

  const ms = new MagicString(js);
  const declared: string[] = [];
  const functions: string[] = [];
  const imports: string[] = [];
  const computed: ComputedLoad[] = [];
  const body = program.body as AnyNode[];

  const load = (n: AnyNode, arg: AnyNode | undefined) => {
    const spec = literalSpecifier(arg);
    if (spec !== undefined) { imports.push(spec); return; }
    const text = js.slice(n.start, n.end).replace(/\s+/g, ' ');
    computed.push({ call: text.length > 60 ? `${text.slice(0, 57)}...` : text, cellLine: originalPositionFor(esTrace, n.loc!.start).line ?? 1 });
  };
  // Dynamic imports and require() calls anywhere in the cell.
  walk(program, (n) => {
    if (n.type === 'ImportExpression') {
      ms.overwrite(n.start, n.start + 'import'.length, '__import');
      load(n, n.source);
    }
    if (n.type === 'CallExpression' && n.callee.type === 'Identifier' && n.callee.name === 'require') load(n, n.arguments[0]);
    if (n.type === 'MetaProperty' && n.meta.name === 'import') ms.overwrite(n.start, n.end, '__importMeta');
  });

  body.forEach((stmt, i) => {
    let s = stmt;
    if (s.type === 'ExportNamedDeclaration' && s.declaration) {
      ms.remove(s.start, s.declaration.start);
      s = s.declaration;
    } else if (s.type === 'ExportDefaultDeclaration') {
      ms.overwrite(s.start, s.declaration.start, 'void ');
      return;
    } else if (s.type === 'ExportNamedDeclaration' || s.type === 'ExportAllDeclaration') {
      ms.overwrite(s.start, s.end, newlines(js.slice(s.start, s.end)));
      return;
    }
    if (s.type === 'ImportDeclaration') {
      const spec = s.source.value as string;
      imports.push(spec);
      const mod = `(await __import(${JSON.stringify(spec)}))`;
      const parts: string[] = [];
      for (const sp of s.specifiers as AnyNode[]) {
        const local = sp.local.name as string;
        declared.push(local);
        if (sp.type === 'ImportNamespaceSpecifier') parts.push(`${local} = ${mod}`);
        else if (sp.type === 'ImportDefaultSpecifier') parts.push(`${local} = __default(${mod})`);
        else {
          const imported = sp.imported.type === 'Identifier' ? sp.imported.name : sp.imported.value;
          parts.push(`${local} = ${mod}[${JSON.stringify(imported)}]`);
        }
      }
      const code = parts.length ? `${parts.join('; ')};` : `${mod};`;
      ms.overwrite(s.start, s.end, code + newlines(js.slice(s.start, s.end)));
      return;
    }
    if (s.type === 'VariableDeclaration') {
      const decls = s.declarations as AnyNode[];
      const names: string[] = [];
      for (const d of decls) collectPatternNames(d.id, names);
      declared.push(...names);
      const withInit = decls.filter((d) => d.init);
      if (withInit.length === 0) {
        ms.overwrite(s.start, s.end, `;${newlines(js.slice(s.start, s.end))}`);
        return;
      }
      // `const a = 1, {b} = o;` → `;(a = 1), ({b} = o);` (the parentheses make destructuring legal).
      ms.overwrite(s.start, decls[0]!.start, ';');
      let prevEnd = -1;
      for (const d of decls) {
        if (prevEnd >= 0) ms.overwrite(prevEnd, d.start, `, ${newlines(js.slice(prevEnd, d.start))}`);
        if (d.init) {
          ms.prependRight(d.id.start, '(');
          ms.appendLeft(d.end, ')');
        } else {
          ms.overwrite(d.start, d.end, 'void 0');
        }
        prevEnd = d.end;
      }
      return;
    }
    if (s.type === 'ClassDeclaration') {
      declared.push(s.id.name);
      ms.prependRight(s.start, `${s.id.name} = `);
      ms.appendLeft(s.end, ';');
      return;
    }
    if (s.type === 'FunctionDeclaration') {
      declared.push(s.id.name);
      functions.push(s.id.name);
      return;
    }
    if (i === body.length - 1 && s.type === 'ExpressionStatement') {
      // The statement's range, not the expression's: `({ a })` keeps its parentheses.
      const end = js[s.end - 1] === ';' ? s.end - 1 : s.end;
      ms.prependRight(s.start, 'return { value: (');
      ms.appendLeft(end, ') }');
    }
  });

  // `throw x` → `throw __thrown(x)`: a thrown string or object carries no stack, so the
  // runner records where it was thrown (the value itself is unchanged). Done last, so that
  // no later overwrite of the same range drops it.
  walk(program, (n) => {
    if (n.type === 'ThrowStatement') {
      ms.prependRight(n.argument.start, '__thrown(');
      ms.appendLeft(n.argument.end, ')');
    }
  });

  const bodyCode = ms.toString();
  const msTrace = new TraceMap(ms.generateMap({ hires: true, includeContent: false }) as unknown as string);
  const lookup = (trace: TraceMap, line: number, column: number) => {
    let p = originalPositionFor(trace, { line, column, bias: GREATEST_LOWER_BOUND });
    if (p.line === null) p = originalPositionFor(trace, { line, column, bias: LEAST_UPPER_BOUND });
    if (p.line === null) p = originalPositionFor(trace, { line, column: 0, bias: LEAST_UPPER_BOUND });
    return p;
  };
  return {
    body: bodyCode,
    declared: [...new Set(declared)],
    functions,
    imports,
    computed,
    mapLine(line, column) {
      const p1 = lookup(msTrace, line, column);
      const jsLine = p1.line ?? line;
      const jsCol = p1.column ?? column;
      const p2 = lookup(esTrace, jsLine, jsCol);
      return p2.line;
    },
  };
}
