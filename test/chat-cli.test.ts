/** `owl chat`: the REPL driven in-process on a scripted model, and the real CLI through a pseudo-terminal. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ChatRepl } from '../src/cli/commands/chat.js';
import { ChatSession } from '../src/generate/session.js';
import { OWL_BIN } from './helpers.js';
import { END_THINK, IM_END, MINI_TEMPLATE, THINK, byteTokenizer, makeTinyQwen, miniChat, replyModel } from './generate-mocks.js';

/** Answers "answer N[ with system]" (N = user turns in the prompt), thinking first unless the prompt turned it off. */
function scriptedSession(): ChatSession {
  const bytes = (s: string) => byteTokenizer.encode(s);
  const model = replyModel((prompt) => {
    const text = byteTokenizer.decode(prompt);
    const users = text.split('<|im_start|>user').length - 1;
    const answer = bytes(`answer ${users}${text.includes('<|im_start|>system') ? ' with system' : ''}`);
    return text.endsWith('<think>\n\n</think>\n\n') ? answer : [THINK, ...bytes('pondering'), END_THINK, ...answer];
  }, IM_END);
  return new ChatSession({ model, tokenizer: byteTokenizer, chatFormat: miniChat, templateSource: MINI_TEMPLATE });
}

test('REPL: streams answers, shows/hides reasoning, toggles thinking, system prompt, reset, settings', async () => {
  const input = new PassThrough();
  const output = new PassThrough();
  let out = '';
  output.on('data', (d) => (out += d));
  const repl = new ChatRepl(scriptedSession(), input, output, {});
  const done = repl.run();
  const lines = [
    'hello',
    '/hide-reasoning',
    'again',
    '/no_think',
    'third',
    '/system Be brief.',
    'fourth',
    '/reset',
    'fifth',
    '/set temperature 0',
    '/set top-p 7',
    '/effort high',
    '/bogus',
    '/help',
    '/exit',
  ];
  // Lines are answered one after the other even when they arrive together.
  input.write(lines.join('\n') + '\n');
  await done;
  const section = (from: string, to: string) => out.slice(out.indexOf(from), out.indexOf(to, out.indexOf(from)));
  assert.match(out, /sampling: temperature 0\.6, top-k 20, top-p 0\.95/, 'banner shows the Qwen3 thinking-mode defaults');
  assert.match(out, /\/help lists the commands/);
  assert.match(section('[thinking]', 'reasoning hidden'), /\[thinking\]\npondering\n\[answer\]\nanswer 1\n\[\d+ tokens, [\d.]+ tok\/s \| prompt \d+ tokens/);
  const hidden = section('reasoning hidden', 'thinking off');
  assert.match(hidden, /\(thinking…\)\nanswer 2/);
  assert.doesNotMatch(hidden, /pondering/);
  assert.match(hidden, /reused\)/, 'the second turn reuses the cached prefix');
  assert.match(out, /thinking off; sampling: temperature 0\.7, top-k 20, top-p 0\.8/);
  assert.doesNotMatch(section('thinking off', 'system prompt set'), /thinking…|pondering/);
  assert.match(section('thinking off', 'system prompt set'), /answer 3\n/);
  assert.match(section('system prompt set', 'conversation forgotten'), /answer 4 with system/);
  assert.match(section('conversation forgotten', 'sampling: greedy'), /answer 1 with system/);
  assert.match(out, /sampling: greedy/);
  assert.match(out, /--top-p: topP must be in \(0, 1\]/);
  assert.match(out, /no reasoning effort/);
  assert.match(out, /unknown command \/bogus; \/help lists the commands/);
  assert.match(out, /\/reset +forget the conversation/);
});

test('REPL: /set NAME restores a default, /set shows the settings, end of input quits', async () => {
  const input = new PassThrough();
  const output = new PassThrough();
  let out = '';
  output.on('data', (d) => (out += d));
  const session = scriptedSession();
  const repl = new ChatRepl(session, input, output, { generate: { maxTokens: 3 } });
  const done = repl.run();
  input.end('hi\n/set max-tokens\n/set\nhello\n');
  await done;
  assert.match(out, /\[3 tokens, .*\(cut at the token limit\)/);
  assert.match(out, /max tokens: until the end of the answer/);
  assert.match(out, /answer 2/);
});

/** `script` (util-linux) gives the CLI a pseudo-terminal, as a user at a terminal has. */
const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
const dir = join(mkdtempSync(join(tmpdir(), 'owl-chat-')), 'tiny-qwen3');
before(() => {
  if (hasScript) makeTinyQwen(dir);
});

test('owl chat in a terminal: banner, streamed answer with speed, /no_think, Ctrl-C stops an answer, clears a line, quits', { skip: hasScript ? false : 'script (util-linux) is not installed' }, async () => {
  const cmd = `${process.execPath} ${OWL_BIN} chat ${dir} --seed 1 --max-tokens 8`;
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env: { ...process.env, TERM: 'xterm', NO_COLOR: '1' } });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', r));
  const waitFor = async (re: RegExp, from = 0, ms = 60000) => {
    for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
      const m = re.exec(out.slice(from));
      if (m) return from + m.index + m[0].length;
    }
    throw new Error(`timed out waiting for ${re}; output so far:\n${out}`);
  };
  const type = (s: string) => child.stdin.write(s);
  try {
    let at = await waitFor(/Ctrl-C stops an answer/);
    assert.match(out, /owl chat — tiny-qwen3 \(qwen3, 1 layers, context 40960 tokens/);
    assert.match(out, /thinking on \(\/think, \/no_think\)/);
    type('What is 2+2?\r');
    at = await waitFor(/What is 2\+2\?[\r\n]+/, at);
    const statsAt = await waitFor(/\[8 tokens, [\d.]+ tok\/s \| prompt \d+ tokens \(\d+ prefilled\) in [\d.]+ s\] \(cut at the token limit\)/, at);
    const answer = out.slice(at, statsAt).split('[8 tokens')[0]!.trim();
    assert.ok(answer.length > 0, 'an answer was streamed before the stats line');
    type('/no_think\r');
    at = await waitFor(/thinking off; sampling: temperature 0\.7, top-k 20, top-p 0\.8/, statsAt);
    type('/set max-tokens 100000\r');
    at = await waitFor(/sampling: /, at);
    type('Tell me a very long story.\r');
    at = await waitFor(/Tell me a very long story\.[\r\n]+.{10}/s, at);
    type('\x03');
    at = await waitFor(/tok\/s[^\n]*\(stopped\)/, at);
    // Ctrl-C with text typed clears the line; on an empty line it quits (/exit is tested above).
    type('half a question');
    at = await waitFor(/half a question/, at);
    type('\x03');
    at = await waitFor(/\^C/, at);
    type('\x03');
    assert.equal(await exited, 0);
  } finally {
    child.kill();
  }
});
