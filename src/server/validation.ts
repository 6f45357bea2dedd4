/** ajv validation errors -> one OpenAI-style 400 that names the offending field. */
import { HttpError, badRequest } from './http-error.js';

export interface AjvError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
  data?: unknown;
}

/** "/messages/0/role" -> "messages[0].role" (OpenAI's param spelling). */
export function paramName(instancePath: string, extra?: string): string {
  const parts = instancePath.split('/').slice(1);
  if (extra !== undefined) parts.push(extra);
  let out = '';
  for (const p of parts.map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'number') return Number.isInteger(v) ? 'an integer' : 'a number';
  return `a ${typeof v}`;
}

export function validationError(errors: readonly AjvError[], context = 'body'): HttpError {
  const e = errors[0];
  if (!e) return badRequest(`Invalid request ${context}.`);
  if (e.keyword === 'required') {
    const param = paramName(e.instancePath, String(e.params.missingProperty));
    return badRequest(`Missing required parameter: '${param}'.`, param, 'missing_required_parameter');
  }
  const param = paramName(e.instancePath);
  if (param === '') return badRequest(`The request ${context} must be a JSON object, but got ${jsonType(e.data)}.`, null, 'invalid_type');
  if (e.keyword === 'type') {
    const expected = String(e.params.type).split(',').filter((t) => t !== 'null').join(' or ');
    return badRequest(`Invalid type for '${param}': expected ${expected}, but got ${jsonType(e.data)}.`, param, 'invalid_type');
  }
  if (e.keyword === 'enum') {
    const allowed = (e.params.allowedValues as unknown[]).filter((v) => v !== null).map((v) => `'${String(v)}'`);
    return badRequest(`Invalid value for '${param}': ${JSON.stringify(e.data)} is not one of ${allowed.join(', ')}.`, param, 'invalid_value');
  }
  return badRequest(`Invalid value for '${param}': ${e.message ?? 'invalid'}${e.data !== undefined && typeof e.data !== 'object' ? ` (got ${JSON.stringify(e.data)})` : ''}.`, param, 'invalid_value');
}
