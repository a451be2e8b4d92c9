/**
 * The Bicep reader of test/helpers/bicep.ts, on small templates: layouts that must read the same, the expressions
 * the deployment checks rely on (union, loadJsonContent, module outputs, loops), what stays Deferred until
 * deployment, and the errors for what it does not support (so a template outgrowing it fails loudly).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BicepSyntaxError,
  concretize,
  Deferred,
  parseBicep,
  parseExpression,
  printExpr,
  printFile,
  replaceTokens,
  Template,
  tokenize,
} from './helpers/bicep';

const files = (map: Record<string, string>) => (relative: string) => {
  const text = map[relative];
  if (text === undefined) throw new Error(`no ${relative}`);
  return text;
};

test('strings: escapes, interpolations (with braces inside), multi-line strings; comments and spaces vanish', () => {
  const tokens = tokenize("var a = 'it\\'s ${union({ b: 1 }, c)}!' // note\n/* block */ var m = '''\nline\n'''");
  const strings = tokens.filter((t) => t.kind === 'string');
  assert.equal(strings.length, 2);
  assert.equal(printExpr(parseExpression("'it\\'s ${union({ b: 1 }, c)}!'")), "'it\\'s ${union({ b: 1 }, c)}!'");
  assert.deepEqual(strings[1]!.kind === 'string' && strings[1]!.parts, ['line\n']);
  assert.equal(tokens.filter((t) => t.kind === 'newline').length, 1);
  assert.throws(() => tokenize("var a = 'open"), /unterminated string/);
  assert.throws(() => tokenize("var a = 'x\\q'"), /unknown escape/);
  assert.throws(() => tokenize('var a = 1 # 2'), /unexpected character "#"/);
});

test('objects and arrays read the same with line breaks or commas; expressions may continue on the next line', () => {
  const multiLine = parseExpression("{\n  a: 1\n\n  'b-c': [\n    1\n    -2\n  ]\n  d: x ? y : z\n}");
  const oneLine = parseExpression("{ a: 1, 'b-c': [1, -2], d: x ? y : z }");
  assert.equal(printExpr(multiLine), printExpr(oneLine));
  // `-2` on its own line is the next item, not a subtraction; `?`, `:`, `.`, `&&` continue the expression.
  assert.equal(printExpr(parseExpression('[\n  1\n  -2\n]')), '[1, -2]');
  assert.equal(printExpr(parseExpression('a\n  ? b\n  : c.d\n    .e')), '(a ? b : c.d.e)');
  assert.equal(printExpr(parseExpression('a &&\n b ||\n !c')), '((a && b) || !c)');
  assert.equal(printExpr(parseExpression('f(\n  a,\n  b\n)')), 'f(a, b)');
  assert.equal(printExpr(parseExpression('x.?y ?? z[?0]!')), '(x.?y ?? z[?0]!)');
  assert.throws(() => parseExpression('{ a: 1, a: 2 }'), /property "a" appears twice/);
  assert.throws(() => parseExpression('{ a: 1 b: 2 }'), /expected "," a line break or "}"/);
});

test('templates: declarations, decorators, nested resources, loops and conditions; unsupported statements fail', () => {
  const text = [
    "targetScope = 'subscription'",
    '@allowed([1, 2])',
    "@sys.description('n')",
    'param n int = 1',
    'param s string',
    "var items = ['a', 'b']",
    "resource site 'Microsoft.Web/sites@2024-04-01' = {",
    '  name: s',
    "  resource settings 'config' = {",
    "    name: 'appsettings'",
    '  }',
    '}',
    "resource loop 'Microsoft.X/y@1' = [for (item, i) in items: { name: '${item}-${i}' }]",
    "module m 'm.bicep' = if (n == 1) {",
    "  name: 'm'",
    '}',
    'output o string = s',
  ].join('\n');
  const file = parseBicep(text);
  assert.deepEqual([...file.params.keys()], ['n', 's']);
  assert.deepEqual(
    file.params.get('n')!.decorators.map((d) => d.name),
    ['allowed', 'description'],
  );
  assert.equal(file.resources.get('site')!.body.kind, 'object');
  assert.equal(file.modules.get('m')!.body.kind, 'if');
  // The same template laid out differently prints the same.
  assert.equal(printFile(parseBicep(text.replace(/\n {2}/g, '\n\t\t').replace(/\n/g, '\n\n'))), printFile(file));
  const template = new Template('main.bicep', file, files({}), { s: 'app' });
  const resources = template.resources();
  assert.deepEqual(
    resources.map((r) => [r.type, r.property('name')]),
    [
      ['Microsoft.Web/sites', 'app'],
      ['Microsoft.Web/sites/config', 'appsettings'],
      ['Microsoft.X/y', 'a-0'],
      ['Microsoft.X/y', 'b-1'],
    ],
  );
  for (const statement of ["import * as x from 'x.bicep'", 'func f() string => 1', 'type t = string'])
    assert.throws(
      () => parseBicep(statement),
      (error: unknown) => error instanceof BicepSyntaxError && /unsupported statement/.test(error.message),
    );
  assert.throws(() => parseBicep('var a = 1\nvar a = 2'), /"a" is declared twice/);
  assert.throws(() => parseBicep('var f = x => x'), /lambdas are not supported/);
  assert.throws(() => new Template('main.bicep', file, files({}), { other: 1 }), /is given parameter other, which it does not declare/);
});

test('values: union (the later object wins), concat, loadJsonContent (relative path), module outputs, resource names', () => {
  const read = files({
    'main.bicep': [
      "var settings = union(loadJsonContent('app/defaults.json'), { B: 'deployed', C: string(size) })",
      'param size int = 2',
      "var names = concat(loadJsonContent('app/defaults.json').list, ['z'])",
      "module store 'app/store.bicep' = {",
      "  name: 'store'",
      "  params: { prefix: 'p' }",
      '}',
      'output db string = store.outputs.db',
      'output id string = store.outputs.id',
    ].join('\n'),
    'app/defaults.json': '{ "A": "1", "B": "code", "list": ["x", "y"] }',
    'app/store.bicep': [
      'param prefix string',
      "resource db 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-05-15' = {",
      "  name: '${prefix}-db'",
      '}',
      'output db string = db.name',
      'output id string = db.id',
    ].join('\n'),
  });
  const main = Template.load(read, 'main.bicep');
  assert.deepEqual(main.variable('settings'), { A: '1', B: 'deployed', list: ['x', 'y'], C: '2' });
  assert.deepEqual(main.variable('names'), ['x', 'y', 'z']);
  assert.equal(main.output('db'), 'p-db');
  // What only Azure knows stays Deferred, named by where it comes from.
  const id = main.output('id');
  assert.ok(id instanceof Deferred);
  assert.equal(id.source, 'db.id');
  assert.deepEqual(Template.load(read, 'main.bicep', { size: 4 }).variable('settings'), {
    A: '1',
    B: 'deployed',
    list: ['x', 'y'],
    C: '4',
  });
  assert.throws(
    () => Template.load(files({ 'main.bicep': "var a = loadJsonContent('missing.json')" }), 'main.bicep').variable('a'),
    /no missing\.json/,
  );
});

test('values: deployment-time values propagate, decide nothing, and become stand-ins of the right shape', () => {
  const template = Template.load(
    files({
      'main.bicep': [
        'param endpoint string',
        'param flag bool = true',
        "var url = '${endpoint}/x'",
        "var config = string({ endpoint: endpoint, name: 'n' })",
        "var chosen = flag ? 'on' : 'off'",
        "var unknown = endpoint == 'x' ? 'a' : 'b'",
        'var token = uniqueString(subscription().id)',
        "var kept = concat([token], ['b'])",
        "var shortCircuit = false && endpoint == 'x'",
      ].join('\n'),
    }),
    'main.bicep',
  );
  assert.ok(template.variable('url') instanceof Deferred);
  assert.equal(template.variable('config'), '{"endpoint":"https://placeholder.example/","name":"n"}');
  assert.equal(template.variable('chosen'), 'on');
  assert.ok(template.variable('unknown') instanceof Deferred);
  assert.ok(template.variable('token') instanceof Deferred);
  assert.deepEqual(concretize(template.variable('kept')), ['placeholder', 'b']);
  assert.equal(template.variable('shortCircuit'), false);
});

test('replaceTokens: finds a token sequence whatever its layout, and refuses one that is absent or ambiguous', () => {
  const text = "var a = {\n  b:   'x'\n  // b: 'y'\n  c: 'x'\n}\n";
  assert.equal(replaceTokens(text, "b: 'x'", "b: 'z'"), "var a = {\n  b: 'z'\n  // b: 'y'\n  c: 'x'\n}\n");
  assert.equal(replaceTokens(text.replace(/\n {2}/g, ' '), "{ b: 'x'", "{ b: 'z'"), "var a = { b: 'z' // b: 'y' c: 'x'\n}\n");
  assert.throws(() => replaceTokens(text, "b: 'y'", ''), /occurs 0 times/);
  assert.throws(() => replaceTokens(text, "'x'", "'z'"), /occurs 2 times/);
});
