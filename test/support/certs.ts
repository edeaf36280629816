/** Throw-away certificate authorities and server certificates, made with openssl. */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface Ca {
  readonly certPem: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface ServerCert {
  readonly certFile: string;
  readonly keyFile: string;
}

const openssl = (args: string[], cwd: string) => execFileSync("openssl", args, { cwd, stdio: "pipe" });

/** A folder for the files, removed with `cleanup`. */
export function certDir(): { dir: string; cleanup: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "certs-"));
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

export function makeCa(dir: string, name: string): Ca {
  openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "2",
      "-subj",
      `/CN=${name}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.crt`,
    ],
    dir,
  );
  const certFile = path.join(dir, `${name}.crt`);
  return { certPem: fs.readFileSync(certFile, "utf8"), certFile, keyFile: path.join(dir, `${name}.key`) };
}

/**
 * A server certificate signed by `ca`. `subjectAltName` like "IP:127.0.0.1"; undefined
 * for a certificate with only a Common Name (what Go refuses for host names).
 */
export function makeServerCert(
  dir: string,
  ca: Ca,
  name: string,
  commonName: string,
  subjectAltName?: string,
): ServerCert {
  const keyFile = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const certFile = path.join(dir, `${name}.crt`);
  openssl(
    ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"].concat([
      "-subj",
      `/CN=${commonName}`,
      "-keyout",
      keyFile,
      "-out",
      csr,
    ]),
    dir,
  );
  const ext = path.join(dir, `${name}.ext`);
  fs.writeFileSync(
    ext,
    [
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=serverAuth",
      ...(subjectAltName ? [`subjectAltName=${subjectAltName}`] : []),
    ].join("\n") + "\n",
  );
  openssl(
    ["x509", "-req", "-in", csr, "-CA", ca.certFile, "-CAkey", ca.keyFile, "-CAcreateserial", "-days", "2"].concat([
      "-extfile",
      ext,
      "-out",
      certFile,
    ]),
    dir,
  );
  return { certFile, keyFile };
}
