import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";

const KEY_FILE = "secret.key";

/**
 * Credentials at rest (cloud passwords and private keys) are sealed with AES-256-GCM under a key from
 * SLIPSTREAM_SECRET_KEY (base64 or hex of 32 bytes), else generated once into DATA_DIR/secret.key (0600).
 * Every secret value opened is remembered so logs, event payloads and reports can be redacted.
 */
export class Secrets {
  private readonly known = new Set<string>();

  private constructor(private readonly key: Buffer) {}

  static async load(dataDir: string, fromEnv: string | undefined): Promise<Secrets> {
    if (fromEnv) return new Secrets(parseKey(fromEnv, "SLIPSTREAM_SECRET_KEY"));
    const file = path.join(dataDir, KEY_FILE);
    try {
      return new Secrets(parseKey((await fs.readFile(file, "utf8")).trim(), file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    const key = randomBytes(32);
    await fs.writeFile(file, `${key.toString("base64")}\n`, { mode: 0o600, flag: "wx" });
    return new Secrets(key);
  }

  /** `v1:<iv>:<tag>:<ciphertext>`, all base64. */
  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    const body = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    this.remember(plain);
    return ["v1", iv.toString("base64"), cipher.getAuthTag().toString("base64"), body.toString("base64")].join(":");
  }

  open(sealed: string): string {
    const [version, iv, tag, body] = sealed.split(":");
    if (version !== "v1" || !iv || !tag || body === undefined) throw new Error("not a sealed secret");
    const decipher = createDecipheriv("aes-256-gcm", this.key, Buffer.from(iv, "base64"));
    decipher.setAuthTag(Buffer.from(tag, "base64"));
    const plain = Buffer.concat([decipher.update(Buffer.from(body, "base64")), decipher.final()]).toString("utf8");
    this.remember(plain);
    return plain;
  }

  /** Replaces every known secret (and each line of a multi-line one, e.g. a PEM key) with `[redacted]`. */
  redact(text: string): string {
    let out = text;
    for (const s of this.known) if (out.includes(s)) out = out.split(s).join("[redacted]");
    return out;
  }

  private remember(plain: string): void {
    // Redaction matches text, so a very short secret ("p", "admin") would mangle ordinary words wherever they
    // appear. Rather than redact those, the API refuses cloud passwords under 8 characters (HostBody in
    // clouds/service.ts); everything from 6 up (any password the API accepts, every key) is redacted.
    if (plain.length < 6) return;
    this.known.add(plain);
    for (const line of plain.split("\n")) if (line.trim().length >= 16) this.known.add(line.trim());
  }
}

function parseKey(text: string, where: string): Buffer {
  const key = /^[0-9a-f]{64}$/i.test(text) ? Buffer.from(text, "hex") : Buffer.from(text, "base64");
  if (key.length !== 32) throw new Error(`${where}: the secret key must be 32 bytes, base64 or hex`);
  return key;
}
