import * as fs from "fs";
import * as https from "https";
import type { AddressInfo } from "net";
import { kubeClient, KubeClient, sleep, type KubeObject, type WatchEvent } from "../../testbed/kube";
import { certDir, makeCa, makeServerCert } from "../support/certs";

/**
 * The test bed's API client against a real TLS server that closes a kept-alive connection just
 * as the client reuses it, without answering: what the API server's idle close looks like when
 * it races the next request. The scenario files make API calls minutes apart (a `pulumi up` in
 * between), and one of them once failed on it with "socket hang up". And its watch, which the
 * test bed's executor acts on, against the same server playing the API server's watch stream.
 */

let certs: ReturnType<typeof certDir>;
let server: https.Server;
let client: KubeClient;
/** Requests the server saw, as [connection number, path]. */
let seen: Array<[number, string]>;
/** Which of a connection's requests the server drops (1 = the first). */
let dropNth: number;
/** What the server writes on its n-th watch request (1 = the first), then whether it ends it
 * ("drop": closes the connection mid-response, as an API server that is killed or restarted). */
let watchStreams: Array<{ lines: object[]; end: boolean | "drop" }>;

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
    if (req.url?.includes("watch=1")) {
      const stream = watchStreams.shift() ?? { lines: [], end: false };
      res.writeHead(200, { "content-type": "application/json" });
      for (const line of stream.lines) res.write(`${JSON.stringify(line)}\n`);
      if (stream.end === "drop") setTimeout(() => req.socket.destroy(), 20);
      else if (stream.end) res.end();
      return;
    }
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

describe("watch", () => {
  const pod = (rv: string) => ({ kind: "Pod", metadata: { name: "p", resourceVersion: rv } });
  const watchUrls = () => seen.map(([, p]) => p).filter((p) => p.includes("watch=1"));
  async function until(what: string, done: () => boolean): Promise<void> {
    for (let i = 0; i < 100 && !done(); i++) await sleep(20);
    if (!done()) throw new Error(`gave up waiting for ${what}`);
  }
  /** A watch of `listPath` from version 5, with what it has delivered so far. */
  function start(listPath: string) {
    const events: Array<WatchEvent<KubeObject>> = [];
    const errors: Error[] = [];
    const watch = client.watch<KubeObject>(
      listPath,
      "5",
      (e) => events.push(e),
      (e) => errors.push(e),
    );
    return { events, errors, stop: () => watch.stop() };
  }
  /** A watch of `listPath` from version 5, stopped once it has delivered `count` events. */
  async function watchFor(listPath: string, count: number, what: string) {
    const { events, errors, stop } = start(listPath);
    try {
      await until(what, () => events.length === count);
    } finally {
      stop();
    }
    return { events, errors };
  }

  test("events arrive in order; a bookmark only moves the version on; a watch the server ends resumes from there", async () => {
    watchStreams = [
      {
        lines: [
          { type: "ADDED", object: pod("6") },
          { type: "BOOKMARK", object: pod("7") },
        ],
        end: true,
      },
      { lines: [{ type: "MODIFIED", object: pod("8") }], end: false },
    ];
    const { events, errors } = await watchFor("/api/v1/pods?labelSelector=x", 2, "two events");
    expect(events.map((e) => [e.type, e.object.metadata.resourceVersion])).toEqual([
      ["ADDED", "6"],
      ["MODIFIED", "8"],
    ]);
    expect(watchUrls()).toEqual([
      "/api/v1/pods?labelSelector=x&watch=1&allowWatchBookmarks=true&resourceVersion=5",
      "/api/v1/pods?labelSelector=x&watch=1&allowWatchBookmarks=true&resourceVersion=7",
    ]);
    expect(errors).toEqual([]);
  });

  test("a connection dropped mid-stream (the API server killed or restarted): the watch resumes from the last version", async () => {
    watchStreams = [
      { lines: [{ type: "ADDED", object: pod("6") }], end: "drop" },
      { lines: [{ type: "MODIFIED", object: pod("9") }], end: false },
    ];
    const { events, errors } = await watchFor("/api/v1/pods", 2, "the event after the drop");
    expect(events.map((e) => e.object.metadata.resourceVersion)).toEqual(["6", "9"]);
    expect(watchUrls().map((u) => u.split("resourceVersion=")[1])).toEqual(["5", "6"]);
    expect(errors).toEqual([]);
  });

  test("an ERROR event (410 Gone: the version was compacted away) ends the watch and is reported once, not retried", async () => {
    const gone = { kind: "Status", status: "Failure", reason: "Expired", code: 410 };
    watchStreams = [{ lines: [{ type: "ERROR", object: gone }], end: true }];
    // Not stopped by the test: stop() would hide a reconnect.
    const { events, errors } = start("/api/v1/pods");
    await until("the error", () => errors.length > 0);
    await sleep(300); // a reconnect would come 100 ms after the stream ends
    expect(errors.map((e) => e.message)).toEqual([`watch /api/v1/pods: ${JSON.stringify(gone)}`]);
    expect(events).toEqual([]);
    expect(watchUrls()).toHaveLength(1);
  });
});
