import * as fs from "fs";
import * as https from "https";
import type { AddressInfo } from "net";
import { kubeClient, KubeClient } from "../../testbed/kube";
import { certDir, makeCa, makeServerCert } from "../support/certs";

/**
 * The test bed's API client against a real TLS server that closes a kept-alive connection just
 * as the client reuses it, without answering: what the API server's idle close looks like when
 * it races the next request. The scenario files make API calls minutes apart (a `pulumi up` in
 * between), and one of them once failed on it with "socket hang up".
 */

let certs: ReturnType<typeof certDir>;
let server: https.Server;
let client: KubeClient;
/** Requests the server saw, as [connection number, path]. */
let seen: Array<[number, string]>;
/** Which of a connection's requests the server drops (1 = the first). */
let dropNth: number;

beforeAll(async () => {
  certs = certDir();
  const ca = makeCa(certs.dir, "kube-test-ca");
  const cert = makeServerCert(certs.dir, ca, "kube", "kube-test", "IP:127.0.0.1");
  const [certPem, keyPem] = [fs.readFileSync(cert.certFile), fs.readFileSync(cert.keyFile)];
  let connections = 0;
  const perConnection = new WeakMap<object, { n: number; requests: number }>();
  server = https.createServer({ cert: certPem, key: keyPem, keepAlive: true }, (req, res) => {
    let c = perConnection.get(req.socket);
    if (!c) perConnection.set(req.socket, (c = { n: ++connections, requests: 0 }));
    c.requests++;
    seen.push([c.n, req.url ?? ""]);
    if (c.requests === dropNth) {
      req.socket.destroy();
      return;
    }
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ path: req.url }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  // The server's own pair doubles as the client's certificate: this server asks for none.
  client = kubeClient({
    server: `https://127.0.0.1:${port}`,
    ca: fs.readFileSync(ca.certFile),
    cert: certPem,
    key: keyPem,
  });
});

beforeEach(() => {
  seen = [];
});

afterAll(async () => {
  client?.close();
  await new Promise((resolve) => server?.close(resolve));
  certs?.cleanup();
});

test("a kept-alive connection closed as it is reused: the request is sent again on a new one", async () => {
  dropNth = 2;
  expect(await client.get("/first")).toEqual({ path: "/first" });
  expect(await client.get("/second")).toEqual({ path: "/second" });
  expect(seen).toEqual([
    [1, "/first"],
    [1, "/second"],
    [2, "/second"],
  ]);
});

test("a new connection that fails is not retried: the error reaches the caller", async () => {
  client.close(); // no kept-alive connection left: the next request opens a new one
  dropNth = 1;
  await expect(client.get("/dropped")).rejects.toThrow("socket hang up");
  expect(seen.map(([, p]) => p)).toEqual(["/dropped"]);
});
