/**
 * Aura JavaScript (controllers, helpers) and the static resources the components load, linted with
 * Salesforce's `@salesforce/eslint-plugin-aura`: its `locker` configuration (the recommended rules, the
 * Aura API rules, and Lightning Locker's secure-window, secure-document and ECMAScript-intrinsics rules).
 *
 * One rule is ours, from Locker's own source: Locker's SecureWindow lists `EventSource` as a plain function,
 * not a constructor, so `new EventSource(...)` may never open a stream in an org still on Locker
 * (Lightning Web Security allows it). The plugin has no rule for that, so `no-restricted-syntax` refuses it
 * and the bridge reads its stream with fetch and a streaming body reader instead.
 */
import { createRequire } from 'node:module';
import { ESLint } from 'eslint';
import { SOURCE_DIR } from './files.js';

const require = createRequire(import.meta.url);
const aura = require('@salesforce/eslint-plugin-aura');
const lwsPlugin = require('@locker/eslint-plugin-locker');
// Lightning Web Security's own rules (its `recommended` set: the base errors and the distortion warnings),
// from the legacy-format @locker/eslint-config-locker, taken over into this flat configuration
const lwsRules = { ...require('@locker/eslint-config-locker/base').rules,
    ...require('@locker/eslint-config-locker/recommended').rules };

export const LOCKER_EVENT_SOURCE = 'Lightning Locker\'s SecureWindow exposes EventSource as a function, not a ' +
    'constructor: read the stream with fetch and response.body.getReader() (works under Locker and LWS)';

export const CONFIG = [
    ...aura.configs.locker,
    { plugins: { '@locker/locker': lwsPlugin }, rules: lwsRules },
    {
        // Aura's controller and helper files are one object literal in parentheses, and Aura's own
        // project template (sf project generate) turns these two rules off for them
        files: ['**/aura/**/*.js'],
        rules: { 'no-unused-expressions': 'off', 'vars-on-top': 'off' }
    },
    {
        rules: {
            'no-restricted-globals': ['error', { name: 'EventSource', message: LOCKER_EVENT_SOURCE }],
            'no-restricted-properties': ['error', { property: 'EventSource', message: LOCKER_EVENT_SOURCE }],
            'no-restricted-syntax': ['error',
                { selector: "NewExpression[callee.name='EventSource']", message: LOCKER_EVENT_SOURCE },
                { selector: "NewExpression[callee.property.name='EventSource']", message: LOCKER_EVENT_SOURCE }]
        }
    }
];

function linter() {
    return new ESLint({ overrideConfigFile: true, overrideConfig: CONFIG, cwd: SOURCE_DIR });
}

function describe(results, label = (path) => path) {
    return results.flatMap((result) => result.messages.map((m) =>
        `${label(result.filePath)}:${m.line}:${m.column} ${m.ruleId || 'parse'}: ${m.message}`));
}

/** Problems (errors and warnings) in JavaScript files, as "file:line:column rule: message". */
export async function lintFiles(paths, label) {
    return describe(await linter().lintFiles(paths), label);
}

/** Problems in one JavaScript text (for a test's broken copy). */
export async function lintText(text, label = 'input.js') {
    return describe(await linter().lintText(text, { filePath: label }), () => label);
}
