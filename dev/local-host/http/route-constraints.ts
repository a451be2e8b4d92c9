/**
 * Inline route constraints (`{id:int}`, `{name:minlength(3)}`, `{x:regex(^a+$)}`) as ASP.NET Core routing, which the
 * Functions host uses, checks them: a value that fails a constraint means the route does not match (404, or another
 * route), never a 400.
 */

export type ConstraintCheck = (value: string) => boolean;

const INT32 = { min: -2147483648, max: 2147483647 };
const INTEGER_TEXT = /^[+-]?\d+$/;
const NUMBER_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
// Guid.TryParse formats: N (32 digits), D (hyphens), B {braces}, P (parentheses).
const GUID_DIGITS = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const GUID_TEXT = new RegExp(`^(?:[0-9a-f]{32}|${GUID_DIGITS}|\\{${GUID_DIGITS}\\}|\\(${GUID_DIGITS}\\))$`, 'i');

function integerWithin(value: string, min: bigint, max: bigint): boolean {
  if (!INTEGER_TEXT.test(value)) return false;
  const n = BigInt(value);
  return n >= min && n <= max;
}

function numberArgs(name: string, args: string[], count: number[]): number[] {
  if (!count.includes(args.length)) {
    throw new Error(`route constraint ${name} takes ${count.join(' or ')} argument(s), got ${args.length}`);
  }
  return args.map((a) => {
    const n = Number(a.trim());
    if (!Number.isInteger(n)) throw new Error(`route constraint ${name}: "${a}" is not an integer`);
    return n;
  });
}

/** Builds the check for one constraint; throws for unknown names or bad arguments, so a bad route fails at start. */
export function buildConstraint(rawName: string, argument: string | undefined): ConstraintCheck {
  const name = rawName.toLowerCase();
  const args = argument === undefined ? [] : name === 'regex' ? [argument] : argument.split(',');
  const noArgs = () => {
    if (argument !== undefined) throw new Error(`route constraint ${name} takes no argument`);
  };
  switch (name) {
    case 'int':
      noArgs();
      return (v) => integerWithin(v, BigInt(INT32.min), BigInt(INT32.max));
    case 'long':
      noArgs();
      return (v) => integerWithin(v, -(2n ** 63n), 2n ** 63n - 1n);
    case 'bool':
      noArgs();
      return (v) => /^(true|false)$/i.test(v);
    case 'guid':
      noArgs();
      return (v) => GUID_TEXT.test(v);
    case 'double':
    case 'float':
    case 'decimal':
      noArgs();
      return (v) => NUMBER_TEXT.test(v);
    case 'datetime':
      noArgs();
      // Approximation of DateTime.TryParse (invariant culture): whatever Date can read.
      return (v) => v.trim() !== '' && !Number.isNaN(Date.parse(v));
    case 'alpha':
      noArgs();
      return (v) => /^[a-z]*$/i.test(v);
    case 'required':
      noArgs();
      return (v) => v !== '';
    case 'minlength': {
      const [min] = numberArgs(name, args, [1]) as [number];
      return (v) => v.length >= min;
    }
    case 'maxlength': {
      const [max] = numberArgs(name, args, [1]) as [number];
      return (v) => v.length <= max;
    }
    case 'length': {
      const bounds = numberArgs(name, args, [1, 2]);
      const min = bounds[0] as number;
      const max = bounds[1] ?? min;
      return (v) => v.length >= min && v.length <= max;
    }
    case 'min': {
      const [min] = numberArgs(name, args, [1]) as [number];
      return (v) => integerWithin(v, BigInt(min), 2n ** 63n - 1n);
    }
    case 'max': {
      const [max] = numberArgs(name, args, [1]) as [number];
      return (v) => integerWithin(v, -(2n ** 63n), BigInt(max));
    }
    case 'range': {
      const [min, max] = numberArgs(name, args, [2]) as [number, number];
      return (v) => integerWithin(v, BigInt(min), BigInt(max));
    }
    case 'regex': {
      if (argument === undefined) throw new Error('route constraint regex needs a pattern');
      // ASP.NET: case-insensitive and NOT anchored (the template author writes ^ and $).
      const pattern = new RegExp(argument, 'i');
      return (v) => pattern.test(v);
    }
    default:
      throw new Error(`unknown route constraint "${rawName}"`);
  }
}
