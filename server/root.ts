import path from "node:path";
import { fileURLToPath } from "node:url";

/** The package root (where examples/, drizzle/ and node_modules/ are). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
