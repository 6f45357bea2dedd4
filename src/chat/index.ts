/** Chat formats: render conversations to prompt ids, parse generated ids into reasoning / content / tool calls. */
export type { ChatDelta, ChatFormat, ChatKwargs, ChatMessage, OutputParser, ParsedOutput, RenderedChat, RenderOptions, ToolCall } from './types.js';
export { TemplateError } from './errors.js';
export { JinjaChatFormat } from './jinja.js';
export { HarmonyChatFormat, renderHarmony } from './harmony.js';
export { chatFormatFor, hasHarmonyTokens, type ChatFormatChoice } from './choose.js';
export { outputParserFor, outputSyntaxFor, stopTokensFor } from './parsers.js';
export type { OutputSyntax } from './parse.js';
