import {
  describeUrl,
  dsnToUrl,
  DsnError,
  parseDsn,
  parseKeywordValue,
  parseOwnUrl,
  urlParam,
} from "../../lib/database/dsn";

describe("dsnToUrl", () => {
  it.each([
    // The seed DSNToURL's cases, and what it lost.
    [
      "host=db port=5432 dbname=api user=app password=p@ss:w0rd! sslmode=disable",
      "postgres://app:p%40ss%3Aw0rd!@db:5432/api?sslmode=disable",
    ],
    ["host=::1 dbname=api user=app sslmode=disable", "postgres://app@[::1]:5432/api?sslmode=disable"],
    ["host=db dbname=api user=app sslmode=require", "postgres://app@db/api?sslmode=require"],
    // no sslmode: made explicit, lib/pq's default, so the Job and the app agree
    ["host=db port=5432 dbname=api user=app", "postgres://app@db:5432/api?sslmode=require"],
    // quoted values with escapes, spaces around "="
    [
      "host = db dbname='my db' user=app password='a b\\'c\\\\d' sslmode=disable",
      "postgres://app:a%20b'c%5Cd@db/my%20db?sslmode=disable",
    ],
    // keywords both drivers read alike survive, and server settings
    [
      "host=db dbname=api user=app sslmode=verify-full connect_timeout=5 options='-c search_path=api' application_name=dia search_path=api lock_timeout=5s",
      "postgres://app@db/api?sslmode=verify-full&connect_timeout=5&options=-c%20search_path%3Dapi&application_name=dia&search_path=api&lock_timeout=5s",
    ],
    // unix sockets are directories: they go in the query
    [
      "host=/var/run/postgresql dbname=api user=app sslmode=disable",
      "postgres://app@/api?host=/var/run/postgresql&sslmode=disable",
    ],
    ["host=/tmp port=5433 dbname=api sslmode=disable", "postgres:///api?host=/tmp&port=5433&sslmode=disable"],
    // URLs are split into fields and re-encoded the same way
    ["postgres://app:s3cr%40t@db:5432/api?sslmode=disable", "postgres://app:s3cr%40t@db:5432/api?sslmode=disable"],
    ["postgresql://app@db/api", "postgres://app@db/api?sslmode=require"],
    ["postgres://app@db/api?application_name=x", "postgres://app@db/api?application_name=x&sslmode=require"],
    ["POSTGRES://app:a:b@[::1]:6432/api", "postgres://app:a%3Ab@[::1]:6432/api?sslmode=require"],
    [
      "postgres://app:p%2Bw%20d@db/my%20db?options=-c%20x%3Dy",
      "postgres://app:p%2Bw%20d@db/my%20db?options=-c%20x%3Dy&sslmode=require",
    ],
    // a password that Node's URL parser and Go's read differently comes out unambiguous
    ["password='ab%zz #1+2;@/?' host=db user=app", "postgres://app:ab%25zz%20%231%2B2%3B%40%2F%3F@db/?sslmode=require"],
    [
      "postgres://app@/api?host=%2Fvar%2Frun%2Fpostgresql",
      "postgres://app@/api?host=/var/run/postgresql&sslmode=require",
    ],
  ])("%s", (dsn, url) => {
    expect(dsnToUrl(dsn)).toBe(url);
  });

  it("sets sslrootcert to the mounted CA bundle, once", () => {
    expect(dsnToUrl("host=db user=app sslmode=verify-full", { sslrootcert: "/etc/ca/ca.crt" })).toBe(
      "postgres://app@db/?sslmode=verify-full&sslrootcert=/etc/ca/ca.crt",
    );
  });

  it.each([
    // key=value structure: positions, never the text
    [
      "host=db password='unterminated",
      "the 2nd keyword=value pair (after the value of host): its quoted value is not closed; close it with '",
    ],
    ["host=db dbname", 'the 2nd keyword=value pair (after the value of host) has no "="'],
    ["host=db 9x=1", "the 2nd keyword=value pair (after the value of host) does not start with a keyword"],
    ["password=Tr0ub4dor &3", 'the 2nd keyword=value pair (after the value of password) has no "="'],
    // values
    ["host=db port=54x32", "port is not a TCP port number (1 to 65535)"],
    ["host=db port=0", "port is not a TCP port number (1 to 65535)"],
    ["host=db sslmode=prefer", "sslmode=prefer is not supported by Atlas's PostgreSQL driver (lib/pq)"],
    [
      "host=db sslmode=verify_full",
      "this sslmode is not supported by Atlas's PostgreSQL driver (lib/pq); use one of disable, require, verify-ca, verify-full",
    ],
    ["host='db; drop'", "host is not a host name, an IP address or a unix-socket directory"],
    ["host=db connect_timeout=5s", "connect_timeout is not a whole number of seconds"],
    ["", "the connection string is empty"],
    // several hosts, and keywords the two drivers do not read alike
    ["host=a,b port=1,2 dbname=api", "host lists several hosts, which Atlas's driver (lib/pq) cannot use"],
    ["postgres://a:1,b:2/api", "host lists several hosts"],
    ["host=a target_session_attrs=read-write", "target_session_attrs only matters with several hosts"],
    [
      "host=a Host=b",
      "the 2nd keyword=value pair (after the value of host) has an unknown keyword: keywords are lower case (did you mean host?)",
    ],
    [
      "host=a sslmdoe=disable",
      "the 2nd keyword=value pair (after the value of host) has an unknown keyword: it is neither a connection keyword nor a server setting this program passes on; give other server settings as options='-c name=value'",
    ],
    ["postgres://db/api?sslmdoe=disable", "the URL's query parameter 1 has an unknown keyword"],
    [
      "host=a sslrootcert=/etc/ca.pem",
      "sslrootcert names a file on the deploy machine that no pod has: remove it and put the CA certificate (PEM text) in the config key databaseCaCert",
    ],
    ["host=a sslcert=/c.pem sslkey=/k.pem", "sslcert names a client-certificate file that no pod has"],
    [
      "host=a passfile=/p",
      "passfile is a libpq keyword that Atlas's driver (lib/pq) and the API's (pgx) do not read alike",
    ],
    ["host=a dbname=x dbname=y", "dbname is given twice: keep one"],
    ["postgres://app@db/api?user=other", "user is given twice: keep one"],
    // URLs Go's net/url would reject or read differently: named, never quoted
    [
      "postgres://app:ab%zz@db/api",
      'the URL\'s password has a "%" that is not followed by two hex digits: write a literal % as %25',
    ],
    ["postgres://app:pa#ss@db/api", "the URL's password contains a character that must be percent-encoded"],
    ["postgres://app:pa ss@db/api", "the URL's password contains a character that must be percent-encoded"],
    ["postgres://app:pässword@db/api", "the URL's password contains a character that must be percent-encoded"],
    ["postgres://app:p@ss@db/api", 'the URL\'s user or password contains a raw "@"'],
    [
      "postgres://app:pa/ss@db/api",
      "the URL's port is not a number; if the password contains /, ?, # or @, percent-encode them",
    ],
    ["postgres://app:pa?ss@db/api", "the URL's port is not a number"],
    ["postgres://app@db/api#frag", 'the URL contains a "#", which starts a fragment that the drivers drop'],
    [
      "postgres://app@db/api?password=a+b",
      'the URL\'s query parameter 1 contains a raw "+", which Go reads as a space',
    ],
    ["postgres://app@db/api?password=a;b", 'the URL\'s query parameter 1 contains a raw ";"'],
    ["postgres://app@db/api?sslmode", 'the URL\'s query parameter 1 has no "="'],
    ["postgres://app:%FF@db/api", "the URL's password is not UTF-8 once percent-decoded"],
    ["postgres://app:a\nb@db/api", "the URL contains a control character"],
    ["postgres://app@[::1/api", "the URL's host has an unclosed ["],
    ["postgres://app@::1/api", 'the URL\'s host has a ":" in it: write an IPv6 address in brackets ([::1])'],
    // Hosts Node's URL parser throws on (a TypeError carrying the whole URL) or no host is
    ["host=1::2::3 user=app", "host is not a host name, an IP address or a unix-socket directory"],
    ["host=:::: user=app", "host is not a host name, an IP address or a unix-socket directory"],
    ["host=999.999.999.999 user=app", "host is not a host name, an IP address or a unix-socket directory"],
    ["postgres://app@[1::2::3]/api", "host is not a host name, an IP address or a unix-socket directory"],
    ["postgres://app@999.1.1.1/api", "host is not a host name, an IP address or a unix-socket directory"],
    ["host=a..b user=app", "host is not a host name, an IP address or a unix-socket directory"],
    ["host=-db user=app", "host is not a host name, an IP address or a unix-socket directory"],
    [`host=${"a".repeat(64)}.example user=app`, "host is not a host name, an IP address or a unix-socket directory"],
    // A password with a raw "/": libpq and Go read host app, port 2024, and the rest as the database
    ["postgres://app:2024/Tr0ub4dor@db.example.com/api", 'dbname contains "@"'],
    ["host=db user=app dbname=a@b", 'dbname contains "@"'],
    ["postgres://app@db/%2Fapi", 'dbname starts with "/", which the drivers read differently'],
    ["postgres://app@db//api", 'dbname starts with "/", which the drivers read differently'],
    ["host=db user='' dbname=api", "user is empty: name the database role to log in as"],
    ["postgres://:pw@db/api", "user is empty: name the database role to log in as"],
    ["host=db user=app password=abc\\", "ends with a backslash that escapes nothing (libpq drops it)"],
  ])("refuses %j", (dsn, message) => {
    expect(() => dsnToUrl(dsn)).toThrow(DsnError);
    expect(() => dsnToUrl(dsn)).toThrow(message);
  });

  it("never quotes any part of a value in an error", () => {
    const secret = "Tr0ub4dor";
    for (const dsn of [
      `password='${secret} host=db`,
      `password=${secret} port=x`,
      `password=${secret} sslmode=allow`,
      `password=${secret} &3`,
      `password=${secret} ${secret}=1`,
      `password=${secret} ${secret}`,
      `password=${secret} ${secret.toUpperCase()}=1`,
      `host=${secret}.example port=${secret}`,
      `host=a sslmode=${secret}`,
      `postgres://app:${secret}%zz@db/api`,
      `postgres://app:${secret}#1@db/api`,
      `postgres://app:${secret}/1@db/api`,
      `postgres://app:${secret}@db:${secret}/api`,
      `postgres://app@db/api?password=${secret}+1`,
      `postgres://app@db/api?${secret}=1`,
      `postgres://app@db/${secret}%zz`,
      `postgres://app@db/api?application_name=${secret}%`,
      `postgres://app:2024/${secret}@db.example.com/api`,
      `postgres://app:${secret}/x@db.example.com/api`,
      `host=1::${secret}::3 password=x`,
    ]) {
      let message = "";
      try {
        dsnToUrl(dsn);
      } catch (err) {
        expect(err).toBeInstanceOf(DsnError);
        message = (err as Error).message;
      }
      expect(message).not.toBe("");
      for (let i = 0; i + 3 <= secret.length; i++) expect(message).not.toContain(secret.slice(i, i + 3));
    }
  });

  it("splits keyword=value pairs on ASCII white space only, as libpq: a non-breaking space is part of a value", () => {
    expect(parseKeywordValue("password=a\u00a0b\tuser=app\vdbname=api")).toEqual([
      ["password", "a\u00a0b"],
      ["user", "app"],
      ["dbname", "api"],
    ]);
  });

  it("gives an IPv6 host the default port, which lib/pq needs to split the address", () => {
    expect(dsnToUrl("host=::1 user=app")).toBe("postgres://app@[::1]:5432/?sslmode=require");
    expect(dsnToUrl("postgres://app@[fe80::1]/api")).toBe("postgres://app@[fe80::1]:5432/api?sslmode=require");
  });

  it("parses libpq's grammar like libpq: an empty value swallows the next token", () => {
    expect(parseKeywordValue("host= port=5")).toEqual([["host", "port=5"]]);
    expect(parseKeywordValue("a='' b=1")).toEqual([
      ["a", ""],
      ["b", "1"],
    ]);
  });

  it("reads back its own URL, sslrootcert included, which a user's DSN may not carry", () => {
    const url = dsnToUrl("host=db dbname=api user=app password='p w' sslmode=verify-ca", { sslrootcert: "/ca.crt" });
    expect(parseOwnUrl(url)).toEqual({
      host: "db",
      dbname: "api",
      user: "app",
      password: "p w",
      params: [
        ["sslmode", "verify-ca"],
        ["sslrootcert", "/ca.crt"],
      ],
    });
    expect(urlParam(url, "sslmode")).toBe("verify-ca");
    expect(() => parseDsn(url)).toThrow("sslrootcert names a file on the deploy machine");
  });

  it("describes a URL without its credentials", () => {
    expect(describeUrl("postgres://app:secret@db:6432/api?sslmode=disable")).toBe("db:6432/api");
    expect(describeUrl(dsnToUrl("host=/tmp dbname=api password=secret sslmode=disable"))).toBe("/tmp:5432/api");
  });
});
