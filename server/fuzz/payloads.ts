import fc from "fast-check";

/** Keys of Object.prototype (and the one that sets it): a lookup on a plain object finds something for them. */
export const PROTO_NAMES = ["__proto__", "constructor", "toString", "prototype", "hasOwnProperty", "valueOf"];

const MiB = 1024 * 1024;

/** Strings that have broken parsers, lookups, encoders and logs before, and random ones of every kind. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    ...PROTO_NAMES,
    "",
    " ",
    ".",
    "..",
    "../../etc/passwd",
    "/",
    "%",
    "%00",
    "%E0%A4%A",
    "\u0000",
    "\uD800",
    "\uFFFE",
    "🦀🦀",
    "null",
    "NaN",
    "-1",
    "1e309",
    "{{x}}",
    "'; drop table runs; --",
    "a:b:c",
    "\r\nx-injected: 1",
    "a".repeat(100_000),
  ),
  fc.string({ maxLength: 30 }),
  fc.string({ unit: "grapheme", maxLength: 30 }),
  fc.string({ unit: "binary", maxLength: 30 }),
);

/** Random JSON, kept small: the point is its shape, not its size (size has its own payloads). */
export const anyJson: fc.Arbitrary<unknown> = fc.jsonValue({ maxDepth: 4, depthSize: "small" });

/** A key of an object: a random one or one of Object.prototype's. */
export const nastyKey = fc.oneof(fc.constantFrom(...PROTO_NAMES), fc.string({ maxLength: 12 }));

/** An object built with own keys (a `__proto__` key stays a key: JSON.stringify writes it). */
export function ownObject(entries: [string, unknown][]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true });
  return o;
}

/** A value of another type than expected, or of the right type but out of every range. */
const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  nastyString,
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -1, -0, 0.5, 2 ** 53 + 1, 1e308, -1e308, true, false, null, [], {}),
  fc.array(anyJson, { maxLength: 5 }),
  fc.array(fc.tuple(nastyKey, anyJson), { maxLength: 4 }).map(ownObject),
  // a huge array (600 KB of JSON), under the 5 MiB body cap and socket.io's 1 MB frame
  fc.constant(Array.from({ length: 100_000 }, (_, i) => i)),
);

type Path = (string | number)[];

function paths(v: unknown, at: Path = []): Path[] {
  const out: Path[] = [at];
  if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) out.push(...paths(x, [...at, i]));
  } else if (v !== null && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  }
  return out;
}

type Mutation = { op: "set"; value: unknown } | { op: "delete" } | { op: "add"; key: string; value: unknown };

function apply(base: unknown, at: Path, m: Mutation): unknown {
  if (at.length === 0) {
    if (m.op === "set") return m.value;
    if (m.op === "delete") return undefined;
  }
  const copy = structuredClone(base);
  if (at.length === 0) {
    if (copy !== null && typeof copy === "object" && m.op === "add") {
      Object.defineProperty(copy, m.key, { value: m.value, enumerable: true, writable: true });
    }
    return copy;
  }
  let parent = copy as Record<string | number, unknown>;
  for (const k of at.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const last = at[at.length - 1];
  if (m.op === "set") parent[last] = m.value;
  else if (m.op === "delete") {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else {
    const target = parent[last];
    if (target !== null && typeof target === "object") {
      Object.defineProperty(target, m.key, { value: m.value, enumerable: true, writable: true });
    } else parent[last] = m.value;
  }
  return copy;
}

/** A valid body with one field changed: of the wrong type, out of range, removed, or joined by an odd key. */
export function mutated(base: unknown): fc.Arbitrary<unknown> {
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    { weight: 4, arbitrary: wrongValue.map((value) => ({ op: "set" as const, value })) },
    { weight: 1, arbitrary: fc.constant({ op: "delete" as const }) },
    {
      weight: 2,
      arbitrary: fc.tuple(nastyKey, wrongValue).map(([key, value]) => ({ op: "add" as const, key, value })),
    },
  );
  return fc.tuple(fc.constantFrom(...paths(base)), mutation).map(([at, m]) => apply(base, at, m));
}

/** A request body as bytes, with its content type (null: no header). */
export interface Body {
  label: string;
  contentType: string | null;
  bytes: Buffer;
}

const jsonBody = (v: unknown, label = "json"): Body => ({
  label,
  contentType: "application/json",
  bytes: Buffer.from(JSON.stringify(v) ?? ""),
});

const text = (label: string, t: string, contentType: string | null = "application/json"): Body => ({
  label,
  contentType,
  bytes: Buffer.from(t),
});

/** Bodies every route is sent at least once, whatever the random runs pick. */
export const SPECIAL_BODIES: Body[] = [
  text("empty", ""),
  text("nested arrays, depth 10 000", `${"[".repeat(10_000)}${"]".repeat(10_000)}`),
  text("nested objects, depth 10 000", `${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`),
  text("unclosed arrays, depth 1 000 000", "[".repeat(1_000_000)),
  text("over the 5 MiB cap", `"${"a".repeat(5 * MiB)}"`),
  text("prototype keys", '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}},"toString":"x"}'),
  text("duplicate keys", '{"a":1,"a":{"b":2}}'),
  text("not JSON", "{'a': 1,}"),
  text("a number no double holds", `1${"0".repeat(400)}`),
  {
    label: "invalid UTF-8",
    contentType: "application/json",
    bytes: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
  },
  { label: "UTF-16 with a BOM", contentType: "application/json", bytes: Buffer.from("\ufeff{}", "utf16le") },
  text("NUL bytes", "\u0000\u0000"),
  text("JSON as text/plain", "{}", "text/plain"),
  text("JSON without a content type", '{"a":1}', null),
  text("form encoded", "a=1&b=%", "application/x-www-form-urlencoded"),
  text("multipart", "--x\r\n\r\n--x--", "multipart/form-data; boundary=x"),
  text("a JSON-ish content type", "{}", "application/jsonp; charset=nonsense"),
];

/** A random body: mostly the route's own shape with a twist, else random JSON, text or bytes. */
export function bodyFor(valid: unknown): fc.Arbitrary<Body> {
  return fc.oneof(
    { weight: 6, arbitrary: mutated(valid).map((v) => jsonBody(v, "mutated")) },
    { weight: 1, arbitrary: fc.constant(jsonBody(valid, "valid")) },
    { weight: 2, arbitrary: anyJson.map((v) => jsonBody(v, "random JSON")) },
    { weight: 1, arbitrary: fc.string({ maxLength: 60 }).map((t) => text("random text", t)) },
    {
      weight: 1,
      arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => ({
        label: "random bytes",
        contentType: "application/json",
        bytes: Buffer.from(b),
      })),
    },
    { weight: 1, arbitrary: fc.constantFrom(...SPECIAL_BODIES) },
  );
}

/** Percent-encodes any string, lone surrogates included (encodeURIComponent throws on those). */
function encodeAny(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return [...Buffer.from(s, "utf8")].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("");
  }
}

/** Raw path segments, inserted into the target as they are: bad percent-encodings, dot segments, NULs. */
export const RAW_SEGMENTS = [
  "%",
  "%E0%A4%A",
  "%00",
  "%ZZ",
  "%%",
  "%u0041",
  "..",
  ".",
  "%2e%2e",
  "%2F",
  "%C0%AF",
  "%FF%FE",
  ...PROTO_NAMES.map(encodeAny),
  "a".repeat(4000),
];

/** One path parameter: a value that means something here, a raw adversarial segment, or random text. */
export function segment(valid: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...valid).map(encodeAny) },
    { weight: 2, arbitrary: fc.constantFrom(...RAW_SEGMENTS) },
    { weight: 2, arbitrary: nastyString.filter((s) => s.length > 0 && s.length < 5000).map(encodeAny) },
  );
}

/** A `*rest` parameter: like `segment`, or several joined by slashes. */
export function rest(valid: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: segment(valid) },
    {
      weight: 1,
      arbitrary: fc
        .array(fc.oneof(fc.constantFrom(...RAW_SEGMENTS), fc.string({ maxLength: 8 }).map(encodeAny)), {
          minLength: 2,
          maxLength: 4,
        })
        .map((parts) => parts.join("/")),
    },
  );
}

/** A query string (with its `?`, or empty): the route's own fields with odd values, random pairs, raw junk. */
export function queryFor(fields: Record<string, string[]>): fc.Arbitrary<string> {
  const names = Object.keys(fields);
  const known =
    names.length === 0
      ? fc.constant("")
      : fc
          .array(
            fc
              .constantFrom(...names)
              .chain((name) =>
                fc.oneof(fc.constantFrom(...fields[name]), nastyString).map((v) => `${name}=${encodeAny(v)}`),
              ),
            { maxLength: 4 },
          )
          .map((pairs) => (pairs.length ? `?${pairs.join("&")}` : ""));
  return fc.oneof(
    { weight: 4, arbitrary: known },
    {
      weight: 1,
      arbitrary: fc
        .array(fc.tuple(nastyKey, nastyString), { maxLength: 3 })
        .map((pairs) => `?${pairs.map(([k, v]) => `${encodeAny(k)}=${encodeAny(v)}`).join("&")}`),
    },
    { weight: 1, arbitrary: fc.constantFrom("?", "?%", "?a=%E0%A4%A", "?&&&=", "?__proto__=1&constructor=2", "??") },
  );
}

/** Header values as an HTTP client may send them: latin-1 without control characters. */
export function headerSafe(s: string): string {
  return /^[\t\x20-\x7e\x80-\xff]*$/.test(s) ? s : encodeAny(s);
}
