/**
 * An error meant for the user: it names the thing that is wrong and how to fix it.
 * The CLI prints `message` and `hint` without a stack trace.
 */
export class UserError extends Error {
  readonly hint?: string;
  constructor(message: string, hint?: string) {
    super(message);
    this.name = 'UserError';
    this.hint = hint;
  }
}
