/**
 * THE scene prompt: the one place where the text sent to vision-language models lives. Any change to the text or
 * the schema below is a new PROMPT_VERSION; PROMPT_SHA256 is computed from the text itself, so a forgotten bump still
 * shows in provenance as a different hash.
 */
import { createHash } from 'node:crypto';
import { ATTRIBUTE_NAMES, ATTRIBUTE_VOCABULARIES, type AttributeName } from '../../../core/taxonomy/attributes';

export const PROMPT_VERSION = 'scene-v1';

const quoted = (values: readonly string[]) => values.map((v) => `"${v}"`).join(', ');

export const SCENE_SYSTEM_PROMPT = [
  'You label dash-camera images from a car driving on public roads (the BDD100K dataset).',
  'For the image you are given, choose exactly one value for each attribute from its closed list:',
  `- weather: ${quoted(ATTRIBUTE_VOCABULARIES.weather)}`,
  `- timeofday: ${quoted(ATTRIBUTE_VOCABULARIES.timeofday)}`,
  `- scene: ${quoted(ATTRIBUTE_VOCABULARIES.scene)}`,
  'Use "undefined" only when the image does not allow a decision (for example the sky is not visible for weather).',
  '"dawn/dusk" means the sun is low: twilight, sunrise or sunset light. Street lights alone do not make it night.',
  '"city street" is an urban road with buildings or shops; "residential" is a street lined with houses; "highway" is a',
  'multi-lane road with limited access; "gas stations" means the car is at a fuel station.',
  'Also give, for each attribute, your confidence that the chosen value is right, as a number from 0 to 1.',
  'Answer with a single JSON object and nothing else, exactly in this shape:',
  '{"weather": "...", "timeofday": "...", "scene": "...", "confidence": {"weather": 0.9, "timeofday": 0.9, "scene": 0.9}}',
].join('\n');

export const SCENE_USER_PROMPT = 'Label the weather, time of day and scene type of this image. Answer only with the JSON object.';

/** Sent after an answer that is not the JSON object (providers without structured output: one repair request). */
export const SCENE_REPAIR_PROMPT =
  'Your answer was not the required JSON object. Answer again with only the JSON object, using only the allowed ' +
  'values, with no code fences and no other text.';

const enumProperty = (name: AttributeName) => ({
  type: 'string',
  enum: [...ATTRIBUTE_VOCABULARIES[name]],
  description: `BDD100K frame attribute "${name}".`,
});

/**
 * Structured-output schema (OpenAI / Azure OpenAI `response_format: json_schema`, strict): every property required,
 * `additionalProperties: false` on every object, enums from ATTRIBUTE_VOCABULARIES; no min/max (not allowed in strict
 * mode), so the 0..1 range of confidences is stated in the descriptions and checked by zod on our side.
 */
export const SCENE_JSON_SCHEMA = {
  type: 'object',
  properties: {
    weather: enumProperty('weather'),
    timeofday: enumProperty('timeofday'),
    scene: enumProperty('scene'),
    confidence: {
      type: 'object',
      description: 'Per attribute, the confidence (0 to 1) that the chosen value is right.',
      properties: Object.fromEntries(ATTRIBUTE_NAMES.map((name) => [name, { type: 'number', description: 'From 0 to 1.' }])),
      required: [...ATTRIBUTE_NAMES],
      additionalProperties: false,
    },
  },
  required: [...ATTRIBUTE_NAMES, 'confidence'],
  additionalProperties: false,
} as const;

/** `response_format.json_schema` as sent. */
export const SCENE_RESPONSE_FORMAT = {
  type: 'json_schema',
  json_schema: { name: 'bdd100k_scene_attributes', strict: true, schema: SCENE_JSON_SCHEMA },
} as const;

/**
 * sha256 (hex) over everything the model is told: system and user text, the repair instruction and the schema.
 * Provenance keeps it beside PROMPT_VERSION.
 */
export const PROMPT_SHA256 = createHash('sha256')
  .update(
    JSON.stringify({
      version: PROMPT_VERSION,
      system: SCENE_SYSTEM_PROMPT,
      user: SCENE_USER_PROMPT,
      repair: SCENE_REPAIR_PROMPT,
      responseFormat: SCENE_RESPONSE_FORMAT,
    }),
  )
  .digest('hex');

export const PROMPT_INFO: { version: string; sha256: string } = { version: PROMPT_VERSION, sha256: PROMPT_SHA256 };

/** `data:` URL of the image as received (no re-encoding: the bytes the model sees are the bytes we hashed). */
export function imageDataUrl(image: { format: 'jpeg' | 'png'; bytes: Uint8Array }): string {
  const mime = image.format === 'png' ? 'image/png' : 'image/jpeg';
  return `data:${mime};base64,${Buffer.from(image.bytes.buffer, image.bytes.byteOffset, image.bytes.byteLength).toString('base64')}`;
}

/** The chat messages of one request (same shape for OpenAI, Azure OpenAI and Foundry models). */
export function sceneMessages(image: { format: 'jpeg' | 'png'; bytes: Uint8Array }, detail?: 'low' | 'high' | 'auto') {
  return [
    { role: 'system' as const, content: SCENE_SYSTEM_PROMPT },
    {
      role: 'user' as const,
      content: [
        { type: 'text' as const, text: SCENE_USER_PROMPT },
        { type: 'image_url' as const, image_url: { url: imageDataUrl(image), ...(detail ? { detail } : {}) } },
      ],
    },
  ];
}

/** Completion budget: the JSON answer is ~60 tokens; room for a model that adds a sentence around it. */
export const SCENE_MAX_TOKENS = 200;

/**
 * A reasoning model's budget (max_completion_tokens) counts its hidden reasoning tokens too: with the answer's 200
 * alone it may spend everything thinking and answer nothing (finish_reason 'length').
 */
export const SCENE_MAX_COMPLETION_TOKENS_REASONING = 4000;
