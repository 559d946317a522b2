import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

/** A copy of a package file with one text replaced (the replacement must apply), in a temporary directory. */
export function brokenCopy(path, from, to, t) {
    const text = readFileSync(path, 'utf8');
    if (!text.includes(from)) {
        throw new Error(`${basename(path)} no longer contains ${JSON.stringify(from)}: update the test`);
    }
    const dir = mkdtempSync(join(tmpdir(), 'sf-checks-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const copy = join(dir, basename(path));
    writeFileSync(copy, text.replace(from, to));
    return copy;
}
