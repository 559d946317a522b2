/**
 * What the connector needs from the contact center's settings (Salesforce passes them to init()).
 *
 * Salesforce hands the connector its contact-center definition as flat keys `/<section>/<item>` plus a few
 * user fields (`userName`, `userPresenceStatuses`). This connector reads its own section,
 * `presenceConnector` (see contact-center.xml):
 *   /presenceConnector/connectorUrl   https URL of the Presence Connector (http only for localhost)
 *   /presenceConnector/connectorToken an integration-role API token of the connector
 *   /presenceConnector/agentId        optional: a fixed agent id (a contact center per agent, or tests)
 *   /presenceConnector/agentIdFrom    how to derive the agent id from the Salesforce username when agentId
 *                                     is empty: `username` (the whole username) or `local-part` (before @)
 */
import { Constants } from './base.js';

export const SECTION = '/presenceConnector';
const AGENT_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

/** An error the base package reports to Salesforce by its `type` (an ERROR_TYPE value). */
export class ConnectorFailure extends Error {
    constructor(type, message) {
        super(message);
        this.type = type;
    }
}

function invalid(item, why) {
    return new ConnectorFailure(Constants.ERROR_TYPE.INVALID_PARAMS,
        `contact center setting ${SECTION}/${item}: ${why}`);
}

function text(config, item) {
    const value = config[`${SECTION}/${item}`];
    return typeof value === 'string' ? value.trim() : '';
}

/** {baseUrl, token, agentId} from the connector config, or a ConnectorFailure naming the setting. */
export function readConfig(config) {
    config = config || {};
    const url = text(config, 'connectorUrl');
    let parsed;
    try {
        parsed = new URL(url);
    } catch {
        throw invalid('connectorUrl', 'is required and must be a full URL such as https://presence.example.com');
    }
    const local = ['localhost', '127.0.0.1', '[::1]'].includes(parsed.hostname);
    if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && local)) {
        throw invalid('connectorUrl', 'must use https:// (plain http only for localhost)');
    }
    const token = text(config, 'connectorToken');
    if (!token) {
        throw invalid('connectorToken', 'is required: an integration token (presence-connector tokens create --role integration)');
    }
    let agentId = text(config, 'agentId');
    if (!agentId) {
        const how = text(config, 'agentIdFrom') || 'local-part';
        if (!['username', 'local-part'].includes(how)) {
            throw invalid('agentIdFrom', "must be 'username' or 'local-part'");
        }
        const username = typeof config.userName === 'string' ? config.userName.trim() : '';
        if (!username) {
            throw invalid('agentId', 'is empty and Salesforce sent no userName to derive it from');
        }
        agentId = how === 'username' ? username : username.split('@')[0];
    }
    if (!AGENT_ID_RE.test(agentId)) {
        throw invalid('agentId', `'${agentId}' is not a valid agent id`);
    }
    return { baseUrl: parsed.href.replace(/\/+$/, ''), token, agentId };
}
