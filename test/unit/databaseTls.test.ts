import { X509Certificate } from "crypto";
import * as fs from "fs";
import type { PeerCertificate } from "tls";
import { CaBundleError, parseCaBundle, pgTlsOptions } from "../../lib/database/tls";
import { pgConnectionConfig } from "../../lib/database/state";
import { dsnToUrl } from "../../lib/database/dsn";
import { certDir, makeCa, makeServerCert } from "../support/certs";

const { dir, cleanup } = certDir();
afterAll(cleanup);
const ca = makeCa(dir, "ca");
const other = makeCa(dir, "other");

describe("parseCaBundle", () => {
  it("accepts one certificate or a bundle, with text between blocks, and normalizes it", () => {
    expect(parseCaBundle(ca.certPem)).toBe(ca.certPem.trim() + "\n");
    const bundle = `subject=CN = ca\n${ca.certPem}\n# second\n${other.certPem}`;
    expect(parseCaBundle(bundle)).toBe(`${ca.certPem.trim()}\n${other.certPem.trim()}\n`);
  });

  it.each([
    ["", "expected PEM text with one or more -----BEGIN CERTIFICATE----- blocks"],
    [
      "/etc/ssl/db-ca.pem",
      "expected PEM text with one or more -----BEGIN CERTIFICATE----- blocks (this looks like a file path)",
    ],
    [
      "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----",
      "certificate 1 does not parse as an X.509 certificate",
    ],
  ])("refuses %j", (text, message) => {
    expect(() => parseCaBundle(text)).toThrow(CaBundleError);
    expect(() => parseCaBundle(text)).toThrow(message);
  });

  it("refuses a private key without quoting it", () => {
    const key = fs.readFileSync(ca.keyFile, "utf8");
    let message = "";
    try {
      parseCaBundle(`${ca.certPem}\n${key}`);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe(
      "block 2 is a PRIVATE KEY block, not a CERTIFICATE: give only the CA certificates (a CA certificate is public; never put a private key here)",
    );
    const body = key.split("\n")[1];
    expect(message).not.toContain(body.slice(0, 8));
  });
});

/** What the Go drivers look at: the certificate's names. */
const peer = (subjectaltname: string | undefined, cn = "db"): PeerCertificate =>
  ({ subject: { CN: cn }, subjectaltname }) as unknown as PeerCertificate;

describe("pgTlsOptions: lib/pq's sslmode semantics, not pg-connection-string's", () => {
  it("disable: no TLS; require without a CA: TLS without verification", () => {
    expect(pgTlsOptions({ sslmode: "disable", host: "db" })).toBe(false);
    expect(pgTlsOptions({ sslmode: "require", host: "db" })).toEqual({ rejectUnauthorized: false });
  });

  it("require with a CA bundle verifies like verify-ca (libpq's rule, which lib/pq keeps)", () => {
    const options = pgTlsOptions({ sslmode: "require", host: "10.0.0.5", ca: ca.certPem });
    expect(options).toMatchObject({ rejectUnauthorized: true, ca: ca.certPem });
  });

  it("verify-ca: the chain only, by name or IP address (lib/pq 1.11+ and pgx check no host name)", () => {
    for (const host of ["10.0.0.5", "db.internal"]) {
      const options = pgTlsOptions({ sslmode: "verify-ca", host, ca: ca.certPem });
      if (!options) throw new Error("expected TLS options");
      expect(options.rejectUnauthorized).toBe(true);
      expect(options.checkServerIdentity!(host, peer("DNS:elsewhere"))).toBeUndefined();
    }
  });

  it.each(["require", "verify-ca", "verify-full"] as const)("%s on a unix socket: no TLS, as both drivers", (mode) => {
    expect(pgTlsOptions({ sslmode: mode, host: "/var/run/postgresql", ca: ca.certPem })).toBe(false);
  });

  it("verify-full: names from the subject alternative names only, as Go does (no Common Name fallback)", () => {
    const options = pgTlsOptions({ sslmode: "verify-full", host: "db.internal", ca: ca.certPem });
    if (!options) throw new Error("expected TLS options");
    const check = options.checkServerIdentity!;
    expect(check("db.internal", peer("DNS:db.internal, IP Address:10.0.0.5"))).toBeUndefined();
    expect(check("db.internal", peer("DNS:other.internal"))?.message).toMatch(/does not match certificate's altnames/);
    expect(check("db.internal", peer(undefined, "db.internal"))?.message).toMatch(
      /^x509: certificate relies on legacy Common Name field/,
    );
    const byIp = pgTlsOptions({ sslmode: "verify-full", host: "10.0.0.5", ca: ca.certPem });
    if (!byIp) throw new Error("expected TLS options");
    expect(byIp.checkServerIdentity!("10.0.0.5", peer("IP Address:10.0.0.5"))).toBeUndefined();
    expect(byIp.checkServerIdentity!("10.0.0.5", peer("DNS:10.0.0.5"))?.message).toMatch(
      /does not match certificate's altnames/,
    );
  });

  it("verify-ca and verify-full without a CA bundle use the system's roots, as Go does", () => {
    const options = pgTlsOptions({ sslmode: "verify-full", host: "db" });
    if (!options) throw new Error("expected TLS options");
    expect(Array.isArray(options.ca) && options.ca.length).toBeGreaterThan(0);
    expect(options.ca).not.toContain(ca.certPem);
  });

  it("a real server certificate: what openssl made is read as Go reads it", () => {
    const server = makeServerCert(dir, ca, "server", "db.internal", "DNS:db.internal");
    const cert = new X509Certificate(fs.readFileSync(server.certFile));
    const options = pgTlsOptions({ sslmode: "verify-full", host: "db.internal", ca: ca.certPem });
    if (!options) throw new Error("expected TLS options");
    expect(options.checkServerIdentity!("db.internal", peer(cert.subjectAltName))).toBeUndefined();
    expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
  });
});

describe("pgConnectionConfig", () => {
  it("gives node-postgres the fields, never the connection string", () => {
    const url = dsnToUrl("host=db port=6432 dbname=api user=app password='p w' sslmode=require options='-c x=y'");
    const config = pgConnectionConfig(url, { connectTimeoutMs: 1000 });
    expect(config).toEqual({
      host: "db",
      port: 6432,
      database: "api",
      user: "app",
      password: "p w",
      ssl: { rejectUnauthorized: false },
      options: "-c x=y",
      connectionTimeoutMillis: 1000,
      application_name: "developers-italia-deploy-preflight",
    });
    expect(config).not.toHaveProperty("connectionString");
  });

  it("uses the CA bundle the pods get instead of reading their mount path here", () => {
    const url = dsnToUrl("host=db sslmode=verify-full", { sslrootcert: "/etc/pods-only/ca.crt" });
    expect(pgConnectionConfig(url, { ca: ca.certPem }).ssl).toMatchObject({ ca: ca.certPem });
    expect(() => pgConnectionConfig(url)).toThrow("names a CA bundle (sslrootcert) but the preflight was not given it");
  });
});
