/**
 * The few Python behaviours chat templates depend on, reproduced exactly: `json.dumps` as
 * transformers' `tojson` calls it, `str.strip`, `strftime`, truthiness, and the TypeErrors of
 * `str + non-str` that make some template inputs fail.
 */
import { TemplateError } from './errors.js';

/** Python `json.dumps(x, ensure_ascii=False)`: separators ", " and ": ", keys in insertion order. */
export function pythonJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return pythonNumber(value);
    case 'string':
      return pythonString(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
      const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
      return `{${entries.map(([k, v]) => `${pythonString(k)}: ${pythonJson(v)}`).join(', ')}}`;
    }
    default:
      throw new TemplateError(`Object of type ${pythonTypeName(value)} is not JSON serializable`);
  }
}

const JSON_ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

function pythonString(s: string): string {
  return `"${s.replace(/["\\\x00-\x1f]/g, (c) => JSON_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}

/** Numbers as Python writes them. JSON gives no int/float distinction, so integral values print as ints. */
function pythonNumber(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (Number.isInteger(x)) return BigInt(x).toString();
  // Python float repr: shortest round-trip digits, exponent form when exp < -4 or exp >= 16.
  const [mantissa, expText] = x.toExponential().split('e');
  const exp = Number(expText);
  const sign = x < 0 ? '-' : '';
  const digits = mantissa.replace('-', '').replace('.', '');
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  return `${sign}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
}

/** Python's type name of a JSON-like value, for error messages. */
export function pythonTypeName(v: unknown): string {
  if (v === null) return 'NoneType';
  if (v === UNDEFINED || v === undefined) return 'Undefined';
  if (typeof v === 'string') return 'str';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (Array.isArray(v)) return 'list';
  return 'dict';
}

/** Jinja's Undefined: what a missing key or attribute gives. */
export const UNDEFINED: unique symbol = Symbol('Undefined');

/** Jinja2 `obj.key` / `obj[key]`: a missing key gives Undefined; anything on Undefined raises. */
export function attr(obj: unknown, key: string | number): unknown {
  if (obj === UNDEFINED) throw new TemplateError(`'Undefined' has no attribute '${key}'`);
  if (Array.isArray(obj)) {
    if (typeof key === 'number') return key >= 0 && key < obj.length ? obj[key] : UNDEFINED;
    return UNDEFINED;
  }
  if (typeof obj === 'object' && obj !== null && typeof key === 'string' && Object.hasOwn(obj, key)) {
    return (obj as Record<string, unknown>)[key];
  }
  return UNDEFINED;
}

export function isDefined(v: unknown): boolean {
  return v !== UNDEFINED;
}

/** Python truthiness (Undefined is false). */
export function truthy(v: unknown): boolean {
  if (v === UNDEFINED || v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

/** Python `item in container`. */
export function contains(container: unknown, item: unknown): boolean {
  if (typeof container === 'string') return typeof item === 'string' && container.includes(item);
  if (Array.isArray(container)) return container.some((x) => x === item);
  if (typeof container === 'object' && container !== null) return typeof item === 'string' && Object.hasOwn(container, item);
  throw new TemplateError(`argument of type '${pythonTypeName(container)}' is not iterable`);
}

/** Python `a + b + ...` over strings: anything else raises as Python would. */
export function concat(...parts: unknown[]): string {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'string') out += p;
    else if (p === UNDEFINED) throw new TemplateError('a required value is undefined (missing key)');
    else throw new TemplateError(`can only concatenate str (not "${pythonTypeName(p)}") to str`);
  }
  return out;
}

/** Python `str(x)` for scalars, as `{{ x }}` prints them. */
export function pythonStr(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return pythonNumber(v);
  if (v === UNDEFINED) return '';
  throw new TemplateError(`cannot print a ${pythonTypeName(v)} here; expected a string`);
}

// Characters for which Python's str.isspace() is true.
const PY_SPACE = '\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000';

/** Python `s.strip(chars)` / `lstrip` / `rstrip`; chars undefined or null = whitespace. */
export function pyStripChars(s: string, chars: string | null | undefined, side: 'both' | 'left' | 'right' = 'both'): string {
  const set = chars ?? PY_SPACE;
  let i = 0;
  let j = s.length;
  if (side !== 'right') while (i < j && set.includes(s[i])) i++;
  if (side !== 'left') while (j > i && set.includes(s[j - 1])) j--;
  return s.slice(i, j);
}

export function pyLstrip(s: string): string {
  return pyStripChars(s, null, 'left');
}

export function pyStrip(s: string): string {
  return pyStripChars(s, null);
}

/** A calendar date and time of day, as strftime sees it. */
export interface DateParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** "YYYY-MM-DD" -> date at midnight; undefined -> now (local time). */
export function dateParts(date?: string): DateParts {
  if (date === undefined) {
    const d = new Date();
    return { year: d.getFullYear(), month: d.getMonth() + 1, day: d.getDate(), hour: d.getHours(), minute: d.getMinutes(), second: d.getSeconds() };
  }
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  const parts = m ? { year: +m[1], month: +m[2], day: +m[3], hour: 0, minute: 0, second: 0 } : null;
  if (!parts || parts.month < 1 || parts.month > 12 || parts.day < 1 || parts.day > new Date(Date.UTC(parts.year, parts.month, 0)).getUTCDate()) {
    throw new TemplateError(`date "${date}": expected a real date as YYYY-MM-DD`);
  }
  return parts;
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** Python `strftime` in the C locale (the directives chat templates use; `%-d` style unpadded too). */
export function strftime(d: DateParts, format: string): string {
  const weekday = new Date(Date.UTC(d.year, d.month - 1, d.day)).getUTCDay();
  const yday = Math.round((Date.UTC(d.year, d.month - 1, d.day) - Date.UTC(d.year, 0, 1)) / 86400000) + 1;
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return format.replace(/%(-?)([a-zA-Z%])/g, (all, unpadded: string, c: string) => {
    const p = unpadded ? (n: number) => String(n) : pad;
    switch (c) {
      case 'Y': return String(d.year);
      case 'y': return pad(d.year % 100);
      case 'm': return p(d.month);
      case 'd': return p(d.day);
      case 'e': return String(d.day).padStart(2, ' ');
      case 'H': return p(d.hour);
      case 'I': return p(d.hour % 12 || 12);
      case 'M': return p(d.minute);
      case 'S': return p(d.second);
      case 'p': return d.hour < 12 ? 'AM' : 'PM';
      case 'B': return MONTHS[d.month - 1];
      case 'b': case 'h': return MONTHS[d.month - 1].slice(0, 3);
      case 'A': return DAYS[weekday];
      case 'a': return DAYS[weekday].slice(0, 3);
      case 'j': return unpadded ? String(yday) : pad(yday, 3);
      case 'w': return String(weekday);
      case '%': return '%';
      default: return all;
    }
  });
}
