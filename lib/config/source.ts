/** Where stack configuration comes from, and the error that names a key. */

/** What the readers need from Pulumi config: plain text per key and whether it is secret. */
export interface ConfigSource {
  get(key: string): string | undefined;
  isSecret(key: string): boolean;
}

/** A config value the program refuses: the message names the key and says what to do. */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`config ${key}: ${message}`);
  }
}
