/** Closed frame-attribute vocabularies of BDD100K (format doc); `undefined` is a real value there. */
export const ATTRIBUTE_VOCABULARIES = {
  weather: ['clear', 'partly cloudy', 'overcast', 'rainy', 'snowy', 'foggy', 'undefined'],
  timeofday: ['daytime', 'night', 'dawn/dusk', 'undefined'],
  scene: ['city street', 'highway', 'residential', 'parking lot', 'tunnel', 'gas stations', 'undefined'],
} as const;

export type AttributeName = keyof typeof ATTRIBUTE_VOCABULARIES;
export const ATTRIBUTE_NAMES = Object.keys(ATTRIBUTE_VOCABULARIES) as AttributeName[];
export type AttributeValue<A extends AttributeName> = (typeof ATTRIBUTE_VOCABULARIES)[A][number];

/** Free-text answers (vision-language models, other datasets) mapped onto the closed sets. Keys are normalised. */
const SYNONYMS: { readonly [A in AttributeName]: Readonly<Record<string, AttributeValue<A>>> } = {
  weather: {
    sunny: 'clear',
    'clear sky': 'clear',
    fair: 'clear',
    cloudy: 'overcast',
    'mostly cloudy': 'overcast',
    grey: 'overcast',
    gray: 'overcast',
    'partly sunny': 'partly cloudy',
    'partially cloudy': 'partly cloudy',
    'scattered clouds': 'partly cloudy',
    rain: 'rainy',
    raining: 'rainy',
    drizzle: 'rainy',
    wet: 'rainy',
    stormy: 'rainy',
    snow: 'snowy',
    snowing: 'snowy',
    fog: 'foggy',
    misty: 'foggy',
    mist: 'foggy',
    hazy: 'foggy',
    haze: 'foggy',
    unknown: 'undefined',
  },
  timeofday: {
    day: 'daytime',
    'day time': 'daytime',
    daylight: 'daytime',
    morning: 'daytime',
    afternoon: 'daytime',
    noon: 'daytime',
    nighttime: 'night',
    'night time': 'night',
    evening: 'dawn/dusk',
    dusk: 'dawn/dusk',
    dawn: 'dawn/dusk',
    twilight: 'dawn/dusk',
    sunset: 'dawn/dusk',
    sunrise: 'dawn/dusk',
    'dawn dusk': 'dawn/dusk',
    'dawn or dusk': 'dawn/dusk',
    'dusk/dawn': 'dawn/dusk',
    unknown: 'undefined',
  },
  scene: {
    city: 'city street',
    urban: 'city street',
    'urban street': 'city street',
    'urban area': 'city street',
    'urban road': 'city street',
    downtown: 'city street',
    street: 'city street',
    'city road': 'city street',
    freeway: 'highway',
    motorway: 'highway',
    expressway: 'highway',
    interstate: 'highway',
    'residential area': 'residential',
    'residential street': 'residential',
    suburban: 'residential',
    suburb: 'residential',
    neighborhood: 'residential',
    'parking garage': 'parking lot',
    parking: 'parking lot',
    'car park': 'parking lot',
    'gas station': 'gas stations',
    'petrol station': 'gas stations',
    'fuel station': 'gas stations',
    unknown: 'undefined',
  },
};

export interface NormalizedAttribute<A extends AttributeName> {
  value: AttributeValue<A>;
  /** The text as given, kept for provenance when it differs from `value`. */
  raw: string | undefined;
  /** True when the raw text was neither a vocabulary value nor a known synonym. */
  unrecognized: boolean;
}

const normalizeText = (raw: string) =>
  raw
    .trim()
    .toLowerCase()
    .replace(/[_\s]+/g, ' ')
    .replace(/\s*\/\s*/g, '/')
    .replace(/[.!]+$/, '');

/** Map a raw attribute value onto the closed vocabulary; missing or unknown text becomes `undefined`. */
export function normalizeAttribute<A extends AttributeName>(name: A, raw: unknown): NormalizedAttribute<A> {
  const undefinedValue = 'undefined' as AttributeValue<A>;
  if (typeof raw !== 'string' || raw.trim() === '') {
    return { value: undefinedValue, raw: typeof raw === 'string' ? raw : undefined, unrecognized: false };
  }
  const key = normalizeText(raw);
  const vocabulary = ATTRIBUTE_VOCABULARIES[name] as readonly string[];
  if (vocabulary.includes(key)) return { value: key as AttributeValue<A>, raw, unrecognized: false };
  const synonym = (SYNONYMS[name] as Readonly<Record<string, AttributeValue<A>>>)[key];
  if (synonym) return { value: synonym, raw, unrecognized: false };
  return { value: undefinedValue, raw, unrecognized: true };
}
