import { ConfigError, readSettings } from "../../lib/settings";

const DSN = "host=db port=5432 dbname=api user=app password=s3cret sslmode=disable";

function source(values: Record<string, string>, secrets = ["databaseDsn", "pasetoKey"]) {
  return { get: (k: string) => values[k], isSecret: (k: string) => secrets.includes(k) };
}
const read = (values: Record<string, string>, secrets?: string[]) =>
  readSettings(source({ databaseDsn: DSN, ...values }, secrets));

describe("readSettings", () => {
  it("has safe defaults", () => {
    const s = read({});
    expect(s.namespace).toBe("developers-italia");
    expect(s.replicas).toBe(2);
    expect(s.image).toEqual({ repository: "ghcr.io/italia/developers-italia-api", tag: "v1.4.0", digest: undefined });
    expect(s.databaseUrl).toBe("postgres://app:s3cret@db:5432/api?sslmode=disable");
    expect(s.env).toEqual({ ENVIRONMENT: "production" });
    expect(s.migration).toEqual({
      source: "configmap",
      atlasImage: "arigaio/atlas:0.13.1",
      baseline: undefined,
      deadlineSeconds: 300,
      lockTimeout: "10s",
      revisionsSchema: undefined,
      preflight: "offline",
      allowDestructive: [],
      lockWaitTimeout: "5s",
      rollback: false,
      acceptDatabase: undefined,
    });
  });

  it("reads the session lock wait, the rollback switch and an accepted database", () => {
    const s = read({
      migrationLockWaitTimeout: "0",
      rollbackWithoutMigrations: "true",
      migrationAcceptDatabase: "0123456789abcdef",
    });
    expect(s.migration.lockWaitTimeout).toBe("0");
    expect(s.migration.rollback).toBe(true);
    expect(s.migration.acceptDatabase).toBe("0123456789abcdef");
    expect(read({ migrationLockWaitTimeout: "1min" }).migration.lockWaitTimeout).toBe("1min");
  });

  it("treats empty strings (Pulumi.yaml defaults) as unset", () => {
    const s = read({ migrationBaseline: "", imageDigest: "", pasetoKey: "", migrationPreflight: "online" });
    expect(s.migration.baseline).toBeUndefined();
    expect(s.image.digest).toBeUndefined();
    expect(s.pasetoKey).toBeUndefined();
  });

  it.each<[Record<string, string>, string]>([
    [{ databaseDsn: "" }, "config databaseDsn: is required: pulumi config set --secret databaseDsn '<value>'"],
    [{ replicas: "0" }, 'config replicas: expected a whole number from 1 to 100, got "0"'],
    [{ replicas: "two" }, 'config replicas: expected a whole number from 1 to 100, got "two"'],
    [{ namespace: "Bad_NS" }, 'config namespace: "Bad_NS" is not a valid namespace name (a DNS label)'],
    [{ imageDigest: "sha256:abc" }, 'config imageDigest: expected sha256:<64 hex digits>, got "sha256:abc"'],
    [
      { image: "ghcr.io/x/api:v1" },
      "config image: give the repository only; put the tag in imageTag and the digest in imageDigest",
    ],
    [{ migrationSource: "helm" }, 'config migrationSource: expected one of configmap, image, got "helm"'],
    [{ migrationPreflight: "maybe" }, 'config migrationPreflight: expected one of online, offline, off, got "maybe"'],
    [
      { migrationBaseline: "v1.2.0", migrationPreflight: "online" },
      'config migrationBaseline: expected a 14-digit migration version (see migrations/README.md), got "v1.2.0"',
    ],
    [
      { migrationLockTimeout: "10" },
      'config migrationLockTimeout: expected a Go duration such as 10s or 1m30s, got "10"',
    ],
    [
      { migrationLockWaitTimeout: "5" },
      'config migrationLockWaitTimeout: expected a PostgreSQL duration such as 5s, 500ms or 1min, or 0 for no limit, got "5"',
    ],
    [
      { migrationAcceptDatabase: "yes" },
      'config migrationAcceptDatabase: expected the 16-hex-digit database identity that the preview prints, got "yes"',
    ],
    [{ rollbackWithoutMigrations: "1" }, 'config rollbackWithoutMigrations: expected true or false, got "1"'],
    [
      { migrationDeadlineSeconds: "5" },
      'config migrationDeadlineSeconds: expected a whole number from 30 to 3600, got "5"',
    ],
    [
      { pasetoKey: "c2hvcnQ=" },
      "config pasetoKey: must be the standard base64 of exactly 32 bytes (the API panics at startup otherwise); make one with: openssl rand -base64 32",
    ],
    [
      { allowDestructiveMigrations: '["yesterday"]' },
      'config allowDestructiveMigrations: expected a list of 14-digit versions, e.g. ["20260101000000"]',
    ],
    [{ environment: "staging" }, 'config environment: expected one of production, development, test, got "staging"'],
    [{ resources: '{"request": {}}' }, 'config resources: unknown key "request": use requests and limits'],
    [
      { resources: '{"limits": {"memory": "lots"}}' },
      'config resources: limits.memory: expected a quantity such as 100m or 128Mi, got "lots"',
    ],
    [
      { databaseDsn: "host=db sslmode=prefer" },
      "config databaseDsn: sslmode=prefer is not supported by Atlas's PostgreSQL driver (lib/pq); use one of disable, require, verify-ca, verify-full",
    ],
  ])("refuses %j", (values, message) => {
    expect(() => read(values)).toThrow(ConfigError);
    expect(() => read(values)).toThrow(message);
  });

  it("refuses a database DSN stored in plain text", () => {
    expect(() => read({}, [])).toThrow(
      "config databaseDsn: is stored in plain text; store it encrypted: pulumi config set --secret databaseDsn '<value>'",
    );
  });

  it("refuses the image source without a digest: a mutable tag would skip new migrations", () => {
    expect(() => read({ migrationSource: "image" })).toThrow(
      /config imageDigest: is required when migrationSource is image/,
    );
    const digest = `sha256:${"a".repeat(64)}`;
    expect(read({ migrationSource: "image", imageDigest: digest }).migration.source).toBe("image");
  });

  it("refuses a baseline that cannot be checked against the database", () => {
    expect(() => read({ migrationBaseline: "20260525000000" })).toThrow(
      /config migrationBaseline: needs migrationPreflight: online/,
    );
    expect(read({ migrationBaseline: "20260525000000", migrationPreflight: "online" }).migration.baseline).toBe(
      "20260525000000",
    );
    expect(read({ migrationBaseline: "20260525000000", migrationPreflight: "off" }).migration.baseline).toBe(
      "20260525000000",
    );
  });

  it("passes the API's optional environment through as strings", () => {
    const s = read({ maxRequests: "100", webhookDebounceMs: "0", webhookDebounceMaxMs: "5000", environment: "test" });
    expect(s.env).toEqual({
      ENVIRONMENT: "test",
      MAX_REQUESTS: "100",
      WEBHOOK_DEBOUNCE_MS: "0",
      WEBHOOK_DEBOUNCE_MAX_MS: "5000",
    });
  });

  it("never puts a secret value in an error", () => {
    for (const values of [{ databaseDsn: "host=db password='s3cret" }, { pasetoKey: "s3cretvalue" }] as Record<
      string,
      string
    >[]) {
      try {
        read(values);
      } catch (err) {
        expect((err as Error).message).not.toContain("s3cret");
      }
    }
  });
});
