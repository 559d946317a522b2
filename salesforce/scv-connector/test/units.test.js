// The pure parts: the event-stream parser, the settings reader, the status map.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventStreamParser } from '../src/sse.js';
import { readConfig } from '../src/config.js';
import { StatusMap } from '../src/statusMap.js';

test('the event-stream parser joins split chunks, keeps ids and retry, and skips keepalives', () => {
    const parser = new EventStreamParser();
    assert.deepEqual(parser.push('retry: 2000\n\n: keepalive\n\nid: 7\nevent: pres'), []);
    const events = parser.push('ence\r\ndata: {"a":1}\r\n\r\nevent: agent\ndata: {"b":\ndata: 2}\n\n');
    assert.deepEqual(events, [{ id: '7', event: 'presence', data: '{"a":1}' }, { id: '7', event: 'agent', data: '{"b":\n2}' }]);
    assert.equal(parser.retryMs, 2000);
});

test('settings: https required except for localhost, token required, agent id derived from the username', () => {
    const base = { '/presenceConnector/connectorToken': 't', userName: 'mei@acme.example' };
    assert.throws(() => readConfig({ ...base, '/presenceConnector/connectorUrl': 'http://presence.example.com' }),
        /connectorUrl: must use https/);
    assert.throws(() => readConfig({ '/presenceConnector/connectorUrl': 'https://p.example.com', userName: 'x' }),
        /connectorToken: is required/);
    assert.deepEqual(readConfig({ ...base, '/presenceConnector/connectorUrl': 'https://p.example.com/' }),
        { baseUrl: 'https://p.example.com', token: 't', agentId: 'mei' });
    assert.equal(readConfig({ ...base, '/presenceConnector/connectorUrl': 'http://127.0.0.1:5000',
        '/presenceConnector/agentIdFrom': 'username' }).agentId, 'mei@acme.example');
    assert.equal(readConfig({ ...base, '/presenceConnector/connectorUrl': 'https://p.example.com',
        '/presenceConnector/agentId': 'lucia' }).agentId, 'lucia');
    assert.throws(() => readConfig({ ...base, '/presenceConnector/connectorUrl': 'https://p.example.com',
        '/presenceConnector/agentIdFrom': 'email' }), /agentIdFrom: must be/);
});

test('status map: both mapping forms, 15/18-character Ids, and Ids learned from Salesforce', () => {
    const map = new StatusMap([
        { id: 'ready', adapters: { omni_channel: 'Available' } },
        { id: 'break', adapters: { omni_channel: { developer_name: 'Break', id: '0N5000000000002AAA' } } },
        { id: 'on-a-call', adapters: {} }
    ]);
    assert.equal(map.stateFor({ statusApiName: 'Available' }).id, 'ready');
    assert.equal(map.stateFor({ statusId: '0N5000000000002' }).id, 'break');
    assert.equal(map.stateFor({ statusApiName: 'Meeting' }), null);
    assert.equal(map.statusFor({ id: 'ready', adapters: { omni_channel: 'Available' } }), null, 'Id not known yet');
    map.learnFromUserPresenceStatuses('{"0N5000000000001AAA":{"statusName":"Available","statusApiName":"Available"}}');
    assert.deepEqual(map.statusFor({ adapters: { omni_channel: 'Available' } }),
        { statusId: '0N5000000000001AAA', statusApiName: 'Available', statusName: 'Available' });
    assert.equal(map.stateFor({ statusId: '0N5000000000001AAA' }).id, 'ready');
    assert.equal(map.statusFor({ adapters: {} }), null);
});
