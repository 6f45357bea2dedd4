import { OwlError } from '../errors.js';

/** The shape of one `owl` sub-command; main.ts dispatches to these lazily. */
export interface Command {
  name: string;
  /** One line for `owl --help`. */
  summary: string;
  /** Full `owl NAME --help` text. */
  help: string;
  run(argv: string[]): Promise<number>;
}

/** A user error: printed without a stack trace, exit code 2. */
export class UsageError extends OwlError {
  override name = 'UsageError';
}
