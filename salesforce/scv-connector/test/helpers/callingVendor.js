/**
 * A partner connector that handles calls, as a telephony vendor writes one: accept, end, hold and resume,
 * its own agent status, and its own answers. Nothing in it knows of the Presence Connector.
 */
import {
    VendorConnector, InitResult, GenericResult, AgentConfigResult, CapabilitiesResult, ActiveCallsResult, Phone,
    Constants, CallResult, HangupResult, HoldToggleResult, PhoneCall, LogoutResult, AgentVendorStatusInfo
} from '../../src/base.js';

export class CallingVendor extends VendorConnector {
    constructor() {
        super();
        this.calls = new Map();
        this.statuses = [];   // the Omni-Channel statuses the vendor heard of
        this.loggedOut = false;
    }

    init(config) {
        this.config = config;
        return Promise.resolve(new InitResult({ showLogin: false }));
    }

    getAgentConfig() {
        return Promise.resolve(new AgentConfigResult({
            phones: [Constants.PHONE_TYPE.SOFT_PHONE], selectedPhone: new Phone({ type: Constants.PHONE_TYPE.SOFT_PHONE })
        }));
    }

    getCapabilities() {
        return Promise.resolve(new CapabilitiesResult({ hasMute: true, hasRecord: false, hasMerge: false, hasSwap: false }));
    }

    getActiveCalls() {
        return Promise.resolve(new ActiveCallsResult({ activeCalls: [...this.calls.values()] }));
    }

    phoneCall(call, state) {
        return new PhoneCall({ callId: call.callId, callType: call.callType || Constants.CALL_TYPE.INBOUND, state,
            phoneNumber: call.phoneNumber || '+15550100' });
    }

    acceptCall(call) {
        const connected = this.phoneCall(call, Constants.CALL_STATE.CONNECTED);
        this.calls.set(call.callId, connected);
        return Promise.resolve(new CallResult({ call: connected }));
    }

    endCall(call) {
        const ended = this.phoneCall(call, Constants.CALL_STATE.ENDED);
        this.calls.delete(call.callId);
        return Promise.resolve(new HangupResult({ calls: [ended] }));
    }

    hold(call) {
        return Promise.resolve(new HoldToggleResult({ isThirdPartyOnHold: false, isCustomerOnHold: true,
            calls: { [call.callId]: this.calls.get(call.callId) } }));
    }

    resume(call) {
        return Promise.resolve(new HoldToggleResult({ isThirdPartyOnHold: false, isCustomerOnHold: false,
            calls: { [call.callId]: this.calls.get(call.callId) } }));
    }

    setAgentStatus(agentStatus, statusInfo) {
        this.statuses.push(statusInfo);
        return Promise.resolve(new GenericResult({ success: true }));
    }

    getAgentStatus() {
        return Promise.resolve(new AgentVendorStatusInfo({ statusId: 'vendor', statusType: 'Online', statusName: 'Vendor' }));
    }

    logout() {
        this.loggedOut = true;
        return Promise.resolve(new LogoutResult({ success: true }));
    }
}
