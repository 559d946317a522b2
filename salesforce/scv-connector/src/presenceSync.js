/**
 * Presence sync for any Service Cloud Voice partner-telephony connector.
 *
 * A contact center loads one partner connector, and a user belongs to one contact center: a centre whose
 * calls run through a telephony vendor's connector cannot also load the standalone presence connector
 * (presenceConnector.js). Instead, wrap the vendor's connector class:
 *
 *   import { initializeConnector } from '@salesforce/scv-connector-base';
 *   import { withPresenceSync } from './presenceSync.js';
 *   import { AcmeConnector } from 'acme-scv-connector';
 *   initializeConnector(new (withPresenceSync(AcmeConnector))());
 *
 * and add the `/presenceConnector/*` settings (config.js) to the contact center's definition beside the
 * vendor's own. Then:
 *   - setAgentStatus: the vendor hears the rep's Omni-Channel status as before (when it implements it), and
 *     the Presence Connector gets the mapped state (source `crm`);
 *   - getAgentStatus: answered from the Presence Connector (the vendor's when presence sync is off);
 *   - SET_AGENT_STATUS: presence changes made anywhere else (softphone, PBX, supervisor, timed rules) are
 *     published from the Presence Connector's event stream; a status change the vendor's own system makes
 *     goes through `this.reportAgentStatus(statusInfo)` (instead of publishing SET_AGENT_STATUS itself), so
 *     the Presence Connector records it (source `pbx`) and it comes back to Salesforce from the stream;
 *   - logout: the vendor's logout, then the agent is logged out of the Presence Connector;
 *   - everything else — calls (accept, decline, end, hold, resume, mute, dial, transfer...), capabilities,
 *     agent config, active calls — is the vendor's, untouched.
 * Presence sync never takes calls down: if its set-up fails (settings, agent unknown, a mapped status the
 * user lacks), the vendor's connector starts anyway and the reason is logged as an error.
 */
import { Constants, GenericResult, VendorConnector, publishLog } from './base.js';
import { ConnectorFailure } from './config.js';
import { PresenceVendorConnector } from './presenceConnector.js';

const LOG_EVENT = 'PRESENCE_CONNECTOR';
/** Where a change the vendor's telephony system made is recorded as coming from. */
export const VENDOR_SOURCE = 'pbx';

/** A subclass of `Vendor` (a VendorConnector class) whose agent status goes through the Presence Connector. */
export function withPresenceSync(Vendor, { fetchImpl, retryMs } = {}) {
    const implemented = (name) => typeof Vendor.prototype[name] === 'function'
        && Vendor.prototype[name] !== VendorConnector.prototype[name];

    return class PresenceSynced extends Vendor {
        /** The vendor's init, then presence sync's; the vendor's answer is Salesforce's answer. */
        async init(connectorConfig) {
            this.presenceSync?.stop();
            this.presenceSync = null;
            const result = await super.init(connectorConfig);
            const sync = new PresenceVendorConnector({ fetchImpl, retryMs });
            try {
                await sync.init(connectorConfig);
                this.presenceSync = sync;
            } catch (e) {
                sync.stop();
                publishLog({ eventType: LOG_EVENT, isError: true,
                    payload: { message: `presence sync is off: ${e.message}` } });
            }
            return result;
        }

        async setAgentStatus(agentStatus, statusInfo = {}, enqueueNextState = false) {
            const vendor = implemented('setAgentStatus')
                ? await super.setAgentStatus(agentStatus, statusInfo, enqueueNextState) : null;
            if (!this.presenceSync) {
                return vendor || new GenericResult({ success: true });
            }
            try {
                const synced = await this.presenceSync.setAgentStatus(agentStatus, statusInfo, enqueueNextState);
                return vendor || synced;
            } catch (e) {
                if (vendor) {
                    // the vendor took the status: its answer stands, the Presence Connector's refusal is logged
                    this.presenceSync.log(e.message, true);
                    return vendor;
                }
                throw e;
            }
        }

        getAgentStatus() {
            if (this.presenceSync) {
                return this.presenceSync.getAgentStatus();
            }
            return super.getAgentStatus();
        }

        async logout() {
            const vendor = implemented('logout') ? await super.logout() : null;
            if (this.presenceSync) {
                try {
                    const synced = await this.presenceSync.logout();
                    return vendor || synced;
                } catch (e) {
                    if (!vendor) {
                        throw e;
                    }
                    this.presenceSync.log(e.message, true);
                }
            }
            return vendor;
        }

        /**
         * For the vendor's code: its telephony system changed the agent's status ({statusId} or
         * {statusApiName}/{statusName} of an Omni-Channel status). Recorded in the Presence Connector, which
         * brings it back to Salesforce as SET_AGENT_STATUS (and to every other place it keeps in step).
         */
        async reportAgentStatus(statusInfo) {
            if (!this.presenceSync) {
                throw new ConnectorFailure(Constants.ERROR_TYPE.GENERIC_ERROR, 'presence sync is off (see the error log)');
            }
            const sync = this.presenceSync;
            const state = sync.statuses.stateFor(statusInfo || {});
            if (!state) {
                throw new ConnectorFailure(Constants.ERROR_TYPE.INVALID_AGENT_STATUS,
                    `no presence state is mapped to the Omni-Channel status ${JSON.stringify(statusInfo)}`);
            }
            sync.view = await sync.api.setPresence(sync.agentId, state.id, VENDOR_SOURCE);
            return sync.view;
        }

        stop() {
            this.presenceSync?.stop();
            super.stop?.();
        }
    };
}
