// Omni-Channel status Ids from the documented userPresenceStatuses payload, found by name; set-up refused
// when a mapped status is not among them.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { PresenceVendorConnector } from '../src/presenceConnector.js';
import { StatusMap } from '../src/statusMap.js';
import { FakeSalesforce } from './helpers/salesforce.js';
import { FakeConnector } from './helpers/fakeConnector.js';

const AVAILABLE = '0N5000000000001AAA';

let server;
let salesforce;
let connector;

beforeEach(async () => {
    server = await new FakeConnector().start();
    salesforce = new FakeSalesforce();
});

afterEach(async () => {
    connector?.stop();
    salesforce.close();
    await server.stop();
});

function config(userPresenceStatuses) {
    return {
        '/presenceConnector/connectorUrl': server.url,
        '/presenceConnector/connectorToken': 'tok-secret',
        userName: 'edred@acme.example',
        userPresenceStatuses: JSON.stringify(userPresenceStatuses)
    };
}

test('a status is found by its name in the documented payload, before the agent ever picks it', async () => {
    connector = new PresenceVendorConnector({ retryMs: 20 });
    // a list this time, with the name spelt as the status's label ('Available' is the mapping's developer name)
    const ready = await salesforce.setUp(connector, config([
        { statusId: AVAILABLE, statusName: 'available', hasChannels: true, isOffline: false },
        { statusId: '0N5000000000009AAA', statusName: 'Offline', hasChannels: false, isOffline: true }
    ]));
    assert.equal(ready.type, 'CONNECTOR_READY', JSON.stringify(ready));
    await server.streamsOpen(1);
    const mark = salesforce.received.length;
    server.emit('presence', { agent_id: 'edred', state: { id: 'ready', adapters: { omni_channel: 'Available' } }, source: 'pbx' });
    assert.deepEqual(await salesforce.event('SET_AGENT_STATUS', 5000, mark), { statusId: AVAILABLE });
});

test('set-up is refused naming the mapping no status of the user matches, and what Salesforce offered', async () => {
    connector = new PresenceVendorConnector({ retryMs: 20 });
    const reply = await salesforce.setUp(connector, config({
        '0N5000000000007AAA': { statusId: '0N5000000000007AAA', statusName: 'On Break', hasChannels: false, isOffline: false }
    }));
    assert.equal(reply.payload.telephonyEventPayload.message, 'INVALID_PARAMS');
    const log = await salesforce.next((m) => m.type === 'LOG' && m.payload.isError);
    assert.match(JSON.stringify(log.payload), /matches the mapping 'Available' \(state 'ready'\).*offered 'On Break'/);
    assert.equal(server.streams.size, 0, 'no event stream is opened');
});

test('a mapping may name the status when its label differs from the developer name', () => {
    const map = new StatusMap([{ id: 'ready', adapters: { omni_channel: { developer_name: 'Ready_Voice', name: 'Ready for Calls' } } }]);
    map.learnFromUserPresenceStatuses({ [AVAILABLE]: { statusId: AVAILABLE, statusName: 'Ready for Calls' } });
    assert.deepEqual(map.unresolved(), []);
    assert.equal(map.statusFor(map.states[0]).statusId, AVAILABLE);
    assert.equal(map.stateFor({ statusId: AVAILABLE.slice(0, 15) }).id, 'ready');
    const underscores = new StatusMap([{ id: 'ready', adapters: { omni_channel: 'Available_for_Calls' } }]);
    underscores.learnFromUserPresenceStatuses([{ statusId: AVAILABLE, statusName: 'Available for Calls' }]);
    assert.equal(underscores.statusFor(underscores.states[0]).statusId, AVAILABLE);
});
