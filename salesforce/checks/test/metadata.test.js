// Every metadata file of the package against the Metadata API types of @salesforce/types.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { checkMetadataFile, typeForFile } from '../src/metadata.js';
import { checkReportText } from '../src/reports.js';
import { packageFiles, shortName, SOURCE_DIR } from '../src/files.js';
import { readFileSync } from 'node:fs';
import { brokenCopy } from './helpers.js';

const METADATA = packageFiles(/-meta\.xml$/);
const REPORT = join(SOURCE_DIR, 'reports', 'Presence_Connector_Reports', 'Time_per_State_by_Agent_This_Week.report-meta.xml');
const FIELD = join(SOURCE_DIR, 'objects', 'Presence_Time__c', 'fields', 'Seconds__c.field-meta.xml');
const PERMISSIONS = join(SOURCE_DIR, 'permissionsets', 'Presence_Connector_Omni_Agent.permissionset-meta.xml');

test('every metadata file of the package matches its Metadata API type', () => {
    assert.ok(METADATA.length >= 30, `only ${METADATA.length} metadata files found under ${SOURCE_DIR}`);
    const problems = METADATA.flatMap((path) => checkMetadataFile(path, shortName(path)));
    assert.deepEqual(problems, []);
});

test('a misspelt element is refused, naming the element and the one meant', (t) => {
    const copy = brokenCopy(FIELD, '<precision>', '<precission>', t);
    const problems = checkMetadataFile(copy, 'Seconds__c.field-meta.xml');
    assert.ok(problems.some((p) => /CustomField has no element 'precission' \(did you mean 'precision'\?\)/.test(p)),
        problems.join('\n'));
});

test('a value outside its enumeration is refused', (t) => {
    const copy = brokenCopy(REPORT, '<format>Summary</format>', '<format>Summery</format>', t);
    const problems = checkMetadataFile(copy, 'report');
    assert.ok(problems.some((p) => /'Summery' is not a ReportFormat \(did you mean 'Summary'\?\)/.test(p)), problems.join('\n'));
});

test('a missing required element is refused', (t) => {
    const copy = brokenCopy(REPORT, /<name>[^<]*<\/name>/.exec(readFileSync(REPORT, 'utf8'))[0], '', t);
    const problems = checkMetadataFile(copy, 'report');
    assert.ok(problems.some((p) => /the required element 'name' of Report is missing/.test(p)), problems.join('\n'));
});

test('a single-valued element given twice, and a boolean that is not one, are refused', (t) => {
    const copy = brokenCopy(PERMISSIONS, '<hasActivationRequired>false</hasActivationRequired>',
        '<hasActivationRequired>no</hasActivationRequired><label>Again</label>', t);
    const problems = checkMetadataFile(copy, 'permissionset');
    assert.ok(problems.some((p) => /'no' is not true or false/.test(p)), problems.join('\n'));
    assert.ok(problems.some((p) => /label: appears more than once/.test(p)), problems.join('\n'));
});

test('every file suffix of the package has its Metadata API type', () => {
    assert.deepEqual(METADATA.filter((path) => !typeForFile(path)).map(shortName), []);
});

test("the report names its custom report type's fields as table$field, each a column of the report type", () => {
    for (const path of packageFiles(/\.report-meta\.xml$/)) {
        assert.deepEqual(checkReportText(readFileSync(path, 'utf8'), shortName(path)), []);
    }
    const dotted = readFileSync(REPORT, 'utf8').replace('Presence_Time__c$Seconds__c', 'Presence_Time__c.Seconds__c');
    assert.match(checkReportText(dotted, 'report').join('\n'),
        /'Presence_Time__c.Seconds__c' is not a column .* is named Presence_Time__c\$Seconds__c/);
});
