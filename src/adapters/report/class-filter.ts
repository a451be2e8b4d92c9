/**
 * The report's class filter, without script: one group of radio inputs (visually hidden, still reachable by
 * keyboard) and, wherever the page needs the control, <label for> buttons that check them. CSS rules made for
 * the report's classes (`.page:has(#cf-car:checked) ...`) hide every element whose `data-classes` does not name
 * the checked class. It works with scripting off and under the page's policy (inline styles only), and one
 * choice filters the per-class table, the curves and the worst images together.
 */
import { resolveCategory } from '../../core/taxonomy/categories';
import { escapeHtml, formatCount } from './format';

const RADIO_NAME = 'class-filter';
const ALL = 'all';

/** A category's key in `data-classes` and in the inputs' ids: its BDD class (renames resolved), as a slug. */
export function classKey(category: string): string {
  const resolved = resolveCategory(category);
  const name = resolved.kind === 'unknown' ? resolved.raw : resolved.category;
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
  return slug || 'other';
}

const inputId = (key: string) => `cf-${key}`;

/** ` data-classes="car traffic-light"`: the element shows while "all" or one of these classes is chosen. */
export function classesAttribute(categories: Iterable<string>): string {
  const keys = [...new Set([...categories].map(classKey))].sort();
  return ` data-classes="${escapeHtml(keys.join(' '))}"`;
}

/** The radio inputs, once per page, before any filtered element's control (their state drives the CSS). */
export function classFilterInputs(classes: readonly string[]): string {
  const radio = (key: string, label: string, checked: boolean) =>
    `<input type="radio" class="filter-radio" name="${RADIO_NAME}" id="${inputId(key)}" value="${escapeHtml(key)}" aria-label="${escapeHtml(label)}"${checked ? ' checked' : ''}>`;
  return (
    `<div class="filter-inputs">${radio(ALL, 'All classes', true)}` + classes.map((c) => radio(classKey(c), c, false)).join('') + '</div>'
  );
}

/** A row of buttons (labels of the radios) with a caption; `counts` adds a number per class (e.g. images). */
export function classFilterBar(classes: readonly string[], caption: string, counts?: ReadonlyMap<string, number>): string {
  const button = (key: string, text: string, n?: number) =>
    `<label class="filter-button" for="${inputId(key)}">${escapeHtml(text)}${n === undefined ? '' : ` <span class="n">${formatCount(n)}</span>`}</label>`;
  return (
    `<div class="class-filter" role="group" aria-label="${escapeHtml(caption)}"><span class="filter-caption">${escapeHtml(caption)}</span>` +
    button(ALL, 'All') +
    classes.map((c) => button(classKey(c), c, counts ? (counts.get(classKey(c)) ?? 0) : undefined)).join('') +
    '</div>'
  );
}

/** What to say where the chosen class hides every element of a list: shown only while that class is chosen. */
export function filterEmptyNote(keys: readonly string[], text: (key: string) => string): string {
  return keys.map((key) => `<p class="filter-empty" data-empty-for="${escapeHtml(key)}">${escapeHtml(text(key))}</p>`).join('');
}

/** The rules that make the filter work, one set per class; appended to the page's style. */
export function classFilterCss(classes: readonly string[]): string {
  const keys = [ALL, ...classes.map(classKey)];
  const rules = [
    '.filter-inputs{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}',
    '.filter-empty{display:none}',
  ];
  for (const key of keys) {
    const when = `.page:has(#${inputId(key)}:checked)`;
    rules.push(`${when} label[for="${inputId(key)}"]{background:var(--accent);border-color:var(--accent);color:#fff}`);
    rules.push(
      `.page:has(#${inputId(key)}:focus-visible) label[for="${inputId(key)}"]{outline:2px solid var(--accent);outline-offset:2px}`,
    );
    if (key === ALL) continue;
    rules.push(`${when} [data-classes]:not([data-classes~="${key}"]){display:none}`);
    rules.push(`${when} .filter-empty[data-empty-for="${key}"]{display:block}`);
  }
  return rules.join('\n');
}
