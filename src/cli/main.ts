#!/usr/bin/env node
/** `owl` entry point: dispatches to sub-commands, loaded lazily so each starts fast. */
import type { Command } from './command.js';
import { OwlError } from '../errors.js';

const COMMANDS: Record<string, () => Promise<Command>> = {
  compare: async () => (await import('./commands/compare.js')).default,
  init: async () => (await import('./commands/init.js')).default,
  logits: async () => (await import('./commands/logits.js')).default,
  perplexity: async () => (await import('./commands/perplexity.js')).default,
  generate: async () => (await import('./commands/generate.js')).default,
  bench: async () => (await import('./commands/bench.js')).default,
  chat: async () => (await import('./commands/chat.js')).default,
  convert: async () => (await import('./commands/convert.js')).default,
  tokenize: async () => (await import('./commands/tokenize.js')).default,
  template: async () => (await import('./commands/template.js')).default,
  serve: async () => (await import('./commands/serve.js')).default,
};

function usage(): string {
  return [
    'owl — GPT-OSS, Qwen3 and DeepSeek-V3 in TypeScript',
    '',
    'Usage: owl <command> [options]   (owl <command> --help for details)',
    '',
    'Commands:',
    ...Object.keys(COMMANDS).map((c) => `  ${c}`),
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    const lines = [usage().split('\nCommands:')[0], 'Commands:'];
    for (const [n, load] of Object.entries(COMMANDS)) lines.push(`  ${n.padEnd(12)} ${(await load()).summary}`);
    console.log(lines.join('\n'));
    return name ? 0 : 1;
  }
  const load = COMMANDS[name];
  if (!load) {
    console.error(`owl: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  const cmd = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.help);
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof OwlError) {
      console.error(`owl ${name}: ${(e as Error).message}`);
      return 2;
    }
    if (String((e as { code?: string }).code).startsWith('ERR_PARSE_ARGS_')) {
      console.error(`owl ${name}: ${(e as Error).message}\nRun "owl ${name} --help" for usage.`);
      return 2;
    }
    console.error(`owl ${name}: ${(e as Error)?.stack ?? String(e)}`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    console.error(e);
    process.exitCode = 1;
  },
);
