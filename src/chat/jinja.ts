/**
 * Chat templates rendered with @huggingface/jinja in the environment transformers uses:
 * trim_blocks + lstrip_blocks, `raise_exception`, `strftime_now` (settable date), the tokenizer's
 * special tokens as variables, tools/documents defaulting to None, and Python's `+` (str + dict
 * raises instead of concatenating "[object Map]").
 */
import { Environment, Interpreter, parse, tokenize } from '@huggingface/jinja';
import type { Tokenizer } from '../tokenizer/types.js';
import { TemplateError } from './errors.js';
import { dateParts, pyStripChars, strftime } from './python.js';
import { renderChat } from './render.js';
import type { OutputSyntax } from './parse.js';
import { outputParserFor, outputSyntaxFor, stopTokensFor } from './parsers.js';
import type { ChatFormat, ChatKwargs, ChatMessage, OutputParser, RenderedChat, RenderOptions } from './types.js';

type Program = ReturnType<typeof parse>;

/** The runtime values of @huggingface/jinja, as far as Python's `+` needs them. */
interface RuntimeValue {
  type: string;
  value: unknown;
}
type RuntimeCtor = new (value: unknown) => RuntimeValue;

/** Raised by the template's own raise_exception(): its message is the template's text. */
class RaisedByTemplate extends Error {}

export class JinjaChatFormat implements ChatFormat {
  readonly kind = 'jinja' as const;
  readonly stopTokens: readonly number[];
  private readonly programs = new Map<string, Program>();
  private readonly syntax: OutputSyntax;

  /** `template`: one template, or named templates ({default, tool_use, ...}) as tokenizer_config.json lists them. */
  constructor(
    private readonly tokenizer: Tokenizer,
    template: string | Readonly<Record<string, string>>,
    private readonly defaults: RenderOptions = {},
  ) {
    const templates = typeof template === 'string' ? { default: template } : template;
    for (const [name, source] of Object.entries(templates)) {
      try {
        this.programs.set(name, parse(tokenize(source, { lstrip_blocks: true, trim_blocks: true })));
      } catch (e) {
        throw new TemplateError(`chat template "${name}" does not parse: ${(e as Error).message}`);
      }
    }
    if (this.programs.size === 0) throw new TemplateError('no chat template given');
    this.syntax = outputSyntaxFor(tokenizer, Object.values(templates).join('\n'));
    this.stopTokens = stopTokensFor(tokenizer, this.syntax);
  }

  render(messages: ChatMessage[], kwargs: ChatKwargs = {}, options: RenderOptions = {}): RenderedChat {
    const date = dateParts(options.date ?? this.defaults.date);
    const program = this.pickProgram(kwargs);
    return renderChat(this.tokenizer, (msgs, kw) => this.renderText(program, msgs, kw, (fmt) => strftime(date, fmt)), messages, kwargs);
  }

  parser(prompt?: RenderedChat | string): OutputParser {
    return outputParserFor(this.tokenizer, this.syntax, this.stopTokens, typeof prompt === 'string' ? prompt : prompt?.text);
  }

  /** transformers: with tools, a template named "tool_use" wins over "default". */
  private pickProgram(kwargs: ChatKwargs): Program {
    const named = kwargs.tools ? this.programs.get('tool_use') : undefined;
    return named ?? this.programs.get('default') ?? this.programs.values().next().value!;
  }

  private renderText(program: Program, messages: ChatMessage[], kwargs: ChatKwargs, strftimeNow: (fmt: string) => string): string {
    const vars: Record<string, unknown> = {
      false: false, true: true, none: null, False: false, True: true, None: null,
      raise_exception: (message: unknown) => {
        throw new RaisedByTemplate(String(message));
      },
      strftime_now: strftimeNow,
      range: pythonRange,
      ...templateTokenVars(this.tokenizer),
      messages,
      tools: null,
      documents: null,
      add_generation_prompt: false,
      ...kwargs,
    };
    const env = new Environment();
    for (const [k, v] of Object.entries(vars)) env.set(k, v);
    const interpreter = new Interpreter(env);
    usePythonSemantics(interpreter);
    try {
      const out = interpreter.run(program) as unknown as RuntimeValue;
      return String(out.value);
    } catch (e) {
      if (e instanceof RaisedByTemplate) throw new TemplateError(e.message);
      throw new TemplateError(`chat template failed: ${(e as Error).message}`);
    }
  }
}

/** The special tokens transformers passes to templates (bos_token, eos_token, ... as strings). */
function templateTokenVars(tokenizer: Tokenizer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token']) {
    const v = tokenizer.config[key];
    if (typeof v === 'string') out[key] = v;
    else if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string') {
      out[key] = (v as { content: string }).content;
    }
  }
  return out;
}

function pythonRange(a: number, b?: number, step = 1): number[] {
  const [start, stop] = b === undefined ? [0, a] : [a, b];
  if (step === 0) throw new RaisedByTemplate('range() arg 3 must not be zero');
  const out: number[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
  return out;
}

// The library does not export its runtime value classes; take them from values it creates.
const { IntegerValue, FloatValue, StringValue, FunctionValue } = (() => {
  const probe = new Environment();
  const values: Record<string, unknown> = { i: 1, f: 1.5, s: '', fn: () => null };
  for (const [k, v] of Object.entries(values)) probe.set(k, v);
  const ctor = (k: string) => (probe.lookupVariable(k) as unknown as RuntimeValue).constructor as RuntimeCtor;
  return { IntegerValue: ctor('i'), FloatValue: ctor('f'), StringValue: ctor('s'), FunctionValue: ctor('fn') };
})();

const PY_TYPE: Record<string, string> = {
  StringValue: 'str', IntegerValue: 'int', FloatValue: 'float', BooleanValue: 'bool', ArrayValue: 'list', TupleValue: 'tuple',
  ObjectValue: 'dict', KeywordArgumentsValue: 'dict', NamespaceValue: 'Namespace', NullValue: 'NoneType', FunctionValue: 'function',
};

interface AstNode {
  type: string;
  value?: unknown;
}

/**
 * Where the library departs from Jinja2/Python in ways chat templates hit, patched on this one
 * interpreter instance (the methods are private in the library's typings):
 * - `+`: str+str, list+list and numbers only. The library turns `'x' + dict` into "x[object Map]";
 *   Python raises, and transformers' fixtures expect the error.
 * - `s.strip(chars)`, `lstrip`, `rstrip`: the library ignores `chars` (Qwen3's template strips '\n').
 */
function usePythonSemantics(interpreter: Interpreter): void {
  const it = interpreter as unknown as {
    evaluate(node: unknown, env: unknown): RuntimeValue;
    evaluateBinaryExpression(node: { operator: { value: string }; left: unknown; right: unknown }, env: unknown): RuntimeValue;
    evaluateMemberExpression(node: { object: AstNode; property: AstNode; computed: boolean }, env: unknown): RuntimeValue;
  };
  const binary = it.evaluateBinaryExpression;
  it.evaluateBinaryExpression = function (node, env) {
    if (node.operator.value !== '+') return binary.call(this, node, env);
    return pythonPlus(this.evaluate(node.left, env), this.evaluate(node.right, env));
  };
  const member = it.evaluateMemberExpression;
  const sides: Record<string, 'both' | 'left' | 'right'> = { strip: 'both', lstrip: 'left', rstrip: 'right' };
  it.evaluateMemberExpression = function (node, env) {
    const side = !node.computed && node.property.type === 'Identifier' ? sides[String(node.property.value)] : undefined;
    if (side) {
      const target = this.evaluate(node.object, env);
      if (target.type === 'StringValue') {
        return new FunctionValue((args: RuntimeValue[]) => {
          const chars = args[0]?.type === 'StringValue' ? (args[0].value as string) : null;
          return new StringValue(pyStripChars(target.value as string, chars, side));
        });
      }
    }
    return member.call(this, node, env);
  };
}

function pythonPlus(l: RuntimeValue, r: RuntimeValue): RuntimeValue {
  const num = (v: RuntimeValue) => v.type === 'IntegerValue' || v.type === 'FloatValue' || v.type === 'BooleanValue';
  if (l.type === 'StringValue' && r.type === 'StringValue') {
    return new (l.constructor as RuntimeCtor)((l.value as string) + (r.value as string));
  }
  if (l.type === 'ArrayValue' && r.type === 'ArrayValue') {
    return new (l.constructor as RuntimeCtor)((l.value as unknown[]).concat(r.value as unknown[]));
  }
  if (num(l) && num(r)) {
    const sum = Number(l.value) + Number(r.value);
    return new (l.type === 'FloatValue' || r.type === 'FloatValue' ? FloatValue : IntegerValue)(sum);
  }
  if (l.type === 'UndefinedValue' || r.type === 'UndefinedValue') throw new Error("'+' on an undefined value");
  const lt = PY_TYPE[l.type] ?? l.type;
  const rt = PY_TYPE[r.type] ?? r.type;
  if (lt === 'str' || lt === 'list') throw new Error(`can only concatenate ${lt} (not "${rt}") to ${lt}`);
  throw new Error(`unsupported operand type(s) for +: '${lt}' and '${rt}'`);
}
