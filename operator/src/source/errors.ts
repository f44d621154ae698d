/** The error every step of a compose throws: a reason from outcome.ts and a message for a person. */
import type { ComposeReason } from './outcome.js';

export class ComposeError extends Error {
  constructor(
    readonly reason: ComposeReason,
    message: string,
  ) {
    super(message);
    this.name = 'ComposeError';
  }
}

export const invalidSource = (message: string): ComposeError => new ComposeError('InvalidSource', message);
