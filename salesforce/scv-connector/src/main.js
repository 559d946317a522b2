/** The page Salesforce loads as the contact center's adapter URL: hand the connector to the base package. */
import { initializeConnector } from './base.js';
import { PresenceVendorConnector } from './presenceConnector.js';

const connector = new PresenceVendorConnector();
initializeConnector(connector);
window.addEventListener('pagehide', () => connector.stop());
