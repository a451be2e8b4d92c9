/**
 * The drift alert in the Bicep (read with the project's Bicep reader: the compiler cannot run here): main.bicep's
 * monitoring module deploys a scheduled-query rule on the `drift-detected` event that the nightly run logs, split by
 * the fields the event carries, and the `driftActionGroupId` parameter reaches its actions.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { concretize, Template, type ResourceInstance } from './helpers/bicep';

const ROOT = path.resolve(__dirname, '..');
const read = (relative: string) => readFileSync(path.join(ROOT, 'infra', relative), 'utf8');

function driftRule(actionGroupId?: string): ResourceInstance {
  const main = Template.load(read, 'main.bicep', actionGroupId === undefined ? {} : { driftActionGroupId: actionGroupId });
  const [symbol] = main.modulesUsing('app/monitoring.bicep').map((m) => m.symbol);
  assert.ok(symbol, 'main.bicep deploys app/monitoring.bicep');
  const rules = main
    .module(symbol)
    .resources()
    .filter((r) => r.type === 'Microsoft.Insights/scheduledQueryRules');
  assert.equal(rules.length, 1, 'one scheduled-query rule');
  return rules[0]!;
}

test('the rule queries the drift-detected event the nightly run logs, by the fields it logs', () => {
  const rule = driftRule();
  const criteria = concretize(rule.property('properties', 'criteria', 'allOf')) as Array<Record<string, unknown>>;
  assert.equal(criteria.length, 1);
  const query = String(criteria[0]!.query);
  assert.match(query, /"event":"drift-detected"/);
  const logged = readFileSync(path.join(ROOT, 'src/app/services/nightly-drift.ts'), 'utf8');
  assert.match(logged, /event: 'drift-detected'/);
  for (const field of ['metric', 'batchId']) {
    assert.match(query, new RegExp(`e\\.${field}\\b`), `the query reads ${field}`);
    assert.match(logged, new RegExp(`\\b${field}:`), `the event carries ${field}`);
  }
  const dimensions = (criteria[0]!.dimensions as Array<{ name: string }>).map((d) => d.name);
  assert.deepEqual(dimensions.sort(), ['batchId', 'metric']);
  assert.equal(criteria[0]!.metricMeasureColumn, 'events');
  assert.match(query, /summarize events = sum\(itemCount\)/, 'sampled traces count with their itemCount');
  assert.equal(criteria[0]!.operator, 'GreaterThan');
  assert.equal(criteria[0]!.threshold, 0);
  assert.equal(rule.property('properties', 'enabled'), true);
});

test('driftActionGroupId reaches the rule: none by default, the given action group otherwise', () => {
  assert.deepEqual(concretize(driftRule().property('properties', 'actions', 'actionGroups')), []);
  const id = '/subscriptions/0000/resourceGroups/ops/providers/Microsoft.Insights/actionGroups/on-call';
  assert.deepEqual(concretize(driftRule(id).property('properties', 'actions', 'actionGroups')), [id]);
  const parameters = JSON.parse(read('main.parameters.json')) as { parameters: Record<string, { value: string }> };
  assert.equal(parameters.parameters.driftActionGroupId?.value, '${DRIFT_ACTION_GROUP_ID}');
});
