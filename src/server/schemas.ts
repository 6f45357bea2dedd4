/**
 * JSON schemas (Fastify/ajv) for the OpenAI request bodies: types and ranges of every field we read.
 * Unknown fields are allowed (clients send many we ignore); semantic checks live in requests.ts.
 */

const nullable = (type: string | string[]) => ({ type: [...(Array.isArray(type) ? type : [type]), 'null'] });
const num = (min: number, max: number) => ({ ...nullable('number'), minimum: min, maximum: max });

/** Sampling and length fields shared by /v1/chat/completions and /v1/completions. */
const samplingProperties = {
  model: { type: 'string' },
  stream: nullable('boolean'),
  stream_options: { ...nullable('object'), properties: { include_usage: nullable('boolean') } },
  max_tokens: { ...nullable('integer'), minimum: 1 },
  temperature: num(0, 2),
  top_p: { ...num(0, 1), exclusiveMinimum: 0 },
  top_k: { ...nullable('integer'), minimum: -1 },
  min_p: num(0, 1),
  presence_penalty: num(-2, 2),
  frequency_penalty: num(-2, 2),
  repetition_penalty: { ...nullable('number'), exclusiveMinimum: 0 },
  seed: nullable('integer'),
  n: { ...nullable('integer'), minimum: 1 },
  // Stop strings are matched against every token's text: keep them short enough that this stays cheap.
  stop: { type: ['string', 'array', 'null'], maxLength: 256, items: { type: 'string', maxLength: 256 }, maxItems: 16 },
  user: nullable('string'),
} as const;

const textOrParts = {
  type: ['string', 'array', 'null'],
  items: { type: 'object', required: ['type'], properties: { type: { type: 'string' }, text: { type: 'string' } } },
} as const;

const toolCall = {
  type: 'object',
  required: ['function'],
  properties: {
    id: { type: 'string' },
    type: { type: 'string', enum: ['function'] },
    function: {
      type: 'object',
      required: ['name'],
      properties: { name: { type: 'string', minLength: 1 }, arguments: { type: ['string', 'object'] } },
    },
  },
} as const;

export const chatCompletionSchema = {
  type: 'object',
  required: ['model', 'messages'],
  properties: {
    ...samplingProperties,
    max_completion_tokens: { ...nullable('integer'), minimum: 1 },
    messages: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['role'],
        properties: {
          role: { type: 'string', enum: ['system', 'developer', 'user', 'assistant', 'tool'] },
          content: textOrParts,
          name: nullable('string'),
          reasoning_content: nullable('string'),
          reasoning: nullable('string'),
          tool_calls: { ...nullable('array'), items: toolCall },
          tool_call_id: nullable('string'),
        },
      },
    },
    tools: {
      ...nullable('array'),
      items: {
        type: 'object',
        required: ['type', 'function'],
        properties: {
          type: { type: 'string', enum: ['function'] },
          function: {
            type: 'object',
            required: ['name'],
            properties: {
              name: { type: 'string', pattern: '^[a-zA-Z0-9_.-]{1,64}$' },
              description: nullable('string'),
              parameters: nullable('object'),
              strict: nullable('boolean'),
            },
          },
        },
      },
    },
    tool_choice: {
      type: ['string', 'object', 'null'],
      properties: {
        type: { type: 'string', enum: ['function'] },
        function: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
      },
      required: ['type', 'function'],
    },
    parallel_tool_calls: nullable('boolean'),
    chat_template_kwargs: nullable('object'),
    reasoning_effort: { type: ['string', 'null'], enum: ['low', 'medium', 'high', null] },
    response_format: { ...nullable('object'), required: ['type'], properties: { type: { type: 'string' } } },
    logprobs: nullable('boolean'),
    top_logprobs: { ...nullable('integer'), minimum: 0 },
  },
} as const;

export const completionSchema = {
  type: 'object',
  required: ['model', 'prompt'],
  properties: {
    ...samplingProperties,
    prompt: { type: ['string', 'array'], items: { type: ['string', 'integer'] } },
    echo: nullable('boolean'),
    suffix: nullable('string'),
    best_of: { ...nullable('integer'), minimum: 1 },
    logprobs: { ...nullable('integer'), minimum: 0 },
  },
} as const;
