// The SCV connector on the real @salesforce/scv-connector-base, against a stand-in connector over HTTP.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { PresenceVendorConnector } from '../src/presenceConnector.js';
import { FakeSalesforce } from './helpers/salesforce.js';
import { FakeConnector, STATES, view } from './helpers/fakeConnector.js';

let server;
let salesforce;
let connector;

function config(extra = {}) {
    return {
        '/presenceConnector/connectorUrl': server.url,
        '/presenceConnector/connectorToken': 'tok-secret',
        userName: 'edred@acme.example',
        // as documented: statusId, statusName, hasChannels, isOffline (no API name)
        userPresenceStatuses: JSON.stringify({ '0N5000000000001AAA': { statusId: '0N5000000000001AAA',
            statusName: 'Available', hasChannels: true, isOffline: false } }),
        ...extra
    };
}

async function ready(extra) {
    connector = new PresenceVendorConnector({ retryMs: 20 });
    const message = await salesforce.setUp(connector, config(extra));
    assert.equal(message.type, 'CONNECTOR_READY', JSON.stringify(message));
    await server.streamsOpen(1);
    return message;
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

test('init reads the contact center settings, finds the agent from the username and reports ready', async () => {
    const message = await ready();
    assert.equal(message.payload.capabilities.PENDING_STATUS_CHANGE, true);
    assert.deepEqual(message.payload.agentConfig.SELECTED_PHONE, { type: 'SOFT_PHONE', number: undefined });
    const presence = server.requests.find((r) => r.url === '/api/v1/agents/edred/presence');
    assert.equal(presence.auth, 'Bearer tok-secret');
});

test('a missing connector URL is reported to Salesforce as invalid params naming the setting', async () => {
    connector = new PresenceVendorConnector();
    const reply = await salesforce.setUp(connector, config({ '/presenceConnector/connectorUrl': '' }));
    assert.equal(reply.payload.telephonyEventPayload.message, 'INVALID_PARAMS');
    const log = await salesforce.next((m) => m.type === 'LOG' && m.payload.isError);
    assert.match(JSON.stringify(log.payload), /presenceConnector\/connectorUrl/);
});

test('an agent the connector does not know is refused at init, without leaking the token', async () => {
    connector = new PresenceVendorConnector();
    const reply = await salesforce.setUp(connector, config({ userName: 'nobody@acme.example' }));
    assert.equal(reply.payload.telephonyEventPayload.message, 'INVALID_PARAMS');
    await salesforce.next((m) => m.type === 'LOG' && m.payload.isError);
    const logs = JSON.stringify(salesforce.received);
    assert.match(logs, /no agent 'nobody'/);
    assert.doesNotMatch(logs, /tok-secret/);
});

test('an Omni-Channel status change from Salesforce is put to the connector as the mapped state, source crm', async () => {
    await ready();
    const result = await salesforce.setStatus({ statusId: '0N5000000000002AAA', statusApiName: 'Break', statusName: 'Break' });
    assert.deepEqual(result, { success: true });
    const put = server.requests.find((r) => r.method === 'PUT');
    assert.equal(put.url, '/api/v1/agents/edred/presence');
    assert.deepEqual(put.body, { state: 'break', source: 'crm' });
});

test('a status mapped by Id only (no API name sent) still finds its state', async () => {
    await ready();
    await salesforce.setStatus({ statusId: '0N5000000000002' });
    assert.deepEqual(server.requests.find((r) => r.method === 'PUT').body, { state: 'break', source: 'crm' });
});

test('an unmapped Omni-Channel status is refused as INVALID_AGENT_STATUS and nothing is sent', async () => {
    await ready();
    const mark = salesforce.received.length;
    const result = await salesforce.setStatus({ statusId: '0N5000000000009AAA', statusApiName: 'Meeting' });
    assert.deepEqual(result, { success: false });
    const error = await salesforce.event('ERROR', 2000, mark);
    assert.equal(error.message, 'INVALID_AGENT_STATUS');
    const log = await salesforce.next((m) => m.type === 'LOG' && m.payload.isError, 2000, mark);
    assert.match(JSON.stringify(log.payload), /Omni-Channel status 'Meeting'/);
    assert.equal(server.requests.filter((r) => r.method === 'PUT').length, 0);
});

test('while a call is up an enqueued change waits, and is applied and announced when the call ends', async () => {
    await ready();
    server.emit('agent', view('edred', STATES[2], { on_call: true }));
    await waitFor(() => connector.view?.on_call === true);
    const result = await salesforce.setStatus({ statusId: '0N5000000000002AAA', statusApiName: 'Break' }, true);
    assert.deepEqual(result, { success: true });
    assert.equal(server.requests.filter((r) => r.method === 'PUT').length, 0, 'nothing is sent during the call');

    const mark = salesforce.received.length;
    server.emit('agent', view('edred', STATES[3], { on_call: false }));
    const announced = await salesforce.event('SET_AGENT_STATUS', 5000, mark);
    assert.deepEqual(announced, { statusId: '0N5000000000002AAA' });
    assert.deepEqual(server.requests.filter((r) => r.method === 'PUT').map((r) => r.body), [{ state: 'break', source: 'crm' }]);
});

test('without enqueueNextState a change during a call is applied at once', async () => {
    await ready();
    server.emit('agent', view('edred', STATES[2], { on_call: true }));
    await waitFor(() => connector.view?.on_call === true);
    await salesforce.setStatus({ statusId: '0N5000000000002AAA', statusApiName: 'Break' }, false);
    assert.equal(server.requests.filter((r) => r.method === 'PUT').length, 1);
});

test('a presence change made elsewhere is published to Salesforce as SET_AGENT_STATUS with the status Id', async () => {
    await ready();
    const mark = salesforce.received.length;
    server.emit('presence', { agent_id: 'edred', state: STATES[0], source: 'softphone' });
    assert.deepEqual(await salesforce.event('SET_AGENT_STATUS', 5000, mark), { statusId: '0N5000000000001AAA' });
});

test("the connector's own crm changes, other agents and unmapped states are not published", async () => {
    await ready();
    const mark = salesforce.received.length;
    server.emit('presence', { agent_id: 'edred', state: STATES[1], source: 'crm' });
    server.emit('presence', { agent_id: 'amira', state: STATES[1], source: 'softphone' });
    server.emit('presence', { agent_id: 'edred', state: STATES[2], source: 'pbx' });
    // a marker event that is published proves the ones before it were handled (and skipped)
    server.emit('presence', { agent_id: 'edred', state: STATES[1], source: 'supervisor' });
    const published = await salesforce.event('SET_AGENT_STATUS', 5000, mark);
    assert.deepEqual(published, { statusId: '0N5000000000002AAA' });
    const all = salesforce.received.slice(mark).filter((m) => salesforce.isEvent(m, 'SET_AGENT_STATUS'));
    assert.equal(all.length, 1);
});

test('a logout in the connector reaches Salesforce as LOGOUT_RESULT', async () => {
    await ready();
    const mark = salesforce.received.length;
    server.emit('presence', { agent_id: 'edred', state: null, source: 'supervisor' });
    assert.deepEqual(await salesforce.event('LOGOUT_RESULT', 5000, mark), { success: true, loginFrameHeight: 350 });
});

test('logout from Salesforce logs the agent out of the connector', async () => {
    await ready();
    const mark = salesforce.received.length;
    salesforce.send({ type: 'LOGOUT' });
    assert.deepEqual(await salesforce.event('LOGOUT_RESULT', 5000, mark), { success: true, loginFrameHeight: 350 });
    const post = server.requests.find((r) => r.method === 'POST');
    assert.equal(post.url, '/api/v1/agents/edred/logout');
    assert.deepEqual(post.body, { logon_source: 'CRM', source: 'crm' });
});

test("getAgentStatus answers with the agent's state in the connector", async () => {
    await ready();
    const mark = salesforce.received.length;
    salesforce.send({ type: 'GET_AGENT_STATUS' });
    const status = await salesforce.event('GET_AGENT_STATUS_RESULT', 5000, mark);
    assert.deepEqual(status, { statusId: 'ready', statusType: 'Online', statusName: 'Ready for Calls' });
});

test('the event stream reconnects after the connector drops it', async () => {
    await ready();
    server.streams.forEach((res) => res.destroy());
    await server.streamsOpen(2);
    const mark = salesforce.received.length;
    server.emit('presence', { agent_id: 'edred', state: STATES[1], source: 'pbx' });
    assert.deepEqual(await salesforce.event('SET_AGENT_STATUS', 5000, mark), { statusId: '0N5000000000002AAA' });
});

async function waitFor(condition, timeoutMs = 5000) {
    const until = Date.now() + timeoutMs;
    while (!condition()) {
        if (Date.now() > until) {
            throw new Error('condition not met in time');
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
    }
}
