/**
 * The Service Cloud Voice base package, in one place.
 *
 * `@salesforce/scv-connector-base` ships a UMD bundle: webpack resolves its named exports, but Node's ESM
 * loader only sees the CommonJS default export. Taking everything from the default export works in both,
 * so the tests run against exactly the classes the browser bundle uses.
 */
import scvBase from '@salesforce/scv-connector-base';

export const {
    initializeConnector, publishEvent, publishLog, Constants, VendorConnector, InitResult, GenericResult,
    LogoutResult, AgentConfigResult, CapabilitiesResult, ActiveCallsResult, Phone, AgentStatusInfo,
    AgentVendorStatusInfo, CallResult, HangupResult, HoldToggleResult, PhoneCall
} = scvBase;
