// Aura and static-resource JavaScript, linted with @salesforce/eslint-plugin-aura (Locker) and LWS's rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lintFiles, lintText } from '../src/aura.js';
import { packageFiles, shortName, SOURCE_DIR } from '../src/files.js';

const SCRIPTS = packageFiles(/\/(aura\/.*|staticresources\/[^/]*)\.js$/);
const HELPER = join(SOURCE_DIR, 'aura', 'PresenceConnectorOmni', 'PresenceConnectorOmniHelper.js');

test('the Aura component and the static resources lint clean under the Locker and LWS rules', async () => {
    assert.ok(SCRIPTS.some((p) => p.includes('/aura/')) && SCRIPTS.some((p) => p.includes('/staticresources/')),
        SCRIPTS.map(shortName).join(', '));
    assert.deepEqual(await lintFiles(SCRIPTS, shortName), []);
});

test('an Aura file that opens an EventSource is refused, naming Locker', async () => {
    const text = readFileSync(HELPER, 'utf8').replace('start: function (component) {',
        'start: function (component) {\n        component._stream = new EventSource("https://presence.example.com/api/v1/events");');
    const problems = await lintText(text, 'aura/PresenceConnectorOmni/PresenceConnectorOmniHelper.js');
    assert.ok(problems.some((p) => /no-restricted-syntax: Lightning Locker's SecureWindow exposes EventSource/.test(p)),
        problems.join('\n'));
});

test("Locker's and LWS's own rules are on: a blocked window API and a distorted cookie are refused", async () => {
    const problems = await lintText('window.top.location = "x"; document.cookie = "a=b";', 'staticresources/Broken.js');
    assert.ok(problems.some((p) => /@salesforce\/aura\/secure-window/.test(p)), problems.join('\n'));
    assert.ok(problems.some((p) => /@locker\/locker\/distorted-document-cookie/.test(p)), problems.join('\n'));
});
