import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { readSpec } from "../../lib/config/readSpec";
import { ConfigError } from "../../lib/config/source";
import { isCidr, isHostName, prometheusDurationMs } from "../../lib/config/read";
import { allowedDisruptions } from "../../lib/config/scaling";

/** The chart's values as stack config (issue 11): defaults, decisions and refusals. */

const DSN = "host=db port=5432 dbname=api user=app password=s3cret sslmode=disable";

function source(values: Record<string, unknown>, secrets = ["databaseDsn", "pasetoKey"]) {
  const text = (v: unknown) => (v === undefined ? undefined : typeof v === "string" ? v : JSON.stringify(v));
  return { get: (k: string) => text(values[k]), isSecret: (k: string) => secrets.includes(k) };
}
const read = (values: Record<string, unknown>) => readSpec(source({ databaseDsn: DSN, ...values }));
const refusal = (values: Record<string, unknown>) => {
  try {
    readSpec(source(values));
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("accepted");
};

describe("chart values: defaults", () => {
  it("match the chart where it is safe, and add a PDB only when two pods always run", () => {
    const s = read({});
    expect(s.exposure.service).toEqual({ type: "ClusterIP", port: 80, annotations: {} });
    expect(s.exposure.ingress.enabled).toBe(false);
    expect(s.exposure.serviceMonitor.enabled).toBe(false);
    expect(s.scaling).toEqual({ replicas: 2, podDisruptionBudget: { maxUnavailable: 1 } });
    expect(read({ replicas: "1" }).scaling).toEqual({ replicas: 1, podDisruptionBudget: undefined });
    expect(s.workload.serviceAccount).toEqual({ create: true, annotations: {}, name: "", automountToken: false });
    expect(s.scheduling).toEqual({
      imagePullPolicy: "IfNotPresent",
      imagePullSecrets: [],
      nodeSelector: {},
      tolerations: [],
      affinity: undefined,
      topologySpreadConstraints: [],
      priorityClassName: undefined,
    });
    expect(s.networkPolicy.enabled).toBe(false);
    expect(s.database.existingSecret).toBeUndefined();
  });

  it("every key Pulumi.yaml declares has a default (the CLI refuses a stack missing one), and they all read", () => {
    const declared = parseYaml(fs.readFileSync(path.join(__dirname, "../../Pulumi.yaml"), "utf8")).config as Record<
      string,
      { default?: unknown }
    >;
    expect(
      Object.entries(declared)
        .filter(([, v]) => !("default" in v))
        .map(([k]) => k),
    ).toEqual([]);
    const asArrives = Object.fromEntries(
      Object.entries(declared).map(([k, v]) => [
        k,
        typeof v.default === "string" ? v.default : JSON.stringify(v.default),
      ]),
    );
    expect(read({ ...asArrives, databaseDsn: DSN }).scaling.replicas).toBe(2);
  });

  it("owns every default in the program: Pulumi.yaml's, as the engine passes them, give the spec of an empty config", () => {
    const declared = parseYaml(fs.readFileSync(path.join(__dirname, "../../Pulumi.yaml"), "utf8")).config as Record<
      string,
      { default: unknown }
    >;
    const asArrives = Object.fromEntries(
      Object.entries(declared).map(([k, v]) => [
        k,
        typeof v.default === "string" ? v.default : JSON.stringify(v.default),
      ]),
    );
    expect(read({ ...asArrives, databaseDsn: DSN })).toEqual(read({}));
  });

  it("reads the defaults Pulumi.yaml declares as they arrive (JSON text) without complaint", () => {
    const s = read({
      podDisruptionBudget: "{}",
      networkPolicy: '{"enabled":false}',
      autoscaling: '{"enabled":false,"minReplicas":1,"maxReplicas":100}',
      imagePullSecrets: "[]",
      priorityClassName: "",
      useExistingSecret: "",
    });
    expect(s.scaling.replicas).toBe(2);
  });
});

describe("chart values: autoscaling and replicas", () => {
  it("leaves replicas to the HPA, with the chart's 80% CPU target when none is given", () => {
    const s = read({ autoscaling: { enabled: true, minReplicas: 2, maxReplicas: 5 } });
    expect(s.scaling.replicas).toBeUndefined();
    expect(s.scaling.autoscaling).toEqual({
      minReplicas: 2,
      maxReplicas: 5,
      targetCPUUtilizationPercentage: 80,
      targetMemoryUtilizationPercentage: undefined,
    });
    expect(s.scaling.podDisruptionBudget).toEqual({ maxUnavailable: 1 });
  });

  it("keeps a memory-only target as given, and no PDB when the HPA may go down to one pod", () => {
    const s = read({ autoscaling: { enabled: true, minReplicas: 1, targetMemoryUtilizationPercentage: 70 } });
    expect(s.scaling.autoscaling?.targetCPUUtilizationPercentage).toBeUndefined();
    expect(s.scaling.autoscaling?.targetMemoryUtilizationPercentage).toBe(70);
    expect(s.scaling.podDisruptionBudget).toBeUndefined();
  });

  it("honours an explicit budget", () => {
    expect(read({ podDisruptionBudget: { minAvailable: "50%" } }).scaling.podDisruptionBudget).toEqual({
      minAvailable: "50%",
    });
    expect(read({ podDisruptionBudget: { enabled: false } }).scaling.podDisruptionBudget).toBeUndefined();
  });
});

describe("chart values: a budget that blocks every drain is refused", () => {
  const drain = "lets no pod be evicted, so every node drain would block";
  const maxFix =
    "set podDisruptionBudget.maxUnavailable to 1 (or a percentage above 0%), or set podDisruptionBudget.enabled to false";
  it.each<[Record<string, unknown>, string]>([
    [{ podDisruptionBudget: { maxUnavailable: 0 } }, `maxUnavailable: 0 ${drain}; ${maxFix}`],
    [{ podDisruptionBudget: { maxUnavailable: "0%" } }, `maxUnavailable: "0%" ${drain}; ${maxFix}`],
    [
      { podDisruptionBudget: { minAvailable: 2 } },
      `minAvailable: 2 with 2 replicas (replicas) ${drain}; set podDisruptionBudget.minAvailable below 2, or use podDisruptionBudget.maxUnavailable: 1`,
    ],
    [
      { replicas: "3", podDisruptionBudget: { minAvailable: 5 } },
      `minAvailable: 5 with 3 replicas (replicas) ${drain}; set podDisruptionBudget.minAvailable below 3, or use podDisruptionBudget.maxUnavailable: 1`,
    ],
    [
      { podDisruptionBudget: { minAvailable: "100%" }, replicas: "10" },
      `minAvailable: "100%" (10 of 10, rounded up) with 10 replicas (replicas) ${drain}; set podDisruptionBudget.minAvailable below 10, or use podDisruptionBudget.maxUnavailable: 1`,
    ],
    [
      { podDisruptionBudget: { minAvailable: "60%" } },
      `minAvailable: "60%" (2 of 2, rounded up) with 2 replicas (replicas) ${drain}; set podDisruptionBudget.minAvailable below 2, or use podDisruptionBudget.maxUnavailable: 1`,
    ],
    [
      { autoscaling: { enabled: true, minReplicas: 3, maxReplicas: 10 }, podDisruptionBudget: { minAvailable: 3 } },
      `minAvailable: 3 with 3 replicas (autoscaling.minReplicas) ${drain}; set podDisruptionBudget.minAvailable below 3, or use podDisruptionBudget.maxUnavailable: 1`,
    ],
    [
      { replicas: "1", podDisruptionBudget: { enabled: true, minAvailable: 1 } },
      `minAvailable: 1 with 1 replica (replicas) ${drain}; set podDisruptionBudget.minAvailable below 1, or use podDisruptionBudget.maxUnavailable: 1, or raise the replicas to 2 or more`,
    ],
  ])("%j", (values, message) => {
    expect(refusal({ databaseDsn: DSN, ...values })).toBe(`config podDisruptionBudget: ${message}`);
  });

  it.each<[unknown]>([["150%"], ["101%"], ["1000%"], ["-1%"], ["50"]])("refuses the percentage %j", (value) => {
    for (const field of ["minAvailable", "maxUnavailable"]) {
      expect(refusal({ databaseDsn: DSN, podDisruptionBudget: { [field]: value } })).toBe(
        `config podDisruptionBudget: ${field}: expected a count or a percentage from 0% to 100% ` +
          `(set it with: pulumi config set --path 'podDisruptionBudget.${field}' <value>)`,
      );
    }
  });

  it.each<[Record<string, unknown>, object | undefined]>([
    [{ podDisruptionBudget: { maxUnavailable: "1%" } }, { maxUnavailable: "1%" }],
    [{ podDisruptionBudget: { maxUnavailable: "100%" } }, { maxUnavailable: "100%" }],
    [{ podDisruptionBudget: { minAvailable: 1 } }, { minAvailable: 1 }],
    [{ podDisruptionBudget: { minAvailable: "50%" } }, { minAvailable: "50%" }],
    [{ podDisruptionBudget: { minAvailable: 0 } }, { minAvailable: 0 }],
    [{ replicas: "10", podDisruptionBudget: { minAvailable: "90%" } }, { minAvailable: "90%" }],
    [{ replicas: "1", podDisruptionBudget: { enabled: true } }, { maxUnavailable: 1 }],
    // A budget is not checked, nor created, where it is off.
    [{ replicas: "1", podDisruptionBudget: { minAvailable: 1 } }, undefined],
    [{ podDisruptionBudget: { enabled: false, maxUnavailable: 0 } }, undefined],
  ])("accepts %j", (values, budget) => {
    expect(read(values).scaling.podDisruptionBudget).toEqual(budget);
  });

  it.each<[number | string, number, number]>([
    [1, 2, 1],
    ["50%", 3, 2],
    ["1%", 200, 2],
    ["0%", 5, 0],
  ])("allowedDisruptions: maxUnavailable %j of %d pods is %d", (maxUnavailable, pods, allowed) => {
    expect(allowedDisruptions({ maxUnavailable }, pods)).toBe(allowed);
  });
  it.each<[number | string, number, number]>([
    [1, 2, 1],
    [3, 2, 0],
    ["50%", 3, 1],
    ["50%", 4, 2],
    ["100%", 7, 0],
  ])("allowedDisruptions: minAvailable %j of %d pods is %d", (minAvailable, pods, allowed) => {
    expect(allowedDisruptions({ minAvailable }, pods)).toBe(allowed);
  });
});

describe("serviceMonitor durations: what Prometheus takes", () => {
  it.each<[string, bigint | undefined]>([
    ["0", 0n],
    ["30s", 30_000n],
    ["1m30s", 90_000n],
    ["1h", 3_600_000n],
    ["500ms", 500n],
    ["1y2w3d", 31_536_000_000n + 2n * 604_800_000n + 3n * 86_400_000n],
    ["30s1m", undefined],
    ["1m1m", undefined],
    ["1.5s", undefined],
    ["30", undefined],
    ["", undefined],
    ["-1s", undefined],
  ])("prometheusDurationMs(%j) is %s", (text, ms) => {
    expect(prometheusDurationMs(text)).toBe(ms);
  });

  it.each<[Record<string, string>, string]>([
    [{ interval: "30s1m" }, "interval: expected a Prometheus duration such as 30s or 1m"],
    [
      { interval: "293y" },
      "interval: is longer than Prometheus can hold (292 years); use a duration such as 30s or 1m",
    ],
    [{ scrapeTimeout: "106752d" }, "scrapeTimeout: is longer than Prometheus can hold (292 years)"],
    [
      { interval: "30s", scrapeTimeout: "1m" },
      "scrapeTimeout: scrapeTimeout must not be longer than interval (Prometheus refuses it) (set it with: pulumi config set --path 'serviceMonitor.scrapeTimeout' <value>)",
    ],
  ])("refuses %j", (monitor, message) => {
    expect(refusal({ databaseDsn: DSN, serviceMonitor: { enabled: true, ...monitor } })).toContain(
      `config serviceMonitor: ${message}`,
    );
  });

  it("accepts the longest one and a timeout equal to the interval", () => {
    const m = read({ serviceMonitor: { enabled: true, interval: "292y", scrapeTimeout: "292y" } }).exposure
      .serviceMonitor;
    expect([m.interval, m.scrapeTimeout]).toEqual(["292y", "292y"]);
    expect(
      read({ serviceMonitor: { interval: "1m", scrapeTimeout: "1m" } }).exposure.serviceMonitor.scrapeTimeout,
    ).toBe("1m");
  });
});

describe("chart values: replicas 0, as the chart allows", () => {
  it("runs no pods and adds no budget, even an enabled one (nothing to protect, nothing to block)", () => {
    expect(read({ replicas: "0" }).scaling).toEqual({ replicas: 0, podDisruptionBudget: undefined });
    expect(read({ replicas: "0", podDisruptionBudget: { enabled: true, minAvailable: 2 } }).scaling).toEqual({
      replicas: 0,
      podDisruptionBudget: undefined,
    });
  });

  it("is refused with autoscaling on: the HPA would keep its minReplicas", () => {
    expect(refusal({ databaseDsn: DSN, replicas: "0", autoscaling: { enabled: true } })).toBe(
      "config replicas: is 0 while autoscaling.enabled is true, and the HPA keeps at least autoscaling.minReplicas " +
        "(1 or more) pods; to stop the API set autoscaling.enabled to false, or remove replicas to let the HPA count",
    );
  });
});

describe("chart values: refusals name the key and say what to do", () => {
  it.each<[Record<string, unknown>, string]>([
    [
      { autoscaling: { enabled: true, minReplicas: 5, maxReplicas: 2 } },
      "config autoscaling: minReplicas: minReplicas must not exceed maxReplicas (set it with: pulumi config set --path 'autoscaling.minReplicas' <value>)",
    ],
    [
      { autoscaling: { enabled: true, maxReplica: 3 } },
      "config autoscaling: Unrecognized key: \"maxReplica\" (set it with: pulumi config set --path 'autoscaling' <value>)",
    ],
    [
      { podDisruptionBudget: { minAvailable: 1, maxUnavailable: 1 } },
      "config podDisruptionBudget: minAvailable: set minAvailable or maxUnavailable, not both (set it with: pulumi config set --path 'podDisruptionBudget.minAvailable' <value>)",
    ],
    [
      { ingress: { enabled: true } },
      "config ingress: hosts: enabled needs at least one entry in hosts (e.g. {host: api.example.org, paths: [{path: /}]}) (set it with: pulumi config set --path 'ingress.hosts' <value>)",
    ],
    [
      { ingress: { enabled: true, hosts: [{ host: "API.example.org" }] } },
      "config ingress: hosts[0].host: is not a valid host name (lower-case labels of 1-63 letters, digits and inner '-', joined by single dots, at most 253 characters, optional leading *.; not an IP address) (set it with: pulumi config set --path 'ingress.hosts[0].host' <value>)",
    ],
    [
      {
        ingress: {
          enabled: true,
          hosts: [{ host: "a.example.org" }],
          tls: [{ secretName: "t", hosts: ["b.example.org"] }],
        },
      },
      "config ingress: tls: every tls host must also be in hosts (set it with: pulumi config set --path 'ingress.tls' <value>)",
    ],
    [
      { service: { type: "ExternalName" } },
      'config service: type: Invalid option: expected one of "ClusterIP"|"NodePort"|"LoadBalancer" (set it with: pulumi config set --path \'service.type\' <value>)',
    ],
    [
      { serviceMonitor: { enabled: true, interval: "30 seconds" } },
      "config serviceMonitor: interval: expected a Prometheus duration such as 30s or 1m (units y, w, d, h, m, s, ms, each once, in that order) (set it with: pulumi config set --path 'serviceMonitor.interval' <value>)",
    ],
    [
      { serviceAccount: { create: false } },
      "config serviceAccount: create is false but no name is given: set serviceAccount.name to the existing account the API runs as, or set serviceAccount.create to true",
    ],
    [
      { podAnnotations: { "deploy.developers.italia.it/migration-job": "x" } },
      "config podAnnotations: deploy.developers.italia.it/migration-job is set by the migration gate; remove it",
    ],
    [
      { labels: { "app.kubernetes.io/name": "other" } },
      "config labels: app.kubernetes.io/name is set by this program (it selects the API's pods); remove it",
    ],
    [
      {
        extraVolumes: [{ name: "certs", secret: { secretName: "c" } }],
        extraVolumeMounts: [{ name: "cert", mountPath: "/c" }],
      },
      'config extraVolumeMounts: mounts "cert", which is not in extraVolumes; add the volume or fix the name',
    ],
    [
      { affinity: { nodeAfinity: {} } },
      "config affinity: Unrecognized key: \"nodeAfinity\" (set it with: pulumi config set --path 'affinity' <value>)",
    ],
    [
      { tolerations: [{ key: "k", effect: "NoRun" }] },
      'config tolerations: [0].effect: Invalid option: expected one of "NoSchedule"|"PreferNoSchedule"|"NoExecute" (set it with: pulumi config set --path \'tolerations[0].effect\' <value>)',
    ],
    [
      { networkPolicy: { enabled: true } },
      "config networkPolicy: enabled without a database destination: the API and the migration Job could not reach PostgreSQL; set networkPolicy.database.cidrs (e.g. [10.1.2.3/32]) or networkPolicy.database.peers",
    ],
    [
      { networkPolicy: { enabled: true, database: { cidrs: ["10.1.2.3"] } } },
      "config networkPolicy: database.cidrs[0]: expected a CIDR such as 10.0.0.0/16 or 2001:db8::/32 (address octets up to 255, prefix up to 32 or 128) (set it with: pulumi config set --path 'networkPolicy.database.cidrs[0]' <value>)",
    ],
  ])("%j", (values, message) => {
    expect(refusal({ databaseDsn: DSN, ...values })).toBe(message);
  });
});

describe("useExistingSecret", () => {
  it("needs no databaseDsn, and plans offline", () => {
    const s = readSpec(source({ useExistingSecret: "api-db", pasetoKey: "" }));
    expect(s.database.existingSecret).toBe("api-db");
    expect(s.database.url).toBeUndefined();
    expect(s.pasetoKey).toBeUndefined();
    expect(s.migration.preflight).toBe("offline");
  });

  it.each<[Record<string, unknown>, string]>([
    [
      { useExistingSecret: "api-db", databaseDsn: DSN },
      "config databaseDsn: is set while useExistingSecret names the Secret api-db, which must hold it (key databaseDSN); remove it with: pulumi config rm databaseDsn",
    ],
    [
      { useExistingSecret: "api-db", pasetoKey: Buffer.alloc(32).toString("base64") },
      "config pasetoKey: is set while useExistingSecret names the Secret api-db, which must hold it (key pasetoKey); remove it with: pulumi config rm pasetoKey",
    ],
    [
      { useExistingSecret: "api-db", migrationPreflight: "online" },
      "config migrationPreflight: online with useExistingSecret (api-db) needs existingSecretDatabase, the database that Secret's URL names (no credentials), so the preflight can check that the URL it is given reads that database: pulumi config set --plaintext existingSecretDatabase postgres://<host>:<port>/<database>; or use offline (plan from this stack's last applied version) or off",
    ],
    [{ useExistingSecret: "API_DB" }, 'config useExistingSecret: "API_DB" is not a valid Secret name'],
    [
      { existingSecretDatabase: "postgres://db:5432/api", databaseDsn: DSN },
      "config existingSecretDatabase: is set without useExistingSecret: databaseDsn names the database then; remove it with: pulumi config rm existingSecretDatabase",
    ],
    ...[
      ["db:5432/api", "is not a postgres:// URL"],
      ["postgres://app:s3cret@db:5432/api", "holds a user or a password, which it must not"],
      ["postgres://db:5432", "names no database"],
      [
        "postgres://db:5432/api?sslmode=disable&connect_timeout=3&application_name=x",
        "has connect_timeout, application_name: only host, port, database and search_path name it",
      ],
      ["postgres://db:99999/api", "port is not a TCP port number (1 to 65535)"],
    ].map(([address, why]): [Record<string, unknown>, string] => [
      { useExistingSecret: "api-db", existingSecretDatabase: address },
      `config existingSecretDatabase: ${why}; give the database the Secret api-db names, without credentials: ` +
        "pulumi config set --plaintext existingSecretDatabase postgres://<host>:<port>/<database>",
    ]),
  ])("refuses %j", (values, message) => {
    expect(refusal(values)).toBe(message);
  });

  it("never quotes the DSN it refuses", () => {
    expect(refusal({ useExistingSecret: "api-db", databaseDsn: DSN })).not.toContain("s3cret");
    expect(
      refusal({ useExistingSecret: "api-db", existingSecretDatabase: "postgres://app:s3cret@db:5432/api" }),
    ).not.toContain("s3cret");
  });

  it("plans online with existingSecretDatabase, kept in the form its identity is computed from", () => {
    const s = readSpec(
      source({
        useExistingSecret: "api-db",
        existingSecretDatabase: " postgresql://DB.example.org/api?search_path=app ",
        migrationPreflight: "online",
      }),
    );
    expect(s.migration.preflight).toBe("online");
    expect(s.database).toEqual({ existingSecret: "api-db", address: "postgres://DB.example.org/api?search_path=app" });
  });

  it("still requires databaseDsn without it", () => {
    expect(refusal({})).toBe("config databaseDsn: is required: pulumi config set --secret databaseDsn '<value>'");
  });
});

describe("scheduling values", () => {
  it("reads imagePullSecrets as names and a priorityClassName", () => {
    const s = read({ imagePullSecrets: ["ghcr", "other"], priorityClassName: "api-high" });
    expect(s.scheduling.imagePullSecrets).toEqual(["ghcr", "other"]);
    expect(s.scheduling.priorityClassName).toBe("api-high");
  });
});

describe("host names and CIDRs: what the API server and DNS take", () => {
  const long = (n: number) => "a".repeat(n);
  it.each<[string, boolean]>([
    ["api.example.org", true],
    ["*.example.org", true],
    ["localhost", true],
    ["x-1.example.org", true],
    [`${long(63)}.example.org`, true],
    [`${[long(63), long(63), long(63), long(61)].join(".")}`, true], // 253
    ["a..b", false],
    [".example.org", false],
    ["example.org.", false],
    ["-api.example.org", false],
    ["api-.example.org", false],
    ["api.-x.org", false],
    [`${long(64)}.example.org`, false],
    [`${[long(63), long(63), long(63), long(62)].join(".")}`, false], // 254
    ["*", false],
    ["*.*.example.org", false],
    ["api.*.example.org", false],
    ["API.example.org", false],
    ["api_1.example.org", false],
    ["10.1.2.3", false],
    ["", false],
  ])("host %j: %s", (host, valid) => {
    expect(isHostName(host)).toBe(valid);
    const ingress = { enabled: true, hosts: [{ host }], tls: [{ secretName: "api-tls", hosts: [host] }] };
    if (valid) expect(read({ ingress }).exposure.ingress.hosts[0].host).toBe(host);
    else
      expect(refusal({ databaseDsn: DSN, ingress })).toMatch(
        /^config ingress: hosts\[0\]\.host: is not a valid host name/,
      );
  });

  it.each<[string, boolean]>([
    ["10.0.0.0/8", true],
    ["10.1.2.3/32", true],
    ["0.0.0.0/0", true],
    ["255.255.255.255/32", true],
    ["2001:db8::/32", true],
    ["::1/128", true],
    ["::ffff:10.0.0.0/104", true],
    ["999.1.1.1/99", false],
    ["256.0.0.0/8", false],
    ["10.0.0.0/33", false],
    ["10.0.0/8", false],
    ["010.0.0.0/8", false],
    ["10.0.0.0/08", false],
    ["10.0.0.0", false],
    ["10.0.0.0/8/8", false],
    ["2001:db8::/129", false],
    ["1::2::3/64", false],
    ["fe80::1%eth0/64", false],
    ["2001:db8::/ 32", false],
  ])("CIDR %j: %s", (cidr, valid) => {
    expect(isCidr(cidr)).toBe(valid);
    const networkPolicy = { enabled: true, database: { cidrs: [cidr] } };
    if (valid) expect(read({ networkPolicy }).networkPolicy.database.cidrs).toEqual([cidr]);
    else
      expect(refusal({ databaseDsn: DSN, networkPolicy })).toMatch(
        /^config networkPolicy: database\.cidrs\[0\]: expected a CIDR/,
      );
  });

  it("refuses a /0 webhook exception, which would block every webhook", () => {
    expect(refusal({ databaseDsn: DSN, networkPolicy: { webhookExceptCidrs: ["0.0.0.0/0"] } })).toBe(
      "config networkPolicy: webhookExceptCidrs[0]: a /0 range blocks every webhook: set networkPolicy.webhooks to false " +
        "(set it with: pulumi config set --path 'networkPolicy.webhookExceptCidrs[0]' <value>)",
    );
  });

  it.each([["a..b"], ["-secret"], ["secret-"], ["a.-b"], [`${"a".repeat(254)}`]])(
    "refuses the object name %j where Kubernetes would (useExistingSecret, ingress.tls[].secretName)",
    (name) => {
      expect(refusal({ useExistingSecret: name })).toBe(
        `config useExistingSecret: ${JSON.stringify(name)} is not a valid Secret name`,
      );
      const ingress = {
        enabled: true,
        hosts: [{ host: "api.example.org" }],
        tls: [{ secretName: name, hosts: ["api.example.org"] }],
      };
      expect(refusal({ databaseDsn: DSN, ingress })).toMatch(
        /^config ingress: tls\[0\]\.secretName: is not a valid Kubernetes object name/,
      );
    },
  );
});
