/**
 * What the Metadata API types cannot say about a report on a custom report type: its fields are named
 * `<table>$<field>` (the Metadata API's Report sample for custom report types), and each must be a column
 * of that report type. A report that names `Presence_Time__c.Seconds__c` deploys nowhere.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { SOURCE_DIR } from './files.js';

const LISTS = new Set(['columns', 'groupingsDown', 'groupingsAcross', 'sections', 'aggregates', 'criteriaItems']);
const xml = new XMLParser({ parseTagValue: false, isArray: (name) => LISTS.has(name) });

/** Every field a report names: columns, groupings, filters, the time frame's date column. */
function namedFields(report) {
    return [
        ...(report.columns || []).map((c) => c.field),
        ...(report.groupingsDown || []).map((g) => g.field),
        ...(report.groupingsAcross || []).map((g) => g.field),
        ...((report.filter && report.filter.criteriaItems) || []).map((c) => c.column),
        ...(report.timeFrameFilter ? [report.timeFrameFilter.dateColumn] : [])
    ].filter(Boolean);
}

/** Problems with one report's text; the report type is read from reportTypes/ under `sourceDir`. */
export function checkReportText(text, label, sourceDir = SOURCE_DIR) {
    const report = xml.parse(text).Report;
    const typeName = String(report.reportType || '');
    if (!typeName.endsWith('__c')) {
        return []; // a standard report type names its columns its own way (ACCOUNT.NAME ...)
    }
    let reportType;
    try {
        reportType = xml.parse(readFileSync(
            join(sourceDir, 'reportTypes', `${typeName.replace(/__c$/, '')}.reportType-meta.xml`), 'utf8')).ReportType;
    } catch {
        return [`${label}: its report type ${typeName} is not in reportTypes/`];
    }
    const known = new Set((reportType.sections || []).flatMap((section) =>
        [].concat(section.columns || []).map((c) => `${c.table}$${c.field}`)));
    const problems = [];
    for (const field of namedFields(report)) {
        if (!known.has(field)) {
            const hint = field.includes('.') && known.has(field.replace('.', '$'))
                ? ` (a custom report type's field is named ${field.replace('.', '$')})` : '';
            problems.push(`${label}: '${field}' is not a column of the report type ${typeName}${hint}`);
        }
    }
    for (const aggregate of report.aggregates || []) {
        problems.push(`${label}: the custom summary formula ${aggregate.developerName} cannot be checked here; ` +
            'sum a formula field instead');
    }
    return problems;
}
