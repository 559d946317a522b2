/**
 * Apex classes and triggers parsed with `@apexdevtools/apex-parser` (the ANTLR grammar of the Apex language
 * that Salesforce's own Apex tooling uses): any lexer or parser error is a problem.
 */
import { readFileSync } from 'node:fs';
import { ApexErrorListener, ApexParserFactory } from '@apexdevtools/apex-parser';

class Collect extends ApexErrorListener {
    constructor(label) {
        super();
        this.label = label;
        this.problems = [];
    }

    apexSyntaxError(line, column, message) {
        this.problems.push(`${this.label}:${line}:${column} ${message}`);
    }
}

/** Syntax problems in one Apex source text (a class unless `trigger`). */
export function parseApexText(text, label = 'input.cls', trigger = false) {
    const listener = new Collect(label);
    const { parser } = ApexParserFactory.createLexerAndParser(text, listener);
    if (trigger) {
        parser.triggerUnit();
    } else {
        parser.compilationUnit();
    }
    return listener.problems;
}

export function parseApexFile(path, label = path) {
    return parseApexText(readFileSync(path, 'utf8'), label, path.endsWith('.trigger'));
}
