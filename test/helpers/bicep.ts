/**
 * A reader for the part of Bicep that infra/ uses: text -> tokens -> syntax tree -> values. The Bicep compiler cannot
 * be installed on this machine, and the deployment checks (test/deploy-settings.test.ts) must not depend on how a
 * template is laid out: indentation, blank lines, comments, line breaks inside brackets, and commas or line breaks
 * between the items of an object or array all give the same tree. What the reader does not know it rejects with an
 * error (an unsupported statement or an unexpected token), so a template that outgrows it fails the tests loudly
 * instead of being half-read.
 *
 * Values: what a template would evaluate to with the given parameters, where everything known before deployment is
 * computed (literals, parameters and their defaults, variables, loadJsonContent, concat, union, string, ternaries,
 * a resource's `name`, a module's outputs) and everything only Azure knows (resource ids and properties, unique
 * strings, the subscription) is a `Deferred` value naming where it comes from.
 */
import path from 'node:path';

// ------------------------------------------------------------------------------------------------ tokens

export type Token =
  | { kind: 'newline'; start: number; end: number }
  | { kind: 'identifier'; text: string; start: number; end: number }
  | { kind: 'number'; value: number; start: number; end: number }
  | { kind: 'string'; parts: Array<string | Token[]>; start: number; end: number }
  | { kind: 'punct'; text: string; start: number; end: number };

/** Longest first, so `==` is not read as `=` `=`. `.?` and `[?` are Bicep's safe-dereference operators. */
const PUNCTUATION = [
  '==',
  '!=',
  '=~',
  '!~',
  '<=',
  '>=',
  '&&',
  '||',
  '??',
  '=>',
  '.?',
  '[?',
  '::',
  '{',
  '}',
  '[',
  ']',
  '(',
  ')',
  ',',
  ':',
  '.',
  '?',
  '!',
  '=',
  '<',
  '>',
  '+',
  '-',
  '*',
  '/',
  '%',
  '@',
  '|',
];

const ESCAPES: Record<string, string> = { '\\': '\\', "'": "'", n: '\n', r: '\r', t: '\t', $: '$' };

export class BicepSyntaxError extends Error {
  override name = 'BicepSyntaxError';
}

/** Line and column of an offset, for error messages. */
function where(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${before[before.length - 1]!.length + 1}`;
}

/**
 * The tokens of `text`. Comments and spaces are dropped; line breaks become one `newline` token per run (Bicep
 * separates statements, and the items of multi-line objects and arrays, by line breaks). A string's `${...}`
 * interpolations are tokenized in place.
 */
export function tokenize(text: string): Token[] {
  return new Tokenizer(text).run(0, false).tokens;
}

class Tokenizer {
  constructor(private readonly text: string) {}

  /** Tokens from `start`; inside an interpolation, up to the `}` that closes it. */
  run(start: number, interpolation: boolean): { tokens: Token[]; end: number } {
    const { text } = this;
    const tokens: Token[] = [];
    const newline = (at: number) => {
      const last = tokens[tokens.length - 1];
      if (last?.kind !== 'newline') tokens.push({ kind: 'newline', start: at, end: at + 1 });
    };
    let depth = 0;
    let i = start;
    while (i < text.length) {
      const c = text[i]!;
      if (c === '\n') {
        newline(i);
        i++;
      } else if (c === ' ' || c === '\t' || c === '\r') {
        i++;
      } else if (text.startsWith('//', i)) {
        const eol = text.indexOf('\n', i);
        i = eol < 0 ? text.length : eol;
      } else if (text.startsWith('/*', i)) {
        const close = text.indexOf('*/', i + 2);
        if (close < 0) throw new BicepSyntaxError(`unterminated comment at ${where(text, i)}`);
        // A comment across lines separates what is before and after it, as the line break would.
        if (text.slice(i, close).includes('\n')) newline(i);
        i = close + 2;
      } else if (text.startsWith("'''", i)) {
        const close = text.indexOf("'''", i + 3);
        if (close < 0) throw new BicepSyntaxError(`unterminated multi-line string at ${where(text, i)}`);
        // Bicep drops a line break right after the opening quotes.
        const body = text.slice(i + 3, close).replace(/^\r?\n/, '');
        tokens.push({ kind: 'string', parts: [body], start: i, end: close + 3 });
        i = close + 3;
      } else if (c === "'") {
        const token = this.string(i);
        tokens.push(token);
        i = token.end;
      } else if (/[0-9]/.test(c)) {
        const digits = /^[0-9]+/.exec(text.slice(i))![0];
        tokens.push({ kind: 'number', value: Number(digits), start: i, end: i + digits.length });
        i += digits.length;
      } else if (/[A-Za-z_]/.test(c)) {
        const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))![0];
        tokens.push({ kind: 'identifier', text: word, start: i, end: i + word.length });
        i += word.length;
      } else {
        const punct = PUNCTUATION.find((p) => text.startsWith(p, i));
        if (!punct) throw new BicepSyntaxError(`unexpected character ${JSON.stringify(c)} at ${where(text, i)}`);
        if (interpolation && punct === '{') depth++;
        if (interpolation && punct === '}') {
          if (depth === 0) return { tokens, end: i + 1 };
          depth--;
        }
        tokens.push({ kind: 'punct', text: punct, start: i, end: i + punct.length });
        i += punct.length;
      }
    }
    if (interpolation) throw new BicepSyntaxError(`unterminated \${...} in a string at ${where(text, start)}`);
    return { tokens, end: i };
  }

  private string(start: number): Token & { kind: 'string' } {
    const { text } = this;
    const parts: Array<string | Token[]> = [];
    let literal = '';
    let i = start + 1;
    while (i < text.length) {
      const c = text[i]!;
      if (c === '\\') {
        const next = text[i + 1] ?? '';
        if (next === 'u' && text[i + 2] === '{') {
          const close = text.indexOf('}', i);
          literal += String.fromCodePoint(parseInt(text.slice(i + 3, close), 16));
          i = close + 1;
        } else if (next in ESCAPES) {
          literal += ESCAPES[next];
          i += 2;
        } else {
          throw new BicepSyntaxError(`unknown escape \\${next} at ${where(text, i)}`);
        }
      } else if (c === "'") {
        if (literal || !parts.length) parts.push(literal);
        return { kind: 'string', parts, start, end: i + 1 };
      } else if (c === '$' && text[i + 1] === '{') {
        if (literal) parts.push(literal);
        literal = '';
        const inner = this.run(i + 2, true);
        parts.push(inner.tokens);
        i = inner.end;
      } else if (c === '\n') {
        throw new BicepSyntaxError(`line break in a string at ${where(text, i)} (use '''...''' for multi-line strings)`);
      } else {
        literal += c;
        i++;
      }
    }
    throw new BicepSyntaxError(`unterminated string at ${where(text, start)}`);
  }
}

// ------------------------------------------------------------------------------------------------ syntax tree

export type Expr =
  | { kind: 'string'; parts: Array<string | Expr> }
  | { kind: 'number'; value: number }
  | { kind: 'bool'; value: boolean }
  | { kind: 'null' }
  | { kind: 'identifier'; name: string }
  | { kind: 'object'; entries: ObjectEntry[]; resources: ResourceDecl[] }
  | { kind: 'array'; items: Expr[] }
  | { kind: 'for'; item: string; index: string | undefined; source: Expr; body: Expr }
  | { kind: 'if'; condition: Expr; body: Expr }
  | { kind: 'member'; target: Expr; name: string; safe: boolean }
  | { kind: 'index'; target: Expr; index: Expr; safe: boolean }
  | { kind: 'call'; callee: Expr; args: Expr[] }
  | { kind: 'unary'; op: '!' | '-'; operand: Expr }
  | { kind: 'nonNull'; operand: Expr }
  | { kind: 'binary'; op: string; left: Expr; right: Expr }
  | { kind: 'ternary'; condition: Expr; whenTrue: Expr; whenFalse: Expr };

/** `key: value`; an interpolated key (`'${identityId}': {}`) keeps its expression, and its spelling as `key`. */
export interface ObjectEntry {
  key: string;
  keyExpr?: Expr;
  value: Expr;
}

export interface Decorator {
  name: string;
  args: Expr[];
}

export interface ParamDecl {
  name: string;
  /** The type as written, spaces normalized (`string`, `int`, `object`, `string[]`). */
  type: string;
  defaultValue: Expr | undefined;
  decorators: Decorator[];
}

export interface ResourceDecl {
  symbol: string;
  /** `Microsoft.Storage/storageAccounts@2023-05-01`; for a nested resource, as written (`config`). */
  type: string;
  existing: boolean;
  /** An object, `if (...) {...}` or `[for ... : ...]`. */
  body: Expr;
  decorators: Decorator[];
}

export interface ModuleDecl {
  symbol: string;
  path: string;
  body: Expr;
  decorators: Decorator[];
}

export interface OutputDecl {
  name: string;
  type: string;
  value: Expr;
  decorators: Decorator[];
}

export interface BicepFile {
  targetScope: Expr | undefined;
  params: Map<string, ParamDecl>;
  vars: Map<string, Expr>;
  resources: Map<string, ResourceDecl>;
  modules: Map<string, ModuleDecl>;
  outputs: Map<string, OutputDecl>;
}

/** Binary operators by precedence, loosest first (Bicep's order). */
const BINARY_LEVELS = [['??'], ['||'], ['&&'], ['==', '!=', '=~', '!~'], ['<', '<=', '>', '>='], ['+', '-'], ['*', '/', '%']];

/**
 * Tokens that can only continue an expression, never start an item: an expression may go on after a line break
 * when the next line starts with one of them (`? a`, `: b`, `.name`, `&& c`). `-`, `!`, `(` and `[` can start the
 * next item of a multi-line array, so they continue an expression on the same line only.
 */
const CONTINUES_ACROSS_LINES = new Set([
  '?',
  ':',
  '.',
  '.?',
  '??',
  '||',
  '&&',
  '==',
  '!=',
  '=~',
  '!~',
  '<',
  '<=',
  '>',
  '>=',
  '+',
  '*',
  '/',
  '%',
]);

/** Parse a whole template. Throws BicepSyntaxError on anything outside the supported subset. */
export function parseBicep(text: string): BicepFile {
  return new Parser(text, tokenize(text)).file();
}

/** Parse one expression (for tests and for building mutated templates). */
export function parseExpression(text: string): Expr {
  return new Parser(text, tokenize(text)).expressionToEnd();
}

class Parser {
  private i = 0;

  constructor(
    private readonly text: string,
    private readonly tokens: Token[],
  ) {}

  // ---------------------------------------------------------------- token helpers

  private peek(offset = 0): Token | undefined {
    return this.tokens[this.i + offset];
  }

  private fail(message: string, token = this.peek()): never {
    const at = token ? where(this.text, token.start) : 'the end';
    throw new BicepSyntaxError(`${message} at ${at}`);
  }

  private isPunct(text: string, token = this.peek()): boolean {
    return token?.kind === 'punct' && token.text === text;
  }

  private isWord(word: string, token = this.peek()): boolean {
    return token?.kind === 'identifier' && token.text === word;
  }

  private skipNewlines(): void {
    while (this.peek()?.kind === 'newline') this.i++;
  }

  /** The next token after any line breaks, if it is one that continues an expression (see CONTINUES_ACROSS_LINES). */
  private peekContinuation(): Token | undefined {
    let j = this.i;
    while (this.tokens[j]?.kind === 'newline') j++;
    const token = this.tokens[j];
    if (j === this.i) return token;
    return token?.kind === 'punct' && CONTINUES_ACROSS_LINES.has(token.text) ? token : undefined;
  }

  private takeContinuation(text: string): boolean {
    const token = this.peekContinuation();
    if (token?.kind !== 'punct' || token.text !== text) return false;
    this.skipNewlines();
    this.i++;
    return true;
  }

  private expectPunct(text: string): void {
    if (!this.isPunct(text)) this.fail(`expected "${text}"`);
    this.i++;
  }

  private identifier(what: string): string {
    const token = this.peek();
    if (token?.kind !== 'identifier') this.fail(`expected ${what}`);
    this.i++;
    return token.text;
  }

  private literalString(what: string): string {
    const token = this.peek();
    if (token?.kind !== 'string' || token.parts.some((p) => typeof p !== 'string')) this.fail(`expected ${what} (a plain string)`);
    this.i++;
    return token.parts.join('');
  }

  /** A type as written: the tokens up to `=` or the end of the line. */
  private typeText(): string {
    const start = this.i;
    while (this.peek() && this.peek()!.kind !== 'newline' && !this.isPunct('=')) this.i++;
    if (this.i === start) this.fail('expected a type');
    return this.tokens
      .slice(start, this.i)
      .map((t) => this.text.slice(t.start, t.end))
      .join('');
  }

  private endOfStatement(): void {
    const token = this.peek();
    if (token && token.kind !== 'newline') this.fail('expected the end of the line');
    this.skipNewlines();
  }

  // ---------------------------------------------------------------- statements

  file(): BicepFile {
    const file: BicepFile = {
      targetScope: undefined,
      params: new Map(),
      vars: new Map(),
      resources: new Map(),
      modules: new Map(),
      outputs: new Map(),
    };
    const declare = <T>(map: Map<string, T>, name: string, value: T, token: Token) => {
      if (map.has(name)) this.fail(`"${name}" is declared twice`, token);
      map.set(name, value);
    };
    this.skipNewlines();
    while (this.peek()) {
      const decorators = this.decorators();
      const keyword = this.peek()!;
      if (keyword.kind !== 'identifier') this.fail('expected a declaration');
      this.i++;
      switch (keyword.text) {
        case 'targetScope':
          this.expectPunct('=');
          file.targetScope = this.expression();
          break;
        case 'param': {
          const name = this.identifier('a parameter name');
          const type = this.typeText();
          let defaultValue: Expr | undefined;
          if (this.isPunct('=')) {
            this.i++;
            defaultValue = this.expression();
          }
          declare(file.params, name, { name, type, defaultValue, decorators }, keyword);
          break;
        }
        case 'var': {
          const name = this.identifier('a variable name');
          this.expectPunct('=');
          declare(file.vars, name, this.expression(), keyword);
          break;
        }
        case 'resource': {
          const resource = this.resource(decorators);
          declare(file.resources, resource.symbol, resource, keyword);
          break;
        }
        case 'module': {
          const symbol = this.identifier('a module name');
          const modulePath = this.literalString('the module path');
          this.expectPunct('=');
          declare(file.modules, symbol, { symbol, path: modulePath, body: this.declarationBody(), decorators }, keyword);
          break;
        }
        case 'output': {
          const name = this.identifier('an output name');
          const type = this.typeText();
          this.expectPunct('=');
          declare(file.outputs, name, { name, type, value: this.expression(), decorators }, keyword);
          break;
        }
        default:
          this.fail(`unsupported statement "${keyword.text}" (extend test/helpers/bicep.ts)`, keyword);
      }
      this.endOfStatement();
    }
    return file;
  }

  private decorators(): Decorator[] {
    const decorators: Decorator[] = [];
    while (this.isPunct('@')) {
      this.i++;
      let name = this.identifier('a decorator name');
      // @sys.description(...) is @description(...).
      if (this.isPunct('.')) {
        this.i++;
        name = this.identifier('a decorator name');
      }
      const args = this.isPunct('(') ? this.callArguments() : [];
      decorators.push({ name, args });
      this.skipNewlines();
    }
    return decorators;
  }

  /** After the `resource` keyword: `<symbol> '<type>' [existing] = <body>`. */
  private resource(decorators: Decorator[]): ResourceDecl {
    const symbol = this.identifier('a resource name');
    const type = this.literalString('the resource type');
    let existing = false;
    if (this.isWord('existing')) {
      existing = true;
      this.i++;
    }
    this.expectPunct('=');
    return { symbol, type, existing, body: this.declarationBody(), decorators };
  }

  /** A resource or module body: `{...}`, `if (<condition>) {...}` or `[for ... : ...]`. */
  private declarationBody(): Expr {
    if (this.isWord('if')) return this.conditionalBody();
    if (this.isPunct('[')) return this.array();
    if (this.isPunct('{')) return this.object();
    return this.fail('expected a body: {...}, if (...) {...} or [for ...]');
  }

  private conditionalBody(): Expr {
    this.i++; // if
    this.expectPunct('(');
    this.skipNewlines();
    const condition = this.expression();
    this.skipNewlines();
    this.expectPunct(')');
    if (!this.isPunct('{')) this.fail('expected "{" after the condition');
    return { kind: 'if', condition, body: this.object() };
  }

  // ---------------------------------------------------------------- expressions

  expressionToEnd(): Expr {
    this.skipNewlines();
    const expr = this.expression();
    this.skipNewlines();
    if (this.peek()) this.fail('unexpected token after the expression');
    return expr;
  }

  private expression(): Expr {
    const condition = this.binary(0);
    if (!this.takeContinuation('?')) return condition;
    this.skipNewlines();
    const whenTrue = this.expression();
    if (!this.takeContinuation(':')) this.fail('expected ":" of a ternary');
    this.skipNewlines();
    const whenFalse = this.expression();
    return { kind: 'ternary', condition, whenTrue, whenFalse };
  }

  private binary(level: number): Expr {
    if (level === BINARY_LEVELS.length) return this.unary();
    let left = this.binary(level + 1);
    for (;;) {
      const token = this.peekContinuation();
      if (token?.kind !== 'punct' || !BINARY_LEVELS[level]!.includes(token.text)) return left;
      this.takeContinuation(token.text);
      this.skipNewlines();
      left = { kind: 'binary', op: token.text, left, right: this.binary(level + 1) };
    }
  }

  private unary(): Expr {
    if (this.isPunct('!') || this.isPunct('-')) {
      const op = (this.peek() as { text: '!' | '-' }).text;
      this.i++;
      return { kind: 'unary', op, operand: this.unary() };
    }
    return this.postfix(this.primary());
  }

  private postfix(target: Expr): Expr {
    for (;;) {
      if (this.takeContinuation('.') || this.takeContinuation('.?')) {
        const safe = this.isPunct('.?', this.tokens[this.i - 1]);
        target = { kind: 'member', target, name: this.identifier('a property name'), safe };
      } else if (this.isPunct('[') || this.isPunct('[?')) {
        const safe = this.isPunct('[?');
        this.i++;
        this.skipNewlines();
        const index = this.expression();
        this.skipNewlines();
        this.expectPunct(']');
        target = { kind: 'index', target, index, safe };
      } else if (this.isPunct('(')) {
        target = { kind: 'call', callee: target, args: this.callArguments() };
      } else if (this.isPunct('!')) {
        this.i++;
        target = { kind: 'nonNull', operand: target };
      } else if (this.isPunct('::')) {
        return this.fail('nested resource access (::) is not supported');
      } else {
        return target;
      }
    }
  }

  /** `(a, b, ...)`: line breaks inside parentheses are spaces. */
  private callArguments(): Expr[] {
    this.expectPunct('(');
    const args: Expr[] = [];
    this.skipNewlines();
    while (!this.isPunct(')')) {
      args.push(this.expression());
      this.skipNewlines();
      if (this.isPunct(',')) {
        this.i++;
        this.skipNewlines();
      } else if (!this.isPunct(')')) {
        this.fail('expected "," or ")"');
      }
    }
    this.i++;
    return args;
  }

  private primary(): Expr {
    const token = this.peek();
    if (!token) return this.fail('expected an expression');
    if (token.kind === 'string') {
      this.i++;
      return {
        kind: 'string',
        parts: token.parts.map((part) => (typeof part === 'string' ? part : new Parser(this.text, part).expressionToEnd())),
      };
    }
    if (token.kind === 'number') {
      this.i++;
      return { kind: 'number', value: token.value };
    }
    if (token.kind === 'identifier') {
      if (this.isPunct('=>', this.peek(1))) this.fail('lambdas are not supported');
      this.i++;
      if (token.text === 'true' || token.text === 'false') return { kind: 'bool', value: token.text === 'true' };
      if (token.text === 'null') return { kind: 'null' };
      return { kind: 'identifier', name: token.text };
    }
    if (this.isPunct('(')) {
      this.i++;
      this.skipNewlines();
      const inner = this.expression();
      this.skipNewlines();
      this.expectPunct(')');
      if (this.isPunct('=>')) this.fail('lambdas are not supported');
      return inner;
    }
    if (this.isPunct('{')) return this.object();
    if (this.isPunct('[')) return this.array();
    return this.fail('expected an expression');
  }

  /** Items end at a comma or a line break; either may follow the last one. */
  private itemSeparator(close: string): void {
    const token = this.peek();
    if (this.isPunct(',')) this.i++;
    else if (token?.kind !== 'newline' && !this.isPunct(close)) this.fail(`expected "," a line break or "${close}"`);
    this.skipNewlines();
  }

  private object(): Expr & { kind: 'object' } {
    this.expectPunct('{');
    const entries: ObjectEntry[] = [];
    const resources: ResourceDecl[] = [];
    this.skipNewlines();
    while (!this.isPunct('}')) {
      const decorators = this.decorators();
      const keyToken = this.peek();
      // A nested resource (`resource settings 'config' = {...}`), not a property named "resource".
      if (this.isWord('resource') && this.peek(1)?.kind === 'identifier') {
        this.i++;
        resources.push(this.resource(decorators));
        this.itemSeparator('}');
        continue;
      }
      let key: string;
      let keyExpr: Expr | undefined;
      if (keyToken?.kind === 'identifier') {
        this.i++;
        key = keyToken.text;
      } else if (keyToken?.kind === 'string' && keyToken.parts.some((p) => typeof p !== 'string')) {
        keyExpr = this.primary();
        key = printExpr(keyExpr);
      } else {
        key = this.literalString('a property name');
      }
      if (entries.some((e) => e.key === key)) this.fail(`property "${key}" appears twice`, keyToken);
      this.expectPunct(':');
      this.skipNewlines();
      entries.push({ key, ...(keyExpr ? { keyExpr } : {}), value: this.expression() });
      this.itemSeparator('}');
    }
    this.i++;
    return { kind: 'object', entries, resources };
  }

  private array(): Expr {
    this.expectPunct('[');
    this.skipNewlines();
    if (this.isWord('for')) return this.forExpression();
    const items: Expr[] = [];
    while (!this.isPunct(']')) {
      items.push(this.expression());
      this.itemSeparator(']');
    }
    this.i++;
    return { kind: 'array', items };
  }

  /** After `[`: `for <item> in <source>: <body>]` or `for (<item>, <index>) in ...`; the body may be `if (...) {...}`. */
  private forExpression(): Expr {
    this.i++; // for
    let item: string;
    let index: string | undefined;
    if (this.isPunct('(')) {
      this.i++;
      item = this.identifier('the loop item');
      this.expectPunct(',');
      index = this.identifier('the loop index');
      this.expectPunct(')');
    } else {
      item = this.identifier('the loop item');
    }
    if (!this.isWord('in')) this.fail('expected "in"');
    this.i++;
    const source = this.expression();
    this.expectPunct(':');
    this.skipNewlines();
    const body = this.isWord('if') ? this.conditionalBody() : this.expression();
    this.skipNewlines();
    this.expectPunct(']');
    return { kind: 'for', item, index, source, body };
  }
}

// ------------------------------------------------------------------------------------------------ printing

/** An expression in one canonical spelling, whatever its layout: for comparing expressions and for messages. */
export function printExpr(expr: Expr): string {
  switch (expr.kind) {
    case 'string':
      return `'${expr.parts.map((p) => (typeof p === 'string' ? p.replace(/[\\'$]/g, (c) => `\\${c}`) : `\${${printExpr(p)}}`)).join('')}'`;
    case 'number':
      return String(expr.value);
    case 'bool':
      return String(expr.value);
    case 'null':
      return 'null';
    case 'identifier':
      return expr.name;
    case 'object': {
      const entries = expr.entries.map((e) => `${e.keyExpr || /^[A-Za-z_]\w*$/.test(e.key) ? e.key : `'${e.key}'`}: ${printExpr(e.value)}`);
      const resources = expr.resources.map(
        (r) => `resource ${r.symbol} '${r.type}'${r.existing ? ' existing' : ''} = ${printExpr(r.body)}`,
      );
      return `{ ${[...entries, ...resources].join(', ')} }`;
    }
    case 'array':
      return `[${expr.items.map(printExpr).join(', ')}]`;
    case 'for':
      return `[for ${expr.index ? `(${expr.item}, ${expr.index})` : expr.item} in ${printExpr(expr.source)}: ${printExpr(expr.body)}]`;
    case 'if':
      return `if (${printExpr(expr.condition)}) ${printExpr(expr.body)}`;
    case 'member':
      return `${printExpr(expr.target)}${expr.safe ? '.?' : '.'}${expr.name}`;
    case 'index':
      return `${printExpr(expr.target)}[${expr.safe ? '?' : ''}${printExpr(expr.index)}]`;
    case 'call':
      return `${printExpr(expr.callee)}(${expr.args.map(printExpr).join(', ')})`;
    case 'unary':
      return `${expr.op}${printExpr(expr.operand)}`;
    case 'nonNull':
      return `${printExpr(expr.operand)}!`;
    case 'binary':
      return `(${printExpr(expr.left)} ${expr.op} ${printExpr(expr.right)})`;
    case 'ternary':
      return `(${printExpr(expr.condition)} ? ${printExpr(expr.whenTrue)} : ${printExpr(expr.whenFalse)})`;
  }
}

/** A whole template in one canonical spelling: two layouts of the same template print the same. */
export function printFile(file: BicepFile): string {
  const decorators = (list: Decorator[]) => list.map((d) => `@${d.name}(${d.args.map(printExpr).join(', ')}) `).join('');
  return [
    file.targetScope ? `targetScope = ${printExpr(file.targetScope)}` : '',
    ...[...file.params.values()].map(
      (p) => `${decorators(p.decorators)}param ${p.name} ${p.type}${p.defaultValue ? ` = ${printExpr(p.defaultValue)}` : ''}`,
    ),
    ...[...file.vars].map(([name, value]) => `var ${name} = ${printExpr(value)}`),
    ...[...file.resources.values()].map(
      (r) => `${decorators(r.decorators)}resource ${r.symbol} '${r.type}'${r.existing ? ' existing' : ''} = ${printExpr(r.body)}`,
    ),
    ...[...file.modules.values()].map((m) => `${decorators(m.decorators)}module ${m.symbol} '${m.path}' = ${printExpr(m.body)}`),
    ...[...file.outputs.values()].map((o) => `${decorators(o.decorators)}output ${o.name} ${o.type} = ${printExpr(o.value)}`),
  ].join('\n');
}

/** Every expression of a template, nested ones included (for finding, say, each loadJsonContent call). */
export function allExpressions(file: BicepFile): Expr[] {
  const found: Expr[] = [];
  const visit = (expr: Expr): void => {
    found.push(expr);
    switch (expr.kind) {
      case 'string':
        for (const part of expr.parts) if (typeof part !== 'string') visit(part);
        break;
      case 'object':
        for (const entry of expr.entries) {
          if (entry.keyExpr) visit(entry.keyExpr);
          visit(entry.value);
        }
        for (const resource of expr.resources) declaration(resource.decorators, resource.body);
        break;
      case 'array':
        expr.items.forEach(visit);
        break;
      case 'for':
        visit(expr.source);
        visit(expr.body);
        break;
      case 'if':
        visit(expr.condition);
        visit(expr.body);
        break;
      case 'member':
        visit(expr.target);
        break;
      case 'index':
        visit(expr.target);
        visit(expr.index);
        break;
      case 'call':
        visit(expr.callee);
        expr.args.forEach(visit);
        break;
      case 'unary':
      case 'nonNull':
        visit(expr.operand);
        break;
      case 'binary':
        visit(expr.left);
        visit(expr.right);
        break;
      case 'ternary':
        visit(expr.condition);
        visit(expr.whenTrue);
        visit(expr.whenFalse);
        break;
    }
  };
  const declaration = (decorators: Decorator[], ...exprs: Array<Expr | undefined>) => {
    for (const d of decorators) d.args.forEach(visit);
    for (const e of exprs) if (e) visit(e);
  };
  if (file.targetScope) visit(file.targetScope);
  for (const p of file.params.values()) declaration(p.decorators, p.defaultValue);
  for (const v of file.vars.values()) visit(v);
  for (const r of file.resources.values()) declaration(r.decorators, r.body);
  for (const m of file.modules.values()) declaration(m.decorators, m.body);
  for (const o of file.outputs.values()) declaration(o.decorators, o.value);
  return found;
}

// ------------------------------------------------------------------------------------------------ values

/** A value only the deployment knows (a resource id, an endpoint, a unique string): named by where it comes from. */
export class Deferred {
  constructor(
    readonly source: string,
    /** For an interpolated string: its parts, so a stand-in keeps the known text around the unknown part. */
    readonly parts?: Value[],
  ) {}
}

export type Value = null | boolean | number | string | Value[] | { [key: string]: Value } | Deferred;

/** Reads a file of the infra folder by its path relative to that folder (`main.bicep`, `app/storage.bicep`). */
export type InfraReader = (relativePath: string) => string;

/** A symbol that is not a value by itself: a resource or module declaration (its `name` and `outputs` are). */
class ResourceRef {
  constructor(
    readonly template: Template,
    readonly decl: ResourceDecl,
  ) {}
}
class ModuleRef {
  constructor(
    readonly template: Template,
    readonly decl: ModuleDecl,
  ) {}
}
class OutputsRef {
  constructor(readonly module: Template) {}
}
type Evaluated = Value | ResourceRef | ModuleRef | OutputsRef;

const isPlainObject = (v: unknown): v is { [key: string]: Value } =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Deferred);

/** Where a reference ends up inside a value (a `scope:` or `dependsOn:`), it stands for the deployed thing. */
function asValue(v: Evaluated): Value {
  if (v instanceof ResourceRef) return new Deferred(v.decl.symbol);
  if (v instanceof ModuleRef) return new Deferred(v.decl.symbol);
  if (v instanceof OutputsRef) return new Deferred('outputs');
  return v;
}

const hasDeferred = (v: Value): boolean =>
  v instanceof Deferred || (Array.isArray(v) ? v.some(hasDeferred) : isPlainObject(v) ? Object.values(v).some(hasDeferred) : false);

/**
 * Deferred values replaced by stand-ins of the right shape: a URL where the source is an endpoint or URI (the app
 * validates those as URLs), else the word "placeholder".
 */
export function concretize(value: Value): Exclude<Value, Deferred> {
  if (value instanceof Deferred && value.parts) return value.parts.map((part) => String(concretize(part))).join('');
  if (value instanceof Deferred) return /uri|endpoint/i.test(value.source) ? 'https://placeholder.example/' : 'placeholder';
  if (Array.isArray(value)) return value.map(concretize);
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, concretize(v)]));
  return value;
}

/** One instance of a resource declaration (a loop gives one per item), with the loop variables it sees. */
export interface ResourceInstance {
  template: Template;
  decl: ResourceDecl;
  /** The full type without the API version: `Microsoft.Web/sites/config` for a `config` nested in a site. */
  type: string;
  /** Whether its `if (...)` holds: true, false, or Deferred when only the deployment knows. */
  condition: boolean | Deferred;
  /** Evaluate one property path of its body (`name`, `properties.resource.partitionKey.paths`). */
  property(...path: string[]): Value;
}

/** Parameters given to a template: values, or lazily evaluated expressions of the parent (a module's `params`). */
export type Arguments = Record<string, Value | (() => Value)>;

/**
 * A template with its parameters: evaluates variables, outputs and resource properties. Parameters not given take
 * their defaults; a parameter with neither is Deferred (the deployment supplies it).
 */
export class Template {
  private readonly varCache = new Map<string, Value>();
  private readonly evaluatingVars = new Set<string>();
  private readonly argCache = new Map<string, Value>();

  constructor(
    /** Path relative to the infra folder. */
    readonly path: string,
    readonly file: BicepFile,
    private readonly read: InfraReader,
    private readonly args: Arguments = {},
  ) {
    for (const name of Object.keys(args))
      if (!file.params.has(name)) throw new Error(`${path} is given parameter ${name}, which it does not declare`);
  }

  static load(read: InfraReader, relativePath: string, args: Arguments = {}): Template {
    let file: BicepFile;
    try {
      file = parseBicep(read(relativePath));
    } catch (error) {
      if (error instanceof BicepSyntaxError) throw new BicepSyntaxError(`${relativePath}: ${error.message}`);
      throw error;
    }
    return new Template(relativePath, file, read, args);
  }

  param(name: string): Value {
    if (this.argCache.has(name)) return this.argCache.get(name)!;
    const decl = this.file.params.get(name);
    if (!decl) throw new Error(`${this.path}: no parameter ${name}`);
    let value: Value;
    if (name in this.args) {
      const given = this.args[name]!;
      value = typeof given === 'function' ? given() : given;
    } else if (decl.defaultValue) {
      value = asValue(this.evaluate(decl.defaultValue));
    } else {
      value = new Deferred(`param ${name}`);
    }
    this.argCache.set(name, value);
    return value;
  }

  variable(name: string): Value {
    if (this.varCache.has(name)) return this.varCache.get(name)!;
    const expr = this.file.vars.get(name);
    if (!expr) throw new Error(`${this.path}: no variable ${name}`);
    if (this.evaluatingVars.has(name)) throw new Error(`${this.path}: variable ${name} refers to itself`);
    this.evaluatingVars.add(name);
    const value = asValue(this.evaluate(expr));
    this.evaluatingVars.delete(name);
    this.varCache.set(name, value);
    return value;
  }

  output(name: string): Value {
    const decl = this.file.outputs.get(name);
    if (!decl) throw new Error(`${this.path}: no output ${name}`);
    return asValue(this.evaluate(decl.value));
  }

  /** A module declared here, instantiated with the parameters this template gives it. */
  module(symbol: string): Template {
    const decl = this.file.modules.get(symbol);
    if (!decl) throw new Error(`${this.path}: no module ${symbol}`);
    const body = unwrapBody(decl.body);
    if (body.kind !== 'object') throw new Error(`${this.path}: module ${symbol} is a loop (not supported)`);
    const params = body.entries.find((e) => e.key === 'params')?.value;
    if (params && params.kind !== 'object') throw new Error(`${this.path}: module ${symbol}: params is not an object literal`);
    const args: Arguments = Object.fromEntries((params?.entries ?? []).map((e) => [e.key, () => asValue(this.evaluate(e.value))]));
    return Template.load(this.read, path.posix.join(path.posix.dirname(this.path), decl.path), args);
  }

  /** Modules declared here by the file they use (`app/storage.bicep`), e.g. to find one whatever its symbol. */
  modulesUsing(relativePath: string): ModuleDecl[] {
    const wanted = path.posix.normalize(relativePath);
    return [...this.file.modules.values()].filter((m) => path.posix.join(path.posix.dirname(this.path), m.path) === wanted);
  }

  /** Every resource instance declared here (nested ones included, loops expanded), in declaration order. */
  resources(): ResourceInstance[] {
    const instances: ResourceInstance[] = [];
    const visit = (decl: ResourceDecl, parentType: string | undefined, locals: Map<string, Value>) => {
      const [rawType] = decl.type.split('@');
      const type = parentType && !rawType!.includes('/') ? `${parentType}/${rawType}` : rawType!;
      for (const { body, condition, scope } of this.expand(decl.body, locals)) {
        const instance: ResourceInstance = {
          template: this,
          decl,
          type,
          condition,
          property: (...propertyPath) => this.property(body, propertyPath, scope),
        };
        instances.push(instance);
        for (const nested of body.resources) visit(nested, type, scope);
      }
    };
    for (const decl of this.file.resources.values()) visit(decl, undefined, new Map());
    return instances;
  }

  /** The object bodies of a declaration body: one, none (a false condition stays, flagged), or one per loop item. */
  private expand(
    body: Expr,
    locals: Map<string, Value>,
  ): Array<{ body: Expr & { kind: 'object' }; condition: boolean | Deferred; scope: Map<string, Value> }> {
    if (body.kind === 'object') return [{ body, condition: true, scope: locals }];
    if (body.kind === 'if') {
      const condition = this.evaluate(body.condition, locals);
      const flag = condition instanceof Deferred ? condition : condition === true;
      return this.expand(body.body, locals).map((b) => ({ ...b, condition: flag }));
    }
    if (body.kind === 'for') {
      const source = asValue(this.evaluate(body.source, locals));
      if (!Array.isArray(source)) throw new Error(`${this.path}: a loop over ${printExpr(body.source)}, which is not a known array`);
      return source.flatMap((item, index) => {
        const scope = new Map(locals).set(body.item, item);
        if (body.index) scope.set(body.index, index);
        return this.expand(body.body, scope);
      });
    }
    throw new Error(`${this.path}: unexpected declaration body ${printExpr(body)}`);
  }

  /** A property path of an object literal, walking the literal as long as it is one (so siblings are not evaluated). */
  private property(body: Expr, propertyPath: string[], locals: Map<string, Value>): Value {
    let node: Expr = body;
    for (let k = 0; k < propertyPath.length; k++) {
      const key = propertyPath[k]!;
      if (node.kind !== 'object') {
        let value = asValue(this.evaluate(node, locals));
        for (const rest of propertyPath.slice(k)) value = member(value, rest, printExpr(node));
        return value;
      }
      const entry = node.entries.find((e) => e.key === key);
      if (!entry) return null;
      node = entry.value;
    }
    return asValue(this.evaluate(node, locals));
  }

  evaluate(expr: Expr, locals: Map<string, Value> = new Map()): Evaluated {
    const value = (e: Expr) => asValue(this.evaluate(e, locals));
    switch (expr.kind) {
      case 'string': {
        // A string that interpolates something only the deployment knows is only known then, as a whole.
        const parts = expr.parts.map((p) => (typeof p === 'string' ? p : value(p)));
        if (parts.some(hasDeferred)) return new Deferred(printExpr(expr), parts);
        return parts.map((p) => stringOf(p)).join('');
      }
      case 'number':
      case 'bool':
        return expr.value;
      case 'null':
        return null;
      case 'identifier':
        return this.identifier(expr.name, locals);
      case 'object': {
        const out: { [key: string]: Value } = {};
        for (const entry of expr.entries) {
          const key = entry.keyExpr ? concretize(value(entry.keyExpr)) : entry.key;
          out[typeof key === 'string' ? key : stringOf(key)] = value(entry.value);
        }
        return out;
      }
      case 'array':
        return expr.items.map(value);
      case 'for': {
        const source = value(expr.source);
        if (source instanceof Deferred) return new Deferred(printExpr(expr));
        if (!Array.isArray(source)) throw new Error(`${this.path}: a loop over ${printExpr(expr.source)}, which is not an array`);
        return source.map((item, index) => {
          const scope = new Map(locals).set(expr.item, item);
          if (expr.index) scope.set(expr.index, index);
          return asValue(this.evaluate(expr.body, scope));
        });
      }
      case 'if':
        throw new Error(`${this.path}: "if" outside a declaration body`);
      case 'member': {
        const target = this.evaluate(expr.target, locals);
        if (target instanceof ResourceRef) return this.resourceMember(target, expr.name);
        if (target instanceof ModuleRef) {
          if (expr.name === 'outputs') return new OutputsRef(target.template.module(target.decl.symbol));
          return new Deferred(printExpr(expr));
        }
        if (target instanceof OutputsRef) return target.module.output(expr.name);
        if (expr.safe && (target === null || (isPlainObject(target) && !(expr.name in target)))) return null;
        return member(target, expr.name, printExpr(expr.target));
      }
      case 'index': {
        const target = value(expr.target);
        const index = value(expr.index);
        if (target instanceof Deferred || index instanceof Deferred) return new Deferred(printExpr(expr));
        if (Array.isArray(target) && typeof index === 'number') return target[index] ?? (expr.safe ? null : fail(expr));
        if (isPlainObject(target) && typeof index === 'string') return target[index] ?? (expr.safe ? null : fail(expr));
        return fail(expr);
      }
      case 'call':
        return this.call(expr, locals);
      case 'unary': {
        const operand = value(expr.operand);
        if (operand instanceof Deferred) return new Deferred(printExpr(expr));
        if (expr.op === '!') return !operand;
        if (typeof operand !== 'number') throw new Error(`${this.path}: -${printExpr(expr.operand)} is not a number`);
        return -operand;
      }
      case 'nonNull':
        return this.evaluate(expr.operand, locals);
      case 'binary':
        return this.binary(expr, locals);
      case 'ternary': {
        const condition = value(expr.condition);
        if (condition instanceof Deferred) return new Deferred(printExpr(expr));
        return this.evaluate(condition ? expr.whenTrue : expr.whenFalse, locals);
      }
    }

    function fail(e: Expr): never {
      throw new Error(`cannot evaluate ${printExpr(e)}`);
    }
  }

  private identifier(name: string, locals: Map<string, Value>): Evaluated {
    if (locals.has(name)) return locals.get(name)!;
    if (this.file.params.has(name)) return this.param(name);
    if (this.file.vars.has(name)) return this.variable(name);
    const resource = this.file.resources.get(name);
    if (resource) return new ResourceRef(this, resource);
    const module = this.file.modules.get(name);
    if (module) return new ModuleRef(this, module);
    throw new Error(`${this.path}: unknown name ${name}`);
  }

  /** A resource's `name` is what its declaration says; everything else about it (id, properties) is Azure's. */
  private resourceMember(ref: ResourceRef, name: string): Evaluated {
    if (name === 'name') {
      const body = unwrapBody(ref.decl.body);
      const entry = body.kind === 'object' ? body.entries.find((e) => e.key === 'name') : undefined;
      if (entry) return asValue(this.evaluate(entry.value));
    }
    return new Deferred(`${ref.decl.symbol}.${name}`);
  }

  private binary(expr: Expr & { kind: 'binary' }, locals: Map<string, Value>): Value {
    const left = asValue(this.evaluate(expr.left, locals));
    // Short circuits decide without the right side, even when it is only known at deployment.
    if (expr.op === '&&' && left === false) return false;
    if (expr.op === '||' && left === true) return true;
    if (expr.op === '??' && left !== null && !(left instanceof Deferred)) return left;
    const right = asValue(this.evaluate(expr.right, locals));
    if (expr.op === '??') return left instanceof Deferred ? new Deferred(printExpr(expr)) : right;
    if (left instanceof Deferred || right instanceof Deferred) return new Deferred(printExpr(expr));
    switch (expr.op) {
      case '&&':
        return Boolean(left) && Boolean(right);
      case '||':
        return Boolean(left) || Boolean(right);
      case '==':
        return JSON.stringify(left) === JSON.stringify(right);
      case '!=':
        return JSON.stringify(left) !== JSON.stringify(right);
      case '=~':
        return String(left).toLowerCase() === String(right).toLowerCase();
      case '!~':
        return String(left).toLowerCase() !== String(right).toLowerCase();
    }
    if (typeof left !== 'number' || typeof right !== 'number') throw new Error(`${this.path}: ${printExpr(expr)} needs numbers`);
    switch (expr.op) {
      case '<':
        return left < right;
      case '<=':
        return left <= right;
      case '>':
        return left > right;
      case '>=':
        return left >= right;
      case '+':
        return left + right;
      case '-':
        return left - right;
      case '*':
        return left * right;
      case '/':
        return Math.trunc(left / right);
      case '%':
        return left % right;
    }
    throw new Error(`${this.path}: unknown operator ${expr.op}`);
  }

  private call(expr: Expr & { kind: 'call' }, locals: Map<string, Value>): Value {
    // `sys.concat(...)` and `az.resourceGroup()` are the plain functions; a method of a resource (listKeys) is Azure's.
    let name: string;
    if (expr.callee.kind === 'identifier') name = expr.callee.name;
    else if (expr.callee.kind === 'member' && expr.callee.target.kind === 'identifier' && ['sys', 'az'].includes(expr.callee.target.name))
      name = expr.callee.name;
    else return new Deferred(printExpr(expr));
    const args = expr.args.map((a) => asValue(this.evaluate(a, locals)));
    const deferred = () => new Deferred(printExpr(expr));
    switch (name) {
      case 'loadJsonContent':
      case 'loadTextContent': {
        if (args.length !== 1 || typeof args[0] !== 'string')
          throw new Error(`${this.path}: ${printExpr(expr)}: only a literal path is supported (no JSONPath, no encoding)`);
        const text = this.read(path.posix.join(path.posix.dirname(this.path), args[0]));
        return name === 'loadTextContent' ? text : (JSON.parse(text) as Value);
      }
      case 'string':
        // string() of an object is its JSON; what only the deployment knows is a stand-in inside it.
        return args[0] instanceof Deferred ? deferred() : stringOf(concretize(args[0]!));
    }
    // Arrays and objects may hold deferred items (concat and union keep them); a deferred argument defers the call.
    if (args.some((a) => a instanceof Deferred)) return deferred();
    switch (name) {
      case 'concat':
        return args.every(Array.isArray) ? (args as Value[][]).flat(1) : args.map((a) => stringOf(a)).join('');
      case 'union': {
        if (args.every(Array.isArray)) return [...new Map((args as Value[][]).flat(1).map((v) => [JSON.stringify(v), v])).values()];
        if (!args.every(isPlainObject)) throw new Error(`${this.path}: ${printExpr(expr)}: union of objects or of arrays only`);
        // Later objects win for a key they share (ARM's union); app settings are flat, so no deep merge is needed.
        return Object.assign({}, ...args);
      }
      case 'empty': {
        const [v] = args;
        return v === null || v === '' || (Array.isArray(v) && v.length === 0) || (isPlainObject(v) && Object.keys(v).length === 0);
      }
      case 'take': {
        const [v, n] = args;
        if ((typeof v === 'string' || Array.isArray(v)) && typeof n === 'number') return v.slice(0, Math.max(0, n));
        break;
      }
      case 'toLower':
        if (typeof args[0] === 'string') return args[0].toLowerCase();
        break;
      case 'toUpper':
        if (typeof args[0] === 'string') return args[0].toUpperCase();
        break;
      case 'length': {
        const [v] = args;
        if (typeof v === 'string' || Array.isArray(v)) return v.length;
        if (isPlainObject(v)) return Object.keys(v).length;
        break;
      }
      case 'contains': {
        const [container, item] = args;
        if (args.some(hasDeferred)) return deferred();
        if (typeof container === 'string' && typeof item === 'string') return container.includes(item);
        if (Array.isArray(container)) return container.some((v) => JSON.stringify(v) === JSON.stringify(item));
        if (isPlainObject(container) && typeof item === 'string')
          return Object.keys(container).some((k) => k.toLowerCase() === item.toLowerCase());
        break;
      }
      case 'int':
        if (typeof args[0] === 'string' || typeof args[0] === 'number') return Math.trunc(Number(args[0]));
        break;
      default:
        // uniqueString, guid, subscription(), resourceGroup(), subscriptionResourceId(...): only Azure knows.
        return deferred();
    }
    throw new Error(`${this.path}: ${printExpr(expr)}: unexpected arguments`);
  }
}

function unwrapBody(body: Expr): Expr {
  return body.kind === 'if' ? unwrapBody(body.body) : body;
}

function member(target: Value, name: string, targetText: string): Value {
  if (target instanceof Deferred) return new Deferred(`${target.source}.${name}`);
  if (isPlainObject(target)) {
    if (!(name in target)) throw new Error(`${targetText} has no property ${name}`);
    return target[name]!;
  }
  throw new Error(`${targetText} is not an object (reading .${name})`);
}

/** Bicep's string(): strings as they are, everything else as JSON. */
function stringOf(value: Value): string {
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

// ------------------------------------------------------------------------------------------------ mutations

/**
 * `text` with the token sequence of `from` replaced by `to`, wherever its layout: the tests' mutations of real
 * templates, so that they keep applying after the templates are reformatted. Throws unless `from` occurs exactly once.
 */
export function replaceTokens(text: string, from: string, to: string): string {
  const key = (t: Token): string =>
    t.kind === 'identifier'
      ? `i:${t.text}`
      : t.kind === 'number'
        ? `n:${t.value}`
        : t.kind === 'punct'
          ? `p:${t.text}`
          : t.kind === 'string'
            ? `s:${JSON.stringify(t.parts.map((p) => (typeof p === 'string' ? p : p.filter((x) => x.kind !== 'newline').map(key))))}`
            : 'newline';
  const haystack = tokenize(text).filter((t) => t.kind !== 'newline');
  const needle = tokenize(from)
    .filter((t) => t.kind !== 'newline')
    .map(key);
  if (!needle.length) throw new Error('replaceTokens: nothing to look for');
  const matches: number[] = [];
  for (let i = 0; i + needle.length <= haystack.length; i++) {
    if (needle.every((k, j) => key(haystack[i + j]!) === k)) matches.push(i);
  }
  if (matches.length !== 1) throw new Error(`replaceTokens: "${from}" occurs ${matches.length} times`);
  const first = haystack[matches[0]!]!;
  const last = haystack[matches[0]! + needle.length - 1]!;
  return text.slice(0, first.start) + to + text.slice(last.end);
}
