// withPresenceSync around a partner connector that handles calls: calls unaffected, status through the connector.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { withPresenceSync } from '../src/presenceSync.js';
import { FakeSalesforce } from './helpers/salesforce.js';
import { FakeConnector, STATES } from './helpers/fakeConnector.js';
import { CallingVendor } from './helpers/callingVendor.js';

const AVAILABLE = '0N5000000000001AAA';
const BREAK = '0N5000000000002AAA';
const CALL = { callId: 'call-1', callType: 'inbound', phoneNumber: '+15550100' };

let server;
let salesforce;
let connector;

function config(extra = {}) {
    return {
        '/acmeTelephony/region': 'eu-1',
        '/presenceConnector/connectorUrl': server.url,
        '/presenceConnector/connectorToken': 'tok-secret',
        userName: 'edred@acme.example',
        userPresenceStatuses: JSON.stringify([{ statusId: AVAILABLE, statusName: 'Available', hasChannels: true, isOffline: false }]),
        ...extra
    };
}

async function ready(extra) {
    const Synced = withPresenceSync(CallingVendor, { retryMs: 20 });
    connector = new Synced();
    const message = await salesforce.setUp(connector, config(extra));
    assert.equal(message.type, 'CONNECTOR_READY', JSON.stringify(message));
    return message;
}

/** Accept, hold, resume and end a call as Salesforce does; the events Salesforce heard for each. */
async function callRoundTrip() {
    const heard = {};
    let mark = salesforce.received.length;
    salesforce.send({ type: 'ACCEPT_CALL', call: CALL });
    heard.connected = await salesforce.event('CALL_CONNECTED', 5000, mark);
    mark = salesforce.received.length;
    salesforce.send({ type: 'HOLD', call: CALL });
    heard.held = await salesforce.event('HOLD_TOGGLE', 5000, mark);
    mark = salesforce.received.length;
    salesforce.send({ type: 'RESUME', call: CALL });
    heard.resumed = await salesforce.event('HOLD_TOGGLE', 5000, mark);
    mark = salesforce.received.length;
    salesforce.send({ type: 'END_CALL', call: CALL });
    heard.hangup = await salesforce.event('HANGUP', 5000, mark);
    return heard;
}

beforeEach(async () => {
    server = await new FakeConnector().start();
    salesforce = new FakeSalesforce();
});

afterEach(async () => {
    connector?.stop();
    salesforce.close();
    await server.stop();
});

test('with presence sync on, the vendor still answers every call message as it would alone', async () => {
    await ready();
    await server.streamsOpen(1);
    const before = server.requests.length;
    const heard = await callRoundTrip();
    assert.equal(heard.connected.callId, 'call-1');
    assert.equal(heard.connected.state, 'connected');
    assert.equal(heard.held.isCustomerOnHold, true);
    assert.equal(heard.resumed.isCustomerOnHold, false);
    const [ended] = [].concat(heard.hangup);
    assert.equal(ended.callId, 'call-1');
    assert.equal(connector.calls.size, 0);
    assert.equal(server.requests.length, before, 'calls made no request to the Presence Connector');
    assert.equal(connector.config['/acmeTelephony/region'], 'eu-1', "the vendor's init saw its own settings");
});

test("the rep's Omni-Channel status reaches both the vendor and the Presence Connector", async () => {
    await ready();
    const result = await salesforce.setStatus({ statusId: BREAK, statusName: 'Break' });
    assert.deepEqual(result, { success: true });
    assert.deepEqual(connector.statuses, [{ statusId: BREAK, statusName: 'Break' }]);
    assert.deepEqual(server.requests.find((r) => r.method === 'PUT').body, { state: 'break', source: 'crm' });
});

test('getAgentStatus answers from the Presence Connector', async () => {
    await ready();
    const mark = salesforce.received.length;
    salesforce.send({ type: 'GET_AGENT_STATUS' });
    assert.deepEqual(await salesforce.event('GET_AGENT_STATUS_RESULT', 5000, mark),
        { statusId: 'ready', statusType: 'Online', statusName: 'Ready for Calls' });
});

test('a change made elsewhere is published as SET_AGENT_STATUS, also in the middle of a call', async () => {
    await ready();
    await server.streamsOpen(1);
    let mark = salesforce.received.length;
    salesforce.send({ type: 'ACCEPT_CALL', call: CALL });
    await salesforce.event('CALL_CONNECTED', 5000, mark);
    mark = salesforce.received.length;
    server.emit('presence', { agent_id: 'edred', state: STATES[1], source: 'supervisor' });
    assert.deepEqual(await salesforce.event('SET_AGENT_STATUS', 5000, mark), { statusId: BREAK });
    assert.equal(connector.calls.size, 1, 'the call is still up');
});

test("a status the vendor's own system sets goes through the Presence Connector and back to Salesforce", async () => {
    await ready();
    await server.streamsOpen(1);
    const mark = salesforce.received.length;
    await connector.reportAgentStatus({ statusId: BREAK });
    assert.deepEqual(server.requests.find((r) => r.method === 'PUT').body, { state: 'break', source: 'pbx' });
    assert.deepEqual(await salesforce.event('SET_AGENT_STATUS', 5000, mark), { statusId: BREAK });
});

test("logout logs out of the vendor's system and of the Presence Connector", async () => {
    await ready();
    const mark = salesforce.received.length;
    salesforce.send({ type: 'LOGOUT' });
    assert.equal((await salesforce.event('LOGOUT_RESULT', 5000, mark)).success, true);
    assert.equal(connector.loggedOut, true);
    assert.equal(server.requests.find((r) => r.method === 'POST').url, '/api/v1/agents/edred/logout');
});

test('a presence set-up failure leaves the calls working and says why in the error log', async () => {
    await ready({ '/presenceConnector/connectorToken': 'wrong-token' });
    const log = await salesforce.next((m) => m.type === 'LOG' && m.payload.isError);
    assert.match(JSON.stringify(log.payload), /presence sync is off: .*answered 401/);
    const heard = await callRoundTrip();
    assert.equal(heard.connected.callId, 'call-1');
    assert.deepEqual(await salesforce.setStatus({ statusId: BREAK }), { success: true });
    assert.deepEqual(connector.statuses, [{ statusId: BREAK }], 'the vendor still hears the status');
    assert.equal(server.requests.filter((r) => r.method === 'PUT').length, 0);
    assert.doesNotMatch(JSON.stringify(salesforce.received), /wrong-token/);
});
