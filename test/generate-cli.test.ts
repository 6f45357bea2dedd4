/** `owl generate` with text: raw completion, a chat turn, sampling flags, errors. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, OWL_BIN } from './helpers.js';
import { makeTinyQwen } from './generate-mocks.js';
import { readReference } from './oracle.js';

function owl(...args: string[]) {
  const r = spawnSync(process.execPath, [OWL_BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const dir = join(mkdtempSync(join(tmpdir(), 'owl-gencli-')), 'tiny-qwen3');
before(() => makeTinyQwen(dir));

test('--prompt continues text; the same --seed repeats it; --verbose reports speed', () => {
  const args = ['generate', dir, '--prompt', 'The owl', '--max-tokens', '12', '--seed', '5', '--temperature', '0.9', '--top-k', '40'];
  const a = owl(...args, '--verbose');
  const b = owl(...args);
  assert.equal(a.code, 0, a.err);
  assert.ok(a.out.trim().length > 0);
  assert.equal(a.out, b.out);
  assert.match(a.err, /12 tokens, [\d.]+ tok\/s \| prompt 2 tokens \(2 prefilled\) in [\d.]+ s \| length \| seed 5/);
  assert.notEqual(owl(...args.slice(0, -4), '--seed', '6', '--temperature', '0.9').out, a.out);
});

test('--chat --json: one chat turn as JSON; --no-think renders the empty think block', () => {
  const r = owl('generate', dir, '--prompt', 'Hi', '--chat', '--no-think', '--system', 'Be brief.', '--max-tokens', '6', '--greedy', '--json');
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.equal(j.ids.length, 6);
  assert.equal(j.finish_reason, 'length');
  assert.equal(typeof j.text, 'string');
  // <|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n
  assert.ok(j.usage.promptTokens >= 20, JSON.stringify(j.usage));
  const think = owl('generate', dir, '--prompt', 'Hi', '--chat', '--system', 'Be brief.', '--max-tokens', '6', '--greedy', '--json');
  assert.equal(JSON.parse(think.out).usage.promptTokens, j.usage.promptTokens - 4, 'thinking on: no <think>\\n\\n</think>\\n\\n');
});

test('--ids keeps its exact output; sampling flags switch ids mode from greedy to sampling', () => {
  const fixture = join(FIXTURES, 'models', 'qwen3-dense');
  const ref = readReference('qwen3-dense');
  const prompt = ref.ids[1]!.join(',');
  const greedy = owl('generate', fixture, '--ids', prompt, '--max-tokens', '5');
  assert.equal(greedy.out.trim(), ref.greedy.slice(ref.ids[1]!.length, ref.ids[1]!.length + 5).join(','));
  const sampled = owl('generate', fixture, '--ids', prompt, '--max-tokens', '5', '--temperature', '5', '--seed', '1', '--json');
  assert.equal(JSON.parse(sampled.out).ids.length, 5);
  assert.notDeepEqual(JSON.parse(sampled.out).ids, ref.greedy.slice(ref.ids[1]!.length, ref.ids[1]!.length + 5));
});

test('bad flags and inputs get clear errors', () => {
  const cases: Array<[string[], RegExp]> = [
    [['generate', dir, '--prompt', 'x', '--top-p', '2'], /--top-p: topP must be in \(0, 1\]/],
    [['generate', dir, '--prompt', 'x', '--temperature', 'hot'], /--temperature must be a number, got "hot"/],
    [['generate', dir, '--prompt', 'x', '--seed', '1.5'], /--seed must be an integer/],
    [['generate', dir, '--prompt', 'x', '--greedy', '--temperature', '1'], /contradict/],
    [['generate', dir, '--prompt', 'x', '--ids', '1'], /either --ids/],
    [['generate', dir, '--ids', '1', '--stop', 'x'], /--stop matches text/],
    [['generate', dir, '--prompt', 'x', '--no-think'], /need --chat/],
    [['generate', dir, '--prompt', 'x', '--chat', '--effort', 'max'], /--effort must be low, medium or high/],
    [['generate', dir, '--prompt', 'x', '--chat', '--effort', 'low'], /no reasoning effort/],
    [['generate', dir, '--prompt', 'x '.repeat(41000)], /prompt has \d+ tokens but the model's context is 40960/],
    [['generate', join(FIXTURES, 'models', 'qwen3-dense'), '--prompt', 'x'], /has no tokenizer\.json/],
    [['generate', join(FIXTURES, 'models', 'qwen3-dense'), '--prompt', 'x', '--tokenizer', dir], /the tokenizer has \d+ ids but .* vocabulary of 1024/],
    [['chat'], /MODEL_DIR/],
    [['chat', join(FIXTURES, 'models', 'qwen3-dense')], /no tokenizer\.json/],
    [['chat', dir, '--effort', 'high'], /no reasoning effort/],
  ];
  for (const [args, pattern] of cases) {
    const r = owl(...args);
    assert.equal(r.code, 2, `${args.slice(0, 4).join(' ')}: ${r.err}`);
    assert.match(r.err, pattern, args.slice(0, 4).join(' '));
    assert.doesNotMatch(r.err, /    at /, 'no stack trace for user errors');
  }
});

test('owl chat --help and owl generate --help explain themselves', () => {
  const chat = owl('chat', '--help');
  assert.equal(chat.code, 0);
  for (const s of ['/no_think', '/effort', '/system', '/reset', '/hide-reasoning', 'Ctrl-C', '--temperature', 'owl init --tokenizer']) assert.ok(chat.out.includes(s), s);
  const gen = owl('generate', '--help');
  for (const s of ['--prompt', '--chat', '--ids', '--stop-at-eos', '--top-p', '--min-p', '--stop TEXT', '--seed']) assert.ok(gen.out.includes(s), s);
});
