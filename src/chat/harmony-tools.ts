/**
 * Harmony's developer-message tool section: JSON-schema function definitions written as a
 * TypeScript-style `namespace functions { type f = (_: {...}) => any; }`, byte for byte as
 * OpenAI's gpt-oss chat template writes them (including its whitespace quirks: nested object
 * members start on a new line indented by 16 spaces, union members are separated by " | \n").
 */
import { attr, concat, contains, isDefined, pythonJson, pythonStr, truthy, UNDEFINED } from './python.js';
import { TemplateError } from './errors.js';

export function renderToolNamespace(namespace: string, tools: unknown): string {
  let out = `## ${namespace}\n\nnamespace ${namespace} {\n\n`;
  for (const entry of iterate(tools)) {
    const tool = attr(entry, 'function');
    out += concat('// ', attr(tool, 'description'), '\n');
    out += concat('type ', attr(tool, 'name'), ' = ');
    const params = attr(tool, 'parameters');
    if (truthy(params) && truthy(attr(params, 'properties'))) {
      out += '(_: {\n';
      const required = orEmpty(attr(params, 'required'));
      for (const [name, spec] of entries(attr(params, 'properties'))) {
        if (truthy(attr(spec, 'description'))) out += concat('// ', attr(spec, 'description'), '\n');
        out += name;
        if (!contains(required, name)) out += '?';
        out += ': ' + tsType(spec, required);
        const dflt = attr(spec, 'default');
        if (isDefined(dflt)) {
          if (truthy(attr(spec, 'enum'))) out += concat(', // default: ', dflt);
          else if (truthy(attr(spec, 'oneOf'))) out += concat('// default: ', dflt);
          else out += ', // default: ' + pythonJson(dflt);
        }
        out += ',\n';
      }
      out += '}) => any;\n\n';
    } else out += '() => any;\n\n';
  }
  return out + `} // namespace ${namespace}`;
}

/** The TypeScript type of one JSON-schema value. */
function tsType(spec: unknown, required: unknown): string {
  const type = attr(spec, 'type');
  const nullable = () => (truthy(attr(spec, 'nullable')) ? ' | null' : '');
  if (type === 'array') {
    if (!contains(spec, 'items')) return 'any[]' + nullable();
    const items = attr(spec, 'items');
    const itemType = attr(items, 'type');
    let t: string;
    if (itemType === 'string') t = 'string[]';
    else if (itemType === 'number' || itemType === 'integer') t = 'number[]';
    else if (itemType === 'boolean') t = 'boolean[]';
    else {
      const inner = tsType(items, required);
      t = inner === 'object | object' || inner.length > 50 ? 'any[]' : inner + '[]';
    }
    return t + nullable();
  }
  if (Array.isArray(type) && type.length > 0) {
    return type.length > 1 ? type.map(pythonStr).join(' | ') : pythonStr(type[0]);
  }
  const oneOf = attr(spec, 'oneOf');
  if (truthy(oneOf)) {
    // The template's "object variants -> any" check never fires (a Jinja `set` inside a loop does not leak out).
    const variants = iterate(oneOf);
    return variants
      .map((variant, i) => {
        let s = tsType(variant, required);
        if (truthy(attr(variant, 'description'))) s += concat('// ', attr(variant, 'description'));
        const d = attr(variant, 'default');
        if (isDefined(d)) s += '                    // default: ' + pythonJson(d);
        if (i < variants.length - 1) s += ' | \n';
        return s;
      })
      .join('');
  }
  if (type === 'string') {
    const values = attr(spec, 'enum');
    if (truthy(values)) return '"' + iterate(values).map(pythonStr).join('" | "') + '"';
    return 'string' + nullable();
  }
  if (type === 'number' || type === 'integer') return 'number';
  if (type === 'boolean') return 'boolean';
  if (type === 'object') {
    const props = attr(spec, 'properties');
    if (!truthy(props)) return 'object';
    const req = orEmpty(attr(spec, 'required'));
    const members = entries(props).map(
      ([name, sub]) => `${name}${contains(req, name) ? '' : '?'}: \n                ${tsType(sub, req)}`,
    );
    return `{\n${members.join(', ')}}`;
  }
  return 'any';
}

/** Jinja's `x or []`. */
function orEmpty(v: unknown): unknown {
  return truthy(v) ? v : [];
}

/** Iterate as a Jinja for-loop does (lists; strings by character; dicts by key). */
function iterate(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') return [...v];
  if (typeof v === 'object' && v !== null) return Object.keys(v);
  if (v === UNDEFINED) return [];
  throw new TemplateError(`'${v === null ? 'NoneType' : typeof v}' object is not iterable`);
}

/** `dict.items()`. */
function entries(v: unknown): Array<[string, unknown]> {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return Object.entries(v);
  throw new TemplateError('tool "properties" must be an object');
}
