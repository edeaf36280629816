import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { ATLAS_IMAGE, checkPinnedImage } from "../../lib/config/image";
import { DEFAULT_RESOURCES, quantityMilli } from "../../lib/config/resources";
import { isApiPasetoKey } from "../../lib/config/database";
import { readSpec } from "../../lib/config/readSpec";
import { LEGACY_INSTANCE, instanceLabel } from "../../lib/deploy/instance";
import { readAcknowledgements } from "../../lib/config/migration";
import { ConfigError } from "../../lib/config/source";
import { testbedAtlasImage } from "../../testbed/stack";
import { goDurationNs, postgresDurationMs } from "../../lib/config/read";
import { DATABASE_CA_PATH } from "../../lib/database/tls";
import { certDir, makeCa } from "../support/certs";

const DSN = "host=db port=5432 dbname=api user=app password=s3cret sslmode=disable";

function source(values: Record<string, string>, secrets = ["databaseDsn", "pasetoKey"]) {
  return { get: (k: string) => values[k], isSecret: (k: string) => secrets.includes(k) };
}
const read = (values: Record<string, string>, secrets?: string[]) =>
  readSpec(source({ databaseDsn: DSN, ...values }, secrets));

describe("readSpec", () => {
  it("has safe defaults", () => {
    const s = read({});
    expect(s.namespace).toBe("developers-italia");
    expect(s.scaling.replicas).toBe(2);
    // Kubernetes' default progressDeadlineSeconds.
    expect(s.rollout).toEqual({ timeoutSeconds: 600 });
    expect(s.image).toEqual({ repository: "ghcr.io/italia/developers-italia-api", tag: "v1.4.0", digest: undefined });
    expect(s.database.url).toBe("postgres://app:s3cret@db:5432/api?sslmode=disable");
    // The API's own defaults, written out (internal/common/env.go at v1.4.0).
    expect(s.env).toEqual({
      ENVIRONMENT: "production",
      MAX_REQUESTS: "0",
      WEBHOOK_DEBOUNCE_MS: "1000",
      WEBHOOK_DEBOUNCE_MAX_MS: "10000",
    });
    expect(s.migration).toEqual({
      atlasImage: "arigaio/atlas:1.2.3-community",
      baseline: undefined,
      deadlineSeconds: 300,
      atlasLockTimeout: "10s",
      revisionsSchema: undefined,
      preflight: "offline",
      allowDestructive: [],
      allowBreaking: [],
      allowLocking: [],
      postgresLockTimeout: "5s",
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
    expect(s.migration.postgresLockTimeout).toBe("0");
    expect(s.migration.rollback).toBe(true);
    expect(s.migration.acceptDatabase).toBe("0123456789abcdef");
    expect(read({ migrationLockWaitTimeout: "1min" }).migration.postgresLockTimeout).toBe("1min");
  });

  it("treats empty strings (Pulumi.yaml defaults) as unset", () => {
    const s = read({ migrationBaseline: "", imageDigest: "", pasetoKey: "", migrationPreflight: "online" });
    expect(s.migration.baseline).toBeUndefined();
    expect(s.image.digest).toBeUndefined();
    expect(s.pasetoKey).toBeUndefined();
  });

  it.each<[Record<string, string>, string]>([
    [{ databaseDsn: "" }, "config databaseDsn: is required: pulumi config set --secret databaseDsn '<value>'"],
    [{ replicas: "101" }, 'config replicas: expected a whole number from 0 to 100, got "101"'],
    [{ rolloutTimeoutSeconds: "1" }, 'config rolloutTimeoutSeconds: expected a whole number from 5 to 21600, got "1"'],
    [{ replicas: "two" }, 'config replicas: expected a whole number from 0 to 100, got "two"'],
    [{ namespace: "Bad_NS" }, 'config namespace: "Bad_NS" is not a valid namespace name (a DNS label)'],
    [{ imageDigest: "sha256:abc" }, 'config imageDigest: expected sha256:<64 hex digits>, got "sha256:abc"'],
    [
      { image: "ghcr.io/x/api:v1" },
      "config image: give the repository only; put the tag in imageTag and the digest in imageDigest",
    ],
    [
      { image: "GHCR.io/Italia/API" },
      'config image: "GHCR.io/Italia/API" is not an image repository (lower-case; a registry host needs a dot or a port, e.g. ghcr.io/italia/developers-italia-api)',
    ],
    [
      { imageTag: "v1.4.0 " },
      'config imageTag: "v1.4.0 " is not an image tag (letters, digits, ".", "_" and "-", at most 128, e.g. v1.4.0)',
    ],
    [
      { migrationSource: "helm" },
      'config migrationSource: expected configmap (the default), got "helm"; remove it with: pulumi config rm migrationSource',
    ],
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
      "config allowDestructiveMigrations: entry 0 is not <version>:<sha256 of the file, at least 12 hex digits>",
    ],
    [{ environment: "staging" }, 'config environment: expected one of production, development, test, got "staging"'],
    [{ resources: '{"request": {}}' }, 'config resources: unknown key "request": use requests and limits'],
    [
      { resources: '{"limits": {"memory": "lots"}}' },
      'config resources: limits.memory: "lots" is not a quantity such as 128Mi or 1Gi',
    ],
    [
      { databaseDsn: "host=db sslmode=prefer" },
      "config databaseDsn: sslmode=prefer is not supported by Atlas's PostgreSQL driver (lib/pq); use one of disable, require, verify-ca, verify-full",
    ],
  ])("refuses %j", (values, message) => {
    expect(() => read(values)).toThrow(ConfigError);
    expect(() => read(values)).toThrow(message);
  });

  it.each<[string, bigint | undefined]>([
    ["10s", 10_000_000_000n],
    ["1m30s", 90_000_000_000n],
    ["1.5h", 5_400_000_000_000n],
    ["1.0000000001s", 1_000_000_000n], // below a nanosecond: truncated, as Go does
    ["300ms", 300_000_000n],
    ["2562047h47m16.854775807s", 2n ** 63n - 1n],
    ["10", undefined],
    ["-1s", undefined],
    ["1d", undefined],
  ])("goDurationNs(%j) is %s", (text, ns) => {
    expect(goDurationNs(text)).toBe(ns);
  });

  it.each<[string, bigint | undefined]>([
    ["0", 0n],
    ["500ms", 500n],
    ["5s", 5_000n],
    ["1min", 60_000n],
    ["2h", 7_200_000n],
    ["05s", undefined],
    ["5m", undefined],
    ["5", undefined],
  ])("postgresDurationMs(%j) is %s", (text, ms) => {
    expect(postgresDurationMs(text)).toBe(ms);
  });

  it.each<[Record<string, string>, string]>([
    [
      { migrationLockTimeout: "2562047h47m16.854775808s" },
      'config migrationLockTimeout: "2562047h47m16.854775808s" is longer than a Go duration can hold (2562047h, about 292 years), so Atlas would refuse its --lock-timeout; use a duration such as 10s or 1m30s',
    ],
    [
      { migrationLockTimeout: "9999999999h" },
      'config migrationLockTimeout: "9999999999h" is longer than a Go duration can hold',
    ],
    [
      { migrationLockWaitTimeout: "2147483648ms" },
      "config migrationLockWaitTimeout: \"2147483648ms\" is above PostgreSQL's limit for lock_timeout (2147483647ms, about 596h), so the server would refuse the migration's connection; use a duration such as 5s, or 0 for no limit",
    ],
    [{ migrationLockWaitTimeout: "597h" }, 'config migrationLockWaitTimeout: "597h" is above PostgreSQL\'s limit'],
    [
      { migrationLockWaitTimeout: "35792min" },
      'config migrationLockWaitTimeout: "35792min" is above PostgreSQL\'s limit',
    ],
  ])("refuses a duration beyond what Go or PostgreSQL hold: %j", (values, message) => {
    expect(() => read(values)).toThrow(message);
  });

  it.each<[Record<string, string>]>([
    [{ migrationLockTimeout: "2562047h47m16.854775807s" }],
    [{ migrationLockWaitTimeout: "2147483647ms" }],
    [{ migrationLockWaitTimeout: "596h" }],
    [{ migrationLockWaitTimeout: "35791min" }],
  ])("accepts the longest durations: %j", (values) => {
    expect(() => read(values)).not.toThrow();
  });

  it.each([["0x10"], ["1e1"], [" 5"], ["5 "], ["5.0"], ["+5"], ["05"], ["0b11"], ["Infinity"], ["1_0"]])(
    "reads only decimal digits as a number: refuses replicas %j",
    (raw) => {
      expect(() => read({ replicas: raw })).toThrow(
        `config replicas: expected a whole number from 0 to 100, got ${JSON.stringify(raw)}`,
      );
    },
  );

  it.each([
    ["null", "got null"],
    ["[]", "got a list"],
    ['"big"', 'got string "big"'],
    ["3", "got number 3"],
  ])("refuses resources %s, naming the key", (raw, got) => {
    expect(() => read({ resources: raw })).toThrow(
      `config resources: expected an object like {requests: {cpu: 100m, memory: 128Mi}, limits: {memory: 256Mi}}, ${got}`,
    );
  });

  it.each([
    ['{"requests": null}', "requests: expected an object such as {cpu: 100m, memory: 128Mi}, got null"],
    ['{"limits": ["256Mi"]}', "limits: expected an object such as {cpu: 100m, memory: 128Mi}, got a list"],
    ['{"limits": "256Mi"}', 'limits: expected an object such as {cpu: 100m, memory: 128Mi}, got string "256Mi"'],
  ])("refuses a resources group that is not an object: %s", (raw, message) => {
    expect(() => read({ resources: raw })).toThrow(`config resources: ${message}`);
  });

  it.each<[string, object]>([
    ["{}", { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } }],
    ['{"limits": {"memory": "512Mi"}}', { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "512Mi" } }],
    ['{"requests": {"cpu": "50m"}}', { requests: { cpu: "50m", memory: "128Mi" }, limits: { memory: "256Mi" } }],
    [
      '{"requests": {"cpu": "0.5", "memory": "200Mi"}, "limits": {"cpu": "2", "memory": "1Gi"}}',
      { requests: { cpu: "0.5", memory: "200Mi" }, limits: { cpu: "2", memory: "1Gi" } },
    ],
    [
      '{"limits": {"ephemeral-storage": "1Gi"}}',
      { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi", "ephemeral-storage": "1Gi" } },
    ],
  ])("merges resources %s over the defaults field by field", (raw, resources) => {
    expect(read({ resources: raw }).resources).toEqual(resources);
  });

  it("owns the resources defaults in one place: Pulumi.yaml declares none", () => {
    expect(read({}).resources).toEqual(DEFAULT_RESOURCES);
    const yaml = fs.readFileSync(path.join(__dirname, "../../Pulumi.yaml"), "utf8");
    expect(/\n  resources:\n    type: object\n    default: (.*)\n/.exec(yaml)?.[1]).toBe("{}");
  });

  it.each<[object, string]>([
    [
      { limits: { memory: "1m" } },
      'limits.memory: "1m" is in thousandths of a byte ("m" is milli); write mebibytes as Mi, e.g. 128Mi',
    ],
    [{ requests: { memory: "500m" } }, 'requests.memory: "500m" is in thousandths of a byte'],
    [
      { limits: { memory: "1.5" } },
      'limits.memory: "1.5" is not a whole number of bytes; use a unit, e.g. 1536Ki or 2Mi',
    ],
    [{ limits: { memory: "1.0000001Gi" } }, 'limits.memory: "1.0000001Gi" is not a whole number of bytes'],
    [{ limits: { memory: "1Ki" } }, 'limits.memory: "1Ki" is below 4Mi, too little to start the API; e.g. 128Mi'],
    [{ requests: { memory: "4194303" } }, 'requests.memory: "4194303" is below 4Mi'],
    [{ limits: { memory: "1e9" } }, 'limits.memory: "1e9" is not a quantity such as 128Mi or 1Gi'],
    [{ limits: { "ephemeral-storage": "10m" } }, 'limits.ephemeral-storage: "10m" is in thousandths of a byte'],
    [
      { requests: { cpu: "0.0001" } },
      'requests.cpu: "0.0001" is finer than Kubernetes counts CPU (1m, a thousandth of a core); e.g. 100m',
    ],
    [{ requests: { cpu: "0.5m" } }, 'requests.cpu: "0.5m" is finer than Kubernetes counts CPU'],
    [{ limits: { cpu: "1Gi" } }, 'limits.cpu: "1Gi" is not a CPU quantity: give cores (0.5, 2) or millicores (100m)'],
    [{ limits: { cpu: "2k" } }, 'limits.cpu: "2k" is not a CPU quantity'],
    [
      { requests: { memory: "512Mi" } },
      "requests.memory (512Mi) is above limits.memory (256Mi, the default), which Kubernetes refuses; raise limits.memory: pulumi config set --path 'resources.limits.memory' 512Mi",
    ],
    [
      { requests: { cpu: "2" }, limits: { cpu: "1500m" } },
      "requests.cpu (2) is above limits.cpu (1500m), which Kubernetes refuses; raise limits.cpu: pulumi config set --path 'resources.limits.cpu' 2",
    ],
    [{ limits: { memory: "100Mi" } }, "requests.memory (128Mi, the default) is above limits.memory (100Mi)"],
  ])("refuses the resources %j, naming the field", (resources, message) => {
    expect(() => read({ resources: JSON.stringify(resources) })).toThrow(`config resources: ${message}`);
  });

  it.each<[string, bigint | undefined]>([
    ["100m", 100n],
    ["0.5", 500n],
    ["2", 2000n],
    ["128Mi", 134_217_728_000n],
    ["1.5Ki", 1_536_000n],
    ["1k", 1_000_000n],
    ["1m", 1n],
    ["0.0001", undefined],
    ["1e3", undefined],
    ["-1", undefined],
  ])("quantityMilli(%j) is %s", (value, milli) => {
    expect(quantityMilli(value)).toBe(milli);
  });

  it("checks pasetoKey the API's way: Go's strict standard base64, padded, 32 bytes", () => {
    const key = randomBytes(32);
    const std = key.toString("base64");
    expect(read({ pasetoKey: std }).pasetoKey).toBe(std);
    // Go's decoder skips CR and LF, so the API takes a key with a line break.
    expect(isApiPasetoKey(`${std.slice(0, 20)}\r\n${std.slice(20)}\n`)).toBe(true);
    const urlSafe = Buffer.from(Array.from({ length: 32 }, () => 0xfb)).toString("base64url");
    for (const bad of [
      std.replace(/=$/, ""), // no padding: Node decodes it, Go refuses
      `${urlSafe}=`, // URL-safe alphabet
      ` ${std}`, // a space
      `${std}=`, // extra padding
      randomBytes(31).toString("base64"),
      randomBytes(33).toString("base64"),
      `${std.slice(0, 10)}*${std.slice(11)}`, // Node skips the stray character
    ]) {
      expect(isApiPasetoKey(bad)).toBe(false);
      expect(() => read({ pasetoKey: bad })).toThrow(
        /^config pasetoKey: must be the standard base64 of exactly 32 bytes/,
      );
    }
  });

  it.each([
    ["arigaio/atlas:0.13.1"],
    ["arigaio/atlas:v0.13.1"],
    ["arigaio/atlas:0.13.1-community"],
    [`arigaio/atlas@sha256:${"a".repeat(64)}`],
    [`arigaio/atlas:latest@sha256:${"b".repeat(64)}`],
    ["registry.example:5000/tools/atlas:1.2.3"],
    ["localhost:5000/atlas:1.2.3"],
    ["mirror.example.org/arigaio/atlas:v1.2.3-rc.1"],
    ["arigaio/atlas:1.2.3-community.domain"], // "main" inside a word is not the word
  ])("accepts the pinned atlasImage %s", (ref) => {
    expect(read({ atlasImage: ref }).migration.atlasImage).toBe(ref);
  });

  it.each([
    ["arigaio/atlas", "has no tag"],
    ["arigaio/atlas:latest", 'has the moving tag "latest"'],
    ["arigaio/atlas:latest-extended", 'has the moving tag "latest-extended"'],
    ["arigaio/atlas:0.13", 'has the moving tag "0.13"'],
    ["arigaio/atlas:canary", 'has the moving tag "canary"'],
    ["registry.example:5000/atlas", "has no tag"],
    ["arigaio/atlas:1.2.3-latest", 'has the moving tag "1.2.3-latest"'],
    ["arigaio/atlas:v1.2.3-nightly", 'has the moving tag "v1.2.3-nightly"'],
    ["arigaio/atlas:1.2.3-community-canary", 'has the moving tag "1.2.3-community-canary"'],
    ["arigaio/atlas:1.2.3.main", 'has the moving tag "1.2.3.main"'],
    ["arigaio/atlas:1.2.3_EDGE", 'has the moving tag "1.2.3_EDGE"'],
    ["arigaio/atlas:1.2.3-dev", 'has the moving tag "1.2.3-dev"'],
    ["arigaio/atlas:1.2.3-snapshot", 'has the moving tag "1.2.3-snapshot"'],
    ["arigaio/atlas:latest-1.2.3", 'has the moving tag "latest-1.2.3"'],
    ["arigaio/atlas:main", 'has the moving tag "main"'],
  ])("refuses the moving atlasImage %s", (ref, why) => {
    expect(() => read({ atlasImage: ref })).toThrow(
      `config atlasImage: ${JSON.stringify(ref)} ${why}: the migration Job is re-run only when its spec changes`,
    );
    expect(() => read({ atlasImage: ref })).toThrow(
      "pin a version tag (x.y.z, optionally with a leading v and a suffix such as -community, but no suffix naming " +
        "a moving build: latest, main, master, trunk, head, edge, nightly, ...) or a digest " +
        "(e.g. arigaio/atlas:1.2.3-community or arigaio/atlas@sha256:<64 hex digits>)",
    );
  });

  it("refuses a malformed atlasImage digest", () => {
    expect(() => checkPinnedImage("atlasImage", "arigaio/atlas@sha256:abc")).toThrow(
      'config atlasImage: "arigaio/atlas@sha256:abc": the digest must be sha256:<64 hex digits>',
    );
  });

  it.each([
    ["Arigaio/Atlas:0.13.1"],
    ["arigaio/atlas:0.13.1 "],
    ["atlas:"],
    // Not Docker Hub's arigaio/atlas: the runtime reads an upper-case first part as a registry host.
    ["ARIGAIO/atlas:1.2.3"],
    ["Arigaio/atlas:1.2.3"],
    ["GHCR.io/arigaio/atlas:1.2.3"],
    ["registry..example/atlas:1.2.3"],
  ])("refuses the malformed atlasImage %j", (ref) => {
    expect(() => checkPinnedImage("atlasImage", ref)).toThrow(
      `config atlasImage: ${JSON.stringify(ref)} is not an image reference (e.g. arigaio/atlas:1.2.3-community or arigaio/atlas@sha256:<64 hex digits>)`,
    );
  });

  it.each([["ARIGAIO/api"], ["Italia/developers-italia-api"], ["ghcr.io/Italia/api"], ["-ghcr.io/api"]])(
    "refuses the API image repository %j, which no node could pull",
    (repository) => {
      expect(() => read({ image: repository })).toThrow(
        `config image: ${JSON.stringify(repository)} is not an image repository (lower-case; a registry host needs a dot or a port`,
      );
    },
  );

  it.each<[string, Parameters<typeof instanceLabel>[0], string]>([
    ["a new stack takes its own name", { deployedBefore: false, stack: "prod" }, "prod"],
    [
      "a stack deployed before the label was recorded keeps the one its selector has",
      { deployedBefore: true, stack: "prod" },
      LEGACY_INSTANCE,
    ],
    ["a recorded label stays", { recorded: "prod", deployedBefore: true, stack: "prod" }, "prod"],
    ["config wins", { configured: "api-blue", recorded: "prod", deployedBefore: true, stack: "prod" }, "api-blue"],
  ])("instance label: %s", (_, input, expected) => {
    expect(instanceLabel(input)).toBe(expected);
  });

  it("refuses an instance that is no label value, naming the key", () => {
    expect(() => read({ instance: "-prod" })).toThrow('config instance: "-prod" is not a label value');
    expect(() => instanceLabel({ deployedBefore: false, stack: "a".repeat(64) })).toThrow(
      "config instance: the stack name",
    );
    expect(read({ instance: "prod.eu-1" }).instance).toBe("prod.eu-1");
  });

  it("reads allowDestructiveMigrations as the CLI stores it: a list, or a plain value", () => {
    const a = "20260701000000:0123456789abcdef";
    const b = "20260702000000:fedcba987654";
    const both = [
      { version: "20260701000000", digest: "0123456789abcdef" },
      { version: "20260702000000", digest: "fedcba987654" },
    ];
    expect(readAcknowledgements("allowDestructiveMigrations", JSON.stringify([a, b]))).toEqual(both);
    expect(readAcknowledgements("allowDestructiveMigrations", `${a}, ${b}`)).toEqual(both);
    expect(readAcknowledgements("allowDestructiveMigrations", a)).toEqual([both[0]]);
    expect(read({ allowDestructiveMigrations: JSON.stringify([a]) }).migration.allowDestructive).toEqual([both[0]]);
    // Each class its own key (lib/migration/risk.ts), read the same way, never mixed up.
    const m = read({ allowBreakingMigrations: JSON.stringify([a]), allowLockingMigrations: `${a}, ${b}` }).migration;
    expect([m.allowDestructive, m.allowBreaking, m.allowLocking]).toEqual([[], [both[0]], both]);
    expect(readAcknowledgements("allowDestructiveMigrations", undefined)).toEqual([]);
  });

  it.each([["[20260701000000]"], ['["20260701000000"]'], ["20260701000000"]])(
    "refuses a bare version %s: it would still cover the file after an edit",
    (raw) => {
      expect(() => read({ allowDestructiveMigrations: raw })).toThrow(
        "config allowDestructiveMigrations: entry 0 names version 20260701000000 without its file's content: an " +
          "acknowledgement is <version>:<sha256>, so that an edit after the review needs a new one; " +
          "`npm run migrations:guard -- --all` and the preview print the exact command for each file",
      );
    },
  );

  it.each([
    ["[2026070100000]"],
    ['["20260701000000:abc"]'],
    ['["20260701000000:0123456789AB"]'],
    ["[true]"],
    ['{"a": 1}'],
  ])("refuses allowDestructiveMigrations %s, saying what an entry is", (raw) => {
    expect(() => read({ allowDestructiveMigrations: raw })).toThrow(
      "config allowDestructiveMigrations: entry 0 is not <version>:<sha256 of the file, at least 12 hex digits>",
    );
  });

  it.each([["allowBreakingMigrations"], ["allowLockingMigrations"]])("refuses a bad %s, naming that key", (key) => {
    expect(() => read({ [key]: '["20260701000000"]' })).toThrow(
      `config ${key}: entry 0 names version 20260701000000 without its file's content`,
    );
  });

  describe("databaseCaCert", () => {
    const { dir, cleanup } = certDir();
    afterAll(cleanup);
    const ca = makeCa(dir, "db-ca");

    it("puts sslrootcert on the mounted bundle in the URL both the Job and the API get", () => {
      const s = read({ databaseDsn: "host=db dbname=api user=app sslmode=verify-full", databaseCaCert: ca.certPem });
      expect(s.database.caCert).toBe(ca.certPem.trim() + "\n");
      expect(DATABASE_CA_PATH).toBe("/etc/developers-italia/database-ca/ca.crt");
      expect(s.database.url).toBe(
        "postgres://app@db/api?sslmode=verify-full&sslrootcert=/etc/developers-italia/database-ca/ca.crt",
      );
      // A plain value is fine: a CA certificate is public. Unset (Pulumi.yaml's ""), no sslrootcert.
      expect(read({ databaseCaCert: "" }).database.url).not.toContain("sslrootcert");
    });

    it.each<[Record<string, string>, string]>([
      [
        { databaseCaCert: "/etc/ssl/db.pem" },
        "config databaseCaCert: expected PEM text with one or more -----BEGIN CERTIFICATE----- blocks (this looks like a file path)",
      ],
      [
        { databaseCaCert: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----" },
        "config databaseCaCert: block 1 is a PRIVATE KEY block, not a CERTIFICATE",
      ],
      [{ databaseCaCert: "CA", databaseDsn: "host=db sslmode=disable" }, "config databaseCaCert: expected PEM text"],
      [
        { databaseDsn: "host=db sslrootcert=/etc/ssl/db.pem sslmode=verify-full" },
        "config databaseDsn: sslrootcert names a file on the deploy machine that no pod has: remove it and put the CA certificate (PEM text) in the config key databaseCaCert",
      ],
    ])("refuses %j", (values, message) => {
      expect(() => read(values)).toThrow(ConfigError);
      expect(() => read(values)).toThrow(message);
    });

    it("refuses a CA bundle that sslmode=disable would never use", () => {
      expect(() => read({ databaseDsn: "host=db sslmode=disable", databaseCaCert: ca.certPem })).toThrow(
        "config databaseCaCert: is set but databaseDsn has sslmode=disable, so it would never be used: set sslmode=verify-full in databaseDsn (or verify-ca), or remove databaseCaCert",
      );
    });
  });

  it("refuses a database DSN stored in plain text", () => {
    expect(() => read({}, [])).toThrow(
      "config databaseDsn: is stored in plain text; store it encrypted: pulumi config set --secret databaseDsn '<value>'",
    );
  });

  it.each<[Record<string, string>]>([
    [{ migrationSource: "image" }],
    [{ migrationSource: "image", imageDigest: `sha256:${"a".repeat(64)}` }],
  ])("refuses migrationSource image, saying why and what to use: %j", (values) => {
    expect(() => read(values)).toThrow(
      "config migrationSource: image is not supported: no published developers-italia-api image has a migrate " +
        "subcommand (upstream registers only token; italia/developers-italia-api#312 has not landed), and the plan, " +
        "the destructive-change guard and the baseline check describe this repository's migrations/, not an image's; " +
        "use configmap, the default: pulumi config rm migrationSource",
    );
  });

  it("reads migrationSource configmap, set or defaulted, as the only source", () => {
    expect(read({ migrationSource: "configmap" }).migration).toEqual(read({}).migration);
    expect(read({ migrationSource: "" }).migration).toEqual(read({}).migration);
  });

  it("takes a baseline with any preflight: the plan refuses one it would record unchecked (preflight.test)", () => {
    expect(read({ migrationBaseline: "20260525000000" }).migration.baseline).toBe("20260525000000");
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

  it("writes Pulumi.yaml's defaults for the API's environment, the API's own, into its env (docs/configuration.md)", () => {
    const yaml = fs.readFileSync(path.join(__dirname, "../../Pulumi.yaml"), "utf8");
    const declared = (key: string) =>
      new RegExp(`\\n  ${key}:\\n    type: \\w+\\n    default: (\\S+)\\n`).exec(yaml)?.[1];
    const defaults = Object.fromEntries(
      ["environment", "maxRequests", "webhookDebounceMs", "webhookDebounceMaxMs"].map((k) => [k, declared(k)!]),
    );
    // internal/common/env.go at v1.4.0: MAX_REQUESTS 0, ENVIRONMENT production, 1000 and 10000 ms.
    expect(read(defaults).env).toEqual({
      ENVIRONMENT: "production",
      MAX_REQUESTS: "0",
      WEBHOOK_DEBOUNCE_MS: "1000",
      WEBHOOK_DEBOUNCE_MAX_MS: "10000",
    });
  });

  it("never puts a secret value in an error", () => {
    for (const values of [
      { databaseDsn: "host=db password='s3cret" },
      { databaseDsn: "password=s3cret &3 host=db" },
      { databaseDsn: "postgres://app:s3cret%zz@db/api" },
      { databaseDsn: "postgres://app:s3cret#1@db/api" },
      { pasetoKey: "s3cretvalue" },
    ] as Record<string, string>[]) {
      expect(() => read(values)).toThrow(ConfigError);
      try {
        read(values);
      } catch (err) {
        expect((err as Error).message).not.toContain("s3cret");
      }
    }
  });

  it("reads promoteFrom: unset by default, a stack name, or refused with the key named", () => {
    expect(read({}).promoteFrom).toBeUndefined();
    expect(read({ promoteFrom: "staging" }).promoteFrom).toBe("staging");
    expect(read({ promoteFrom: "acme/developers-italia-api/staging" }).promoteFrom).toBe(
      "acme/developers-italia-api/staging",
    );
    expect(() => read({ promoteFrom: "staging prod" })).toThrow(
      'config promoteFrom: expected a stack name such as staging (or <organization>/<project>/<stack>), got "staging prod"',
    );
  });
});

describe("the Atlas image", () => {
  it("Pulumi.yaml declares the program's default", () => {
    const yaml = fs.readFileSync(path.join(__dirname, "../../Pulumi.yaml"), "utf8");
    expect(/\n  atlasImage:\n    type: string\n    default: (\S+)\n/.exec(yaml)?.[1]).toBe(ATLAS_IMAGE);
  });

  it("the local stack runs the test bed's Atlas, the release tools/versions.env builds", () => {
    const local = fs.readFileSync(path.join(__dirname, "../../Pulumi.local.yaml"), "utf8");
    expect(/developers-italia-api:atlasImage: (\S+)/.exec(local)?.[1]).toBe(testbedAtlasImage());
  });
});
