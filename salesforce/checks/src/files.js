/** The files of the Salesforce package (salesforce/force-app), found by walking the tree. */
import { readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CHECKS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SOURCE_DIR = resolve(CHECKS_DIR, '..', 'force-app', 'main', 'default');

export function walk(dir) {
    return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)]);
}

/** Every file under the package directory whose path matches `pattern`, sorted. */
export function packageFiles(pattern, dir = SOURCE_DIR) {
    return walk(dir).filter((path) => pattern.test(path)).sort();
}

export function shortName(path) {
    return relative(SOURCE_DIR, path);
}
