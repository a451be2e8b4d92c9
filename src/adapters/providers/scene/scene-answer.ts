/**
 * Reading a vision-language model's scene answer: find the JSON object in the text (code fences and sentences around
 * it are tolerated), validate it with zod, and map each value onto the closed BDD vocabularies with the synonym table.
 * The values as the model wrote them are kept for provenance.
 */
import { z } from 'zod';
import type { SceneAttributes } from '../../../core/pipeline/types';
import { ATTRIBUTE_NAMES, normalizeAttribute, type AttributeName } from '../../../core/taxonomy/attributes';

/**
 * Confidence used when the answer states none for an attribute: 0.5, "no information either way". A model that
 * does not say how sure it is should neither pass a high threshold nor be discarded outright.
 */
export const DEFAULT_CONFIDENCE = 0.5;

export interface SceneAnswer {
  /** Closed-vocabulary values. */
  attributes: SceneAttributes;
  /** 0..1 per attribute: the model's stated confidence, DEFAULT_CONFIDENCE when it gave none, 0 when unrecognized. */
  confidence: Record<AttributeName, number>;
  /** The values exactly as the model wrote them (null when it wrote null). */
  rawValues: Record<AttributeName, string | null>;
  /** Attributes whose text was neither a vocabulary value nor a known synonym (mapped to `undefined`). */
  unrecognized: AttributeName[];
  /** Attributes for which the answer gave no confidence (DEFAULT_CONFIDENCE used). */
  defaultedConfidence: AttributeName[];
}

export type SceneAnswerParse = { ok: true; answer: SceneAnswer } | { ok: false; problem: string };

/** "time_of_day", "Time of day", "timeOfDay" -> "timeofday"; "scene_type" -> "scene". */
const KEY_ALIASES: Record<string, string> = { scenetype: 'scene', weathercondition: 'weather' };
const canonicalKey = (key: string) => {
  const squashed = key.toLowerCase().replace(/[^a-z]/g, '');
  return KEY_ALIASES[squashed] ?? squashed;
};
function canonicalKeys(value: unknown): unknown {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const canonical = canonicalKey(key);
    if (!(canonical in out)) out[canonical] = v;
  }
  return out;
}

/**
 * 0..1 as is; 1 < n <= 100 read as a percentage (models often write 85 for 85 %), "85%" and "0.85" as text;
 * null means not stated.
 */
const confidenceValue = z.union([z.number(), z.string(), z.null()]).transform((v, ctx): number | undefined => {
  if (v === null) return undefined;
  let n: number;
  if (typeof v === 'number') n = v;
  else {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(%?)\s*$/.exec(v);
    n = match ? Number(match[1]) / (match[2] ? 100 : 1) : Number.NaN;
  }
  if (!Number.isFinite(n) || n < 0 || n > 100) {
    ctx.addIssue({ code: 'custom', message: `confidence ${JSON.stringify(v)} is not a number from 0 to 1` });
    return z.NEVER;
  }
  return n > 1 ? n / 100 : n;
});

/** `"clear"`, `null`, or `{"value": "clear", "confidence": 0.9}` (some models nest the confidence). */
const attributeEntry = z.union([
  z.string(),
  z.null(),
  z.object({ value: z.union([z.string(), z.null()]), confidence: confidenceValue.optional() }),
]);

const AnswerSchema = z.object({
  weather: attributeEntry,
  timeofday: attributeEntry,
  scene: attributeEntry,
  /** Per attribute; one number for all three is accepted too. */
  confidence: z
    .preprocess(
      (v) => (typeof v === 'number' || typeof v === 'string' ? { weather: v, timeofday: v, scene: v } : canonicalKeys(v)),
      z
        .object({ weather: confidenceValue.optional(), timeofday: confidenceValue.optional(), scene: confidenceValue.optional() })
        .nullable(),
    )
    .optional(),
});

/**
 * The first JSON object in `text`: the whole text, else the first balanced `{...}` that parses (inside ```json
 * fences or after "Here is the answer:").
 */
export function extractJsonObject(text: string): Record<string, unknown> | undefined {
  const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
  try {
    const whole: unknown = JSON.parse(text);
    if (isObject(whole)) return whole;
  } catch {
    // not bare JSON: look inside
  }
  for (let start = text.indexOf('{'); start !== -1; start = text.indexOf('{', start + 1)) {
    const end = matchingBrace(text, start);
    if (end === -1) continue;
    try {
      const candidate: unknown = JSON.parse(text.slice(start, end + 1));
      if (isObject(candidate)) return candidate;
    } catch {
      // try the next opening brace
    }
  }
  return undefined;
}

/** Index of the `}` closing the `{` at `start` (string literals respected), or -1. */
function matchingBrace(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i;
  }
  return -1;
}

const preview = (text: string) => JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}...` : text);

/** Parse and normalise one answer. Never throws: a problem is returned for the caller to retry or report. */
export function parseSceneAnswer(text: string | null | undefined): SceneAnswerParse {
  if (text == null || text.trim() === '') return { ok: false, problem: 'the answer is empty' };
  const object = extractJsonObject(text);
  if (!object) return { ok: false, problem: `the answer holds no JSON object: ${preview(text)}` };
  const parsed = AnswerSchema.safeParse(canonicalKeys(object));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
    return { ok: false, problem: `the JSON answer does not match the scene schema (${problems.join('; ')}): ${preview(text)}` };
  }
  const data = parsed.data;
  const attributes = {} as Record<AttributeName, string>;
  const confidence = {} as Record<AttributeName, number>;
  const rawValues = {} as Record<AttributeName, string | null>;
  const unrecognized: AttributeName[] = [];
  const defaultedConfidence: AttributeName[] = [];
  for (const name of ATTRIBUTE_NAMES) {
    const entry = data[name];
    const rawValue = entry !== null && typeof entry === 'object' ? entry.value : entry;
    const stated = (entry !== null && typeof entry === 'object' ? entry.confidence : undefined) ?? data.confidence?.[name];
    const normalized = normalizeAttribute(name, rawValue);
    attributes[name] = normalized.value;
    rawValues[name] = rawValue;
    if (normalized.unrecognized) unrecognized.push(name);
    if (stated === undefined) defaultedConfidence.push(name);
    confidence[name] = normalized.unrecognized ? 0 : (stated ?? DEFAULT_CONFIDENCE);
  }
  return {
    ok: true,
    answer: { attributes: attributes as SceneAttributes, confidence, rawValues, unrecognized, defaultedConfidence },
  };
}
