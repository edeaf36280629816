import { describeUrl, dsnToUrl, DsnError, parseKeywordValue } from "../../lib/dsn";

describe("dsnToUrl", () => {
  it.each([
    // The seed DSNToURL's cases, and what it lost.
    [
      "host=db port=5432 dbname=api user=app password=p@ss:w0rd! sslmode=disable",
      "postgres://app:p%40ss%3Aw0rd!@db:5432/api?sslmode=disable",
    ],
    ["host=::1 dbname=api user=app sslmode=disable", "postgres://app@[::1]/api?sslmode=disable"],
    ["host=db dbname=api user=app sslmode=require", "postgres://app@db/api?sslmode=require"],
    // no sslmode: made explicit, lib/pq's default, so the Job and the app agree
    ["host=db port=5432 dbname=api user=app", "postgres://app@db:5432/api?sslmode=require"],
    // quoted values with escapes, spaces around "="
    [
      "host = db dbname='my db' user=app password='a b\\'c\\\\d' sslmode=disable",
      "postgres://app:a%20b'c%5Cd@db/my%20db?sslmode=disable",
    ],
    // every other keyword survives
    [
      "host=db dbname=api user=app sslmode=verify-full sslrootcert=/etc/ca.pem sslcert=/c.pem sslkey=/k.pem connect_timeout=5 options='-c search_path=api' application_name=dia target_session_attrs=read-write",
      "postgres://app@db/api?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&sslcert=%2Fc.pem&sslkey=%2Fk.pem&connect_timeout=5&options=-c%20search_path%3Dapi&application_name=dia&target_session_attrs=read-write",
    ],
    // unix sockets are directories: they go in the query
    [
      "host=/var/run/postgresql dbname=api user=app sslmode=disable",
      "postgres://app@/api?host=%2Fvar%2Frun%2Fpostgresql&sslmode=disable",
    ],
    ["host=/tmp port=5433 dbname=api sslmode=disable", "postgres:///api?host=%2Ftmp&port=5433&sslmode=disable"],
    // several hosts
    ["host=a,b port=1,2 dbname=api sslmode=disable", "postgres://a:1,b:2/api?sslmode=disable"],
    // URLs pass through
    ["postgres://app:s3cr%40t@db:5432/api?sslmode=disable", "postgres://app:s3cr%40t@db:5432/api?sslmode=disable"],
    ["postgresql://app@db/api", "postgresql://app@db/api?sslmode=require"],
    ["postgres://app@db/api?application_name=x", "postgres://app@db/api?application_name=x&sslmode=require"],
  ])("%s", (dsn, url) => {
    expect(dsnToUrl(dsn)).toBe(url);
  });

  it.each([
    ["host=db password='unterminated", /unterminated quoted value for "password"/],
    ["host=db dbname", /missing "=" after "dbname"/],
    ["host=db 9x=1", /"9x" is not a connection keyword/],
    ["host=db port=54x32", /port "54x32" is not a TCP port/],
    ["host=a,b,c port=1,2", /3 hosts but 2 ports/],
    ["host=db sslmode=prefer", /sslmode=prefer is not supported by Atlas's PostgreSQL driver/],
    ["", /empty/],
  ])("refuses %j", (dsn, message) => {
    expect(() => dsnToUrl(dsn)).toThrow(DsnError);
    expect(() => dsnToUrl(dsn)).toThrow(message);
  });

  it("never echoes a password in an error", () => {
    for (const dsn of ["password='hunter2 host=db", "password=hunter2 port=x", "password=hunter2 sslmode=allow"]) {
      try {
        dsnToUrl(dsn);
        throw new Error("expected a DsnError");
      } catch (err) {
        expect(err).toBeInstanceOf(DsnError);
        expect((err as Error).message).not.toContain("hunter2");
      }
    }
  });

  it("parses libpq's grammar like libpq: an empty value swallows the next token", () => {
    expect(parseKeywordValue("host= port=5")).toEqual([["host", "port=5"]]);
    expect(parseKeywordValue("a='' b=1")).toEqual([
      ["a", ""],
      ["b", "1"],
    ]);
  });

  it("describes a URL without its credentials", () => {
    expect(describeUrl("postgres://app:secret@db:6432/api?sslmode=disable")).toBe("db:6432/api");
    expect(describeUrl(dsnToUrl("host=/tmp dbname=api password=secret sslmode=disable"))).toBe("/tmp:5432/api");
  });
});
