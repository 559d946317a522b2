// Apex parsed with @apexdevtools/apex-parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseApexFile, parseApexText } from '../src/apex.js';
import { packageFiles, shortName } from '../src/files.js';

const APEX = packageFiles(/\.(cls|trigger)$/);

test('every Apex class of the package parses', () => {
    assert.ok(APEX.length >= 2, APEX.map(shortName).join(', '));
    assert.deepEqual(APEX.flatMap((path) => parseApexFile(path, shortName(path))), []);
});

test('an Apex syntax error is refused with its line', () => {
    const controller = APEX.find((p) => p.endsWith('PresenceConnectorOmniController.cls'));
    const broken = readFileSync(controller, 'utf8').replace("request.setMethod('POST');", "request.setMethod('POST')");
    const problems = parseApexText(broken, 'PresenceConnectorOmniController.cls');
    assert.ok(problems.length > 0 && problems[0].startsWith('PresenceConnectorOmniController.cls:'), problems.join('\n'));
});
