/**
 * A private PostgreSQL with TLS on, started by a test: Debian's binaries run as the postgres
 * user (like scripts/pg.sh), listening on 127.0.0.1 only, on a free port, with the server
 * certificate the test made. Plain connections stay allowed so sslmode=disable can be tried.
 */
import { execFile } from "child_process";
import { randomBytes, X509Certificate } from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { Client } from "pg";
import type { TLSSocket } from "tls";
import { promisify } from "util";
import type { ServerCert } from "./certs";
import { pgMajor } from "../../testbed/pg";

const run = promisify(execFile);

export interface TlsPostgres {
  readonly port: number;
  /** The postgres superuser's password. */
  readonly password: string;
  /** Serves another certificate (written over the old files, then a reload). */
  useCertificate(cert: ServerCert): Promise<void>;
  stop(): Promise<void>;
}

/** The server binaries of the major the suite runs on (test/support/pg.ts), else Debian's. */
function pgBin(): string {
  const major = pgMajor();
  if (major) {
    const bin = process.env[`TESTBED_PG_BIN_${major}`];
    if (!bin)
      throw new Error(
        `TESTBED_PG_BIN_${major} is not set: run scripts/pg-matrix.sh up ${major}, then source scripts/env.sh`,
      );
    return bin;
  }
  const root = "/usr/lib/postgresql";
  const versions = fs.existsSync(root) ? fs.readdirSync(root).sort((a, b) => Number(a) - Number(b)) : [];
  const bin = versions.length > 0 ? path.join(root, versions[versions.length - 1], "bin") : "";
  if (!bin || !fs.existsSync(path.join(bin, "pg_ctl"))) {
    throw new Error(
      "no PostgreSQL under /usr/lib/postgresql: run scripts/pg.sh up once (it installs Debian's package)",
    );
  }
  return bin;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The SHA-256 fingerprint of the certificate the server presents to a new connection. */
async function servedFingerprint(port: number, password: string): Promise<string> {
  const client = new Client({
    host: "127.0.0.1",
    port,
    user: "postgres",
    password,
    database: "postgres",
    ssl: { rejectUnauthorized: false },
  });
  await client.connect();
  try {
    const stream = (client as unknown as { connection: { stream: TLSSocket } }).connection.stream;
    return stream.getPeerX509Certificate()?.fingerprint256 ?? "";
  } finally {
    await client.end();
  }
}

const asPostgres = (cmd: string, args: string[]) => run("runuser", ["-u", "postgres", "--", cmd, ...args]);

export async function startTlsPostgres(cert: ServerCert): Promise<TlsPostgres> {
  const bin = pgBin();
  // The server runs as postgres, which must reach the folder: /var/tmp, not a private /tmp.
  const root = fs.mkdtempSync("/var/tmp/tls-pg-");
  fs.chmodSync(root, 0o700);
  await run("chown", ["postgres:", root]);
  const password = randomBytes(18).toString("base64url");
  const pwfile = path.join(root, "pwfile");
  fs.writeFileSync(pwfile, password, { mode: 0o600 });
  const install = async (c: ServerCert) => {
    fs.copyFileSync(c.certFile, path.join(root, "server.crt"));
    fs.copyFileSync(c.keyFile, path.join(root, "server.key"));
    fs.chmodSync(path.join(root, "server.key"), 0o600);
    await run("chown", ["postgres:", pwfile, path.join(root, "server.crt"), path.join(root, "server.key")]);
  };
  await install(cert);
  const data = path.join(root, "data");
  await asPostgres(path.join(bin, "initdb"), [
    "-D",
    data,
    "-U",
    "postgres",
    `--pwfile=${pwfile}`,
    "--auth-host=scram-sha-256",
    "--auth-local=trust",
    "-E",
    "UTF8",
    "--locale=C.UTF-8",
  ]);
  const port = await freePort();
  const options = [
    "-c listen_addresses=127.0.0.1",
    `-c port=${port}`,
    `-c unix_socket_directories=${root}`,
    "-c fsync=off",
    "-c ssl=on",
    `-c ssl_cert_file=${root}/server.crt`,
    `-c ssl_key_file=${root}/server.key`,
  ].join(" ");
  const pgCtl = path.join(bin, "pg_ctl");
  await asPostgres(pgCtl, ["-D", data, "-l", path.join(root, "server.log"), "-w", "-t", "60", "start", "-o", options]);
  return {
    port,
    password,
    useCertificate: async (c) => {
      await install(c);
      await asPostgres(pgCtl, ["-D", data, "reload"]);
      // A reload is asynchronous: wait until new connections get the new certificate.
      const want = new X509Certificate(fs.readFileSync(c.certFile)).fingerprint256;
      for (let i = 0; (await servedFingerprint(port, password)) !== want; i++) {
        if (i > 100) throw new Error("the TLS PostgreSQL did not pick up its new certificate within 10 s");
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    stop: async () => {
      await asPostgres(pgCtl, ["-D", data, "-m", "immediate", "-w", "stop"]).catch(() => undefined);
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
