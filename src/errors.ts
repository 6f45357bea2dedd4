/**
 * Base class of every error caused by the user's input (bad file, bad config, bad argument,
 * bad request). Front ends print its message without a stack trace; anything else is a bug.
 */
export class OwlError extends Error {
  override name = 'OwlError';
}
