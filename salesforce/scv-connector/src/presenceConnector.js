/**
 * Presence Connector as a Service Cloud Voice partner-telephony connector (presence only).
 *
 * Salesforce -> connector: the rep changes Omni-Channel status; the base package calls setAgentStatus()
 * with the status, and this connector PUTs the mapped state to /api/v1/agents/{id}/presence (source `crm`).
 * While a call is up and Salesforce asks to enqueue the change (enqueueNextState), it is kept and applied
 * when the connector reports the call over.
 * Connector -> Salesforce: the connector's event stream (/api/v1/events) reports presence changes made
 * anywhere else (softphone, PBX, supervisor, timed rules); mapped ones are published as SET_AGENT_STATUS,
 * a logout as LOGOUT_RESULT. Changes this connector made itself (source `crm`) are not echoed back.
 * Calls are not carried here (getActiveCalls is always empty); the PBX reports them to the connector.
 */
import {
    Constants, VendorConnector, InitResult, GenericResult, LogoutResult, AgentConfigResult, CapabilitiesResult,
    ActiveCallsResult, Phone, AgentStatusInfo, AgentVendorStatusInfo, publishEvent, publishLog
} from './base.js';
import { ConnectorFailure, readConfig } from './config.js';
import { CHANGE_SOURCE, ConnectorApi } from './connectorApi.js';
import { StatusMap, omniTarget } from './statusMap.js';

const LOG_EVENT = 'PRESENCE_CONNECTOR';

export class PresenceVendorConnector extends VendorConnector {
    /** fetchImpl and retryMs are for tests; the browser uses the global fetch and the server's retry hint. */
    constructor({ fetchImpl, retryMs } = {}) {
        super();
        this.fetchImpl = fetchImpl;
        this.retryMs = retryMs;
        this.view = null;
        this.pending = null;
        this.abort = null;
    }

    /** Read the contact-center settings, check the agent exists, and start following the connector's events. */
    async init(connectorConfig) {
        this.stop();
        const settings = readConfig(connectorConfig);
        this.agentId = settings.agentId;
        this.api = new ConnectorApi(settings, this.fetchImpl || globalThis.fetch);
        let catalogue;
        try {
            [catalogue, this.view] = await Promise.all([this.api.presenceStates(), this.api.presence(this.agentId)]);
        } catch (e) {
            if (e.status === 404) {
                throw new ConnectorFailure(Constants.ERROR_TYPE.INVALID_PARAMS,
                    `the Presence Connector has no agent '${this.agentId}' (set ${'/presenceConnector/agentId'} or agentIdFrom)`);
            }
            throw e;
        }
        this.statuses = new StatusMap(catalogue.states || []);
        this.statuses.learnFromUserPresenceStatuses(connectorConfig.userPresenceStatuses);
        const missing = this.statuses.unresolved();
        if (missing.length) {
            // without the Id a change made elsewhere could never reach Omni-Channel: refuse now, naming it
            const names = missing.map((state) => `'${omniTarget(state).developerName}' (state '${state.id}')`);
            const offered = this.statuses.offered.length ? this.statuses.offered.map((n) => `'${n}'`).join(', ') : 'none';
            throw new ConnectorFailure(Constants.ERROR_TYPE.INVALID_PARAMS,
                `no Omni-Channel status of this user matches the mapping ${names.join(', ')}; ` +
                `Salesforce offered ${offered} in userPresenceStatuses. Give the status to the user's profile or ` +
                'permission set, set adapters.omni_channel.name to its name, or add its id to adapters.omni_channel');
        }
        this.pending = null;
        this.abort = new AbortController();
        this.following = this.api.follow((event) => this.onConnectorEvent(event), {
            signal: this.abort.signal, retryMs: this.retryMs,
            onError: (message) => this.log(message, true)
        });
        return new InitResult({ showLogin: false });
    }

    /** Stop following the event stream (page unload, re-init, tests). */
    stop() {
        this.abort?.abort();
        this.abort = null;
    }

    getAgentConfig() {
        return Promise.resolve(new AgentConfigResult({
            phones: [Constants.PHONE_TYPE.SOFT_PHONE],
            selectedPhone: new Phone({ type: Constants.PHONE_TYPE.SOFT_PHONE })
        }));
    }

    getCapabilities() {
        return Promise.resolve(new CapabilitiesResult({
            hasMute: false, hasRecord: false, hasMerge: false, hasSwap: false, debugEnabled: false,
            hasPendingStatusChange: true
        }));
    }

    getActiveCalls() {
        return Promise.resolve(new ActiveCallsResult({ activeCalls: [] }));
    }

    /**
     * The rep changed Omni-Channel status. statusInfo is {statusId, statusApiName, statusName}; an unmapped
     * status is refused with INVALID_AGENT_STATUS naming it, so the admin sees what to map.
     */
    async setAgentStatus(agentStatus, statusInfo = {}, enqueueNextState = false) {
        this.statuses.learn(statusInfo);
        const state = this.statuses.stateFor(statusInfo);
        if (!state) {
            const name = statusInfo.statusApiName || statusInfo.statusName || statusInfo.statusId || agentStatus;
            throw new ConnectorFailure(Constants.ERROR_TYPE.INVALID_AGENT_STATUS,
                `no presence state is mapped to the Omni-Channel status '${name}' ` +
                '(add adapters: {omni_channel: <DeveloperName>} to a state of the presence configuration)');
        }
        if (enqueueNextState && this.view?.on_call) {
            this.pending = { stateId: state.id };
            this.log(`on a call: '${state.id}' is queued until the call ends`);
            return new GenericResult({ success: true });
        }
        this.pending = null;
        this.view = await this.api.setPresence(this.agentId, state.id);
        return new GenericResult({ success: true });
    }

    /** The agent's state in the connector (the vendor side of the status). */
    async getAgentStatus() {
        this.view = await this.api.presence(this.agentId);
        const state = this.view.state;
        return new AgentVendorStatusInfo({
            statusId: state ? state.id : undefined,
            statusType: state ? state.status_label : 'Logout',
            statusName: state ? state.label : 'Logged out'
        });
    }

    /** Log the agent out of the connector (already logged out counts as done). */
    async logout() {
        try {
            await this.api.logout(this.agentId);
        } catch (e) {
            if (!(e.status === 409 && e.code === 'not_logged_in')) {
                throw e;
            }
        }
        this.pending = null;
        return new LogoutResult({ success: true });
    }

    /** One event from the connector's stream. */
    async onConnectorEvent({ event, data }) {
        try {
            if (event === 'snapshot') {
                this.view = (data.agents || []).find((agent) => agent.id === this.agentId) || this.view;
            } else if (event === 'agent' && data.id === this.agentId) {
                const callEnded = this.view?.on_call && !data.on_call;
                this.view = data;
                if (callEnded && this.pending) {
                    await this.applyPending();
                }
            } else if (event === 'presence' && data.agent_id === this.agentId && data.source !== CHANGE_SOURCE) {
                await this.publishPresence(data.state);
            }
        } catch (e) {
            this.log(`could not handle the connector's '${event}' event: ${e.message}`, true);
        }
    }

    async applyPending() {
        const { stateId } = this.pending;
        this.pending = null;
        this.view = await this.api.setPresence(this.agentId, stateId);
        // Salesforce queued the change; say that it is now in force.
        await this.publishPresence(this.view.state);
    }

    async publishPresence(state) {
        if (state === null) {
            await publishEvent({ eventType: Constants.EVENT_TYPE.LOGOUT_RESULT, payload: new LogoutResult({ success: true }) });
            return;
        }
        const status = this.statuses.statusFor(state);
        if (status) {
            await publishEvent({ eventType: Constants.EVENT_TYPE.SET_AGENT_STATUS, payload: new AgentStatusInfo(status) });
        }
    }

    log(message, isError = false) {
        publishLog({ eventType: LOG_EVENT, payload: { agentId: this.agentId, message }, isError });
    }
}
