/**
 * The metrics a night is tracked on, and their names in regressions ('stats.AP50', 'perClass.car.AP50',
 * 'attributes.timeofday'). Built and parsed in one place so the page and the report agree on them.
 */
import { ATTRIBUTE_KEYS, type AttributeKey, type NightlySummary } from './schemas';

export type DetectionMeasure = 'AP' | 'AP50';

export type MetricRef =
  | { scope: 'stats'; measure: DetectionMeasure }
  | { scope: 'perClass'; className: string; measure: DetectionMeasure }
  | { scope: 'attributes'; attribute: AttributeKey };

const MEASURES: readonly DetectionMeasure[] = ['AP', 'AP50'];

export function metricKey(ref: MetricRef): string {
  switch (ref.scope) {
    case 'stats':
      return `stats.${ref.measure}`;
    case 'perClass':
      return `perClass.${ref.className}.${ref.measure}`;
    case 'attributes':
      return `attributes.${ref.attribute}`;
  }
}

/** The inverse of metricKey; undefined for anything it does not build. Class names may contain dots. */
export function parseMetricKey(key: string): MetricRef | undefined {
  const [scope, ...rest] = key.split('.');
  const last = rest[rest.length - 1] as DetectionMeasure | AttributeKey | undefined;
  if (scope === 'stats' && rest.length === 1 && MEASURES.includes(last as DetectionMeasure))
    return { scope, measure: last as DetectionMeasure };
  if (scope === 'attributes' && rest.length === 1 && ATTRIBUTE_KEYS.includes(last as AttributeKey))
    return { scope, attribute: last as AttributeKey };
  if (scope === 'perClass' && rest.length >= 2 && MEASURES.includes(last as DetectionMeasure))
    return { scope, className: rest.slice(0, -1).join('.'), measure: last as DetectionMeasure };
  return undefined;
}

/** The metric's value on a night; -1 where the night does not define it (e.g. a class it never saw). */
export function metricValue(night: NightlySummary, ref: MetricRef): number {
  switch (ref.scope) {
    case 'stats':
      return night.stats[ref.measure];
    case 'perClass':
      return night.perClass[ref.className]?.[ref.measure] ?? -1;
    case 'attributes':
      return night.attributes[ref.attribute];
  }
}

/** Every class any of the nights has, in order of first appearance (nights given oldest first). */
export function classNamesOf(nights: readonly NightlySummary[]): string[] {
  const names: string[] = [];
  for (const night of nights) for (const name of Object.keys(night.perClass)) if (!names.includes(name)) names.push(name);
  return names;
}

/** Detection stats, then AP and AP50 of every class of any night, then the attribute accuracies. */
export function trackedMetrics(nights: readonly NightlySummary[]): MetricRef[] {
  return [
    ...MEASURES.map((measure): MetricRef => ({ scope: 'stats', measure })),
    ...classNamesOf(nights).flatMap((className) => MEASURES.map((measure): MetricRef => ({ scope: 'perClass', className, measure }))),
    ...ATTRIBUTE_KEYS.map((attribute): MetricRef => ({ scope: 'attributes', attribute })),
  ];
}
