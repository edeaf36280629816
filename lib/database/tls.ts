import { X509Certificate } from "crypto";
import * as tls from "tls";
import type { SslMode } from "./dsn";

/**
 * TLS towards PostgreSQL with the semantics of the drivers that really connect: the lib/pq
 * that production's Atlas image links (v1.12.0, in arigaio/atlas:1.2.3-community) and the
 * API's pgx, instead of node-postgres's aliases (pg-connection-string turns `require` into
 * full verification). test/integration/databaseTls.test.ts runs both drivers as the oracle.
 *
 * Per sslmode:
 * - `disable`: no TLS.
 * - `require`: TLS without verification; with an sslrootcert file, as `verify-ca`.
 * - `verify-ca`: the chain must lead to the CA bundle (the system's roots without one); the
 *   host name is not checked (lib/pq 1.10 did check a name host; 1.11 and pgx do not).
 * - `verify-full`: the chain and the host name (Go: subject alternative names only, never
 *   the legacy Common Name).
 * A unix socket never carries TLS: both drivers connect in plain text there, whatever sslmode.
 */

/** Where the CA bundle is mounted, read-only, in the migration Job and in the API container. */
export const DATABASE_CA_DIR = "/etc/developers-italia/database-ca";
export const DATABASE_CA_FILE = "ca.crt";
export const DATABASE_CA_PATH = `${DATABASE_CA_DIR}/${DATABASE_CA_FILE}`;

export class CaBundleError extends Error {}

/**
 * The CA bundle as normalized PEM: one or more X.509 certificates and nothing else (a
 * private key pasted by mistake is refused without being quoted).
 */
export function parseCaBundle(text: string): string {
  const trimmed = text.trim();
  const blocks = [...trimmed.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g)];
  if (blocks.length === 0) {
    const hint = /^[~./]|^[A-Za-z]:\\/.test(trimmed) && !trimmed.includes("\n") ? " (this looks like a file path)" : "";
    throw new CaBundleError(
      `expected PEM text with one or more -----BEGIN CERTIFICATE----- blocks${hint}; ` +
        `set it from the file: pulumi config set databaseCaCert -- "$(cat ca.pem)"`,
    );
  }
  const certificates = blocks.map(([block, label, , endLabel], index) => {
    if (label !== "CERTIFICATE" || endLabel !== "CERTIFICATE") {
      throw new CaBundleError(
        `block ${index + 1} is a ${label === endLabel ? label : "mismatched"} block, not a CERTIFICATE: ` +
          "give only the CA certificates (a CA certificate is public; never put a private key here)",
      );
    }
    try {
      return new X509Certificate(block).toString().trim();
    } catch {
      throw new CaBundleError(`certificate ${index + 1} does not parse as an X.509 certificate`);
    }
  });
  return `${certificates.join("\n")}\n`;
}

/** The CA roots the deploy machine trusts, as Go reads the system's roots. */
function systemRoots(): string[] {
  const get = (tls as unknown as { getCACertificates?: (type: string) => string[] }).getCACertificates;
  return get ? get("system") : [...tls.rootCertificates];
}

/** Go's x509 host name check: subject alternative names only, never the Common Name. */
function goHostnameCheck(host: string) {
  return (_servername: string, cert: tls.PeerCertificate): Error | undefined => {
    if (!cert.subjectaltname) {
      return new Error(
        `x509: certificate relies on legacy Common Name field, use SANs instead (host ${host}): ` +
          "the database's certificate needs a subject alternative name",
      );
    }
    return tls.checkServerIdentity(host, cert);
  };
}

export interface TlsInput {
  readonly sslmode: SslMode;
  /** The host the drivers connect to: a name, an IP address, or a unix-socket directory. */
  readonly host?: string;
  /** The CA bundle (PEM) the pods get as sslrootcert. @default none */
  readonly ca?: string;
}

/** node-postgres's `ssl` option that connects exactly when lib/pq (Atlas) does. */
export function pgTlsOptions(input: TlsInput): false | tls.ConnectionOptions {
  const { sslmode, host, ca } = input;
  if (sslmode === "disable" || host?.startsWith("/")) return false;
  if (sslmode === "require" && ca === undefined) return { rejectUnauthorized: false };
  return {
    rejectUnauthorized: true,
    ca: ca ?? systemRoots(),
    checkServerIdentity: sslmode === "verify-full" ? goHostnameCheck(host ?? "localhost") : () => undefined,
  };
}
