/**
 * Metadata files (source format, `*-meta.xml`) checked against the Metadata API types of `@salesforce/types`:
 * the root element is the type its file suffix names, every element is a field of its type (a misspelt one
 * is refused, with the nearest known name), a field that is not a list appears once, required fields are
 * there, enumerations hold one of their values, numbers and booleans parse.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { metadataTypes } from './metadataSchema.js';

export const NAMESPACE = 'http://soap.sforce.com/2006/04/metadata';

/** File suffix (after the last '.', before -meta.xml) -> the Metadata API type of its root element. */
export const SUFFIX_TYPES = {
    cls: 'ApexClass',
    trigger: 'ApexTrigger',
    cmp: 'AuraDefinitionBundle',
    resource: 'StaticResource',
    object: 'CustomObject',
    field: 'CustomField',
    listView: 'ListView',
    recordType: 'RecordType',
    layout: 'Layout',
    tab: 'CustomTab',
    permissionset: 'PermissionSet',
    report: 'Report',
    reportFolder: 'ReportFolder',
    reportType: 'ReportType',
    cspTrustedSite: 'CspTrustedSite',
    externalCredential: 'ExternalCredential',
    namedCredential: 'NamedCredential',
    messageChannel: 'LightningMessageChannel',
    callCenter: 'CallCenter',
    conversationVendorInfo: 'ConversationVendorInfo'
};

/**
 * Fields the Metadata API types mark required that source format leaves out on purpose, because
 * `sf project convert source` fills them in from the file's place: none so far. Listed here, with the
 * reason, if one turns up.
 */
const FILLED_BY_CONVERSION = {};

const parser = new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: '',
    parseTagValue: false,
    trimValues: true
});

/** The type a metadata file's name says it holds, or null for files that are not metadata XML. */
export function typeForFile(path) {
    const match = basename(path).match(/\.([A-Za-z]+)-meta\.xml$/);
    return match ? SUFFIX_TYPES[match[1]] || null : null;
}

/** Nearest known name (edit distance), to say "did you mean" for a misspelt element. */
function nearest(name, candidates) {
    let best = null;
    let bestDistance = Infinity;
    for (const candidate of candidates) {
        const d = distance(name.toLowerCase(), candidate.toLowerCase());
        if (d < bestDistance) {
            [best, bestDistance] = [candidate, d];
        }
    }
    return bestDistance <= Math.max(2, Math.floor(name.length / 4)) ? best : null;
}

function distance(a, b) {
    const row = Array.from({ length: b.length + 1 }, (_, i) => i);
    for (let i = 1; i <= a.length; i++) {
        let previous = row[0];
        row[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const kept = row[j];
            row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
            previous = kept;
        }
    }
    return row[b.length];
}

/** The element's name and its child nodes in a preserveOrder node. */
function split(node) {
    const name = Object.keys(node).find((key) => key !== ':@');
    return { name, children: node[name], attributes: node[':@'] || {} };
}

function textOf(children) {
    return children.filter((c) => '#text' in c).map((c) => c['#text']).join('');
}

function checkValue(types, where, fieldType, children, problems) {
    const elements = children.filter((c) => !('#text' in c));
    const entry = types.get(fieldType);
    if (entry?.kind === 'object') {
        checkObject(types, where, fieldType, entry, elements, problems);
        if (textOf(children).trim()) {
            problems.push(`${where}: holds text, but ${fieldType} is a structure of elements`);
        }
        return;
    }
    if (elements.length) {
        problems.push(`${where}: holds elements, but its type ${fieldType} is a single value`);
        return;
    }
    const text = textOf(children);
    const scalar = entry?.kind === 'scalar' ? entry.name : fieldType;
    if (entry?.kind === 'enum' && !entry.values.has(text)) {
        const hint = nearest(text, entry.values);
        problems.push(`${where}: '${text}' is not a ${fieldType}` +
            (hint ? ` (did you mean '${hint}'?)` : ` (one of: ${[...entry.values].slice(0, 12).join(', ')}...)`));
    } else if (scalar === 'number' && !/^-?\d+(\.\d+)?$/.test(text)) {
        problems.push(`${where}: '${text}' is not a number`);
    } else if (scalar === 'boolean' && !/^(true|false)$/.test(text)) {
        problems.push(`${where}: '${text}' is not true or false`);
    } else if (scalar === 'date' && !/^\d{4}-\d{2}-\d{2}/.test(text)) {
        problems.push(`${where}: '${text}' is not a date`);
    } else if (!entry && !['string', 'number', 'boolean', 'date'].includes(fieldType)) {
        problems.push(`${where}: the type ${fieldType} is not in @salesforce/types`);
    }
}

function checkObject(types, where, typeName, entry, elements, problems) {
    const seen = new Map();
    for (const node of elements) {
        const { name, children } = split(node);
        const field = entry.fields.get(name);
        const path = `${where}/${name}`;
        if (!field) {
            const hint = nearest(name, entry.fields.keys());
            problems.push(`${path}: ${typeName} has no element '${name}'` + (hint ? ` (did you mean '${hint}'?)` : ''));
            continue;
        }
        seen.set(name, (seen.get(name) || 0) + 1);
        if (seen.get(name) === 2 && !field.array) {
            problems.push(`${path}: appears more than once, but ${typeName}.${name} is not a list`);
        }
        checkValue(types, path, field.type, children, problems);
    }
    const skipped = FILLED_BY_CONVERSION[typeName] || [];
    for (const [name, field] of entry.fields) {
        if (!field.optional && !field.array && !seen.has(name) && !skipped.includes(name)) {
            problems.push(`${where}: the required element '${name}' of ${typeName} is missing`);
        }
    }
}

/** Problems with one metadata XML text (empty when it matches its type); `label` names it in messages. */
export function checkMetadataText(text, expectedType, label) {
    const types = metadataTypes();
    let document;
    try {
        document = parser.parse(text);
    } catch (e) {
        return [`${label}: not well-formed XML: ${e.message}`];
    }
    const roots = document.filter((node) => !('?xml' in node) && !('#comment' in node) && !('#text' in node));
    if (roots.length !== 1) {
        return [`${label}: expected one root element, found ${roots.length}`];
    }
    const { name, children, attributes } = split(roots[0]);
    const problems = [];
    if (expectedType && name !== expectedType) {
        problems.push(`${label}: the root element is <${name}>, but the file name says ${expectedType}`);
    }
    if (attributes.xmlns !== NAMESPACE) {
        problems.push(`${label}: the root element must carry xmlns="${NAMESPACE}"`);
    }
    const entry = types.get(name);
    if (entry?.kind !== 'object') {
        problems.push(`${label}: <${name}> is not a Metadata API type`);
        return problems;
    }
    checkObject(types, `${label}: ${name}`, name, entry, children.filter((c) => !('#text' in c)), problems);
    return problems;
}

/** Problems with one metadata file on disk. */
export function checkMetadataFile(path, label = path) {
    const type = typeForFile(path);
    if (!type) {
        return [`${label}: no Metadata API type is known for this file suffix (add it to SUFFIX_TYPES)`];
    }
    return checkMetadataText(readFileSync(path, 'utf8'), type, label);
}
