import { OwlError } from '../errors.js';

/** Rendering a chat failed: the template raised, or the messages do not fit the format. */
export class TemplateError extends OwlError {
  override name = 'TemplateError';
}
