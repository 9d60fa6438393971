import { createPbxAdapter } from '../../src/providers/pbx/adapter.js';
import { registerAdapterContract } from './contract.js';
import { seedText } from './support/fixtures.js';

registerAdapterContract({
  name: 'pbx',
  makeAdapter: (baseUrl, timeouts, opts) =>
    createPbxAdapter(
      {
        baseUrl,
        apiKey: 'vZKtIKWsld0egNlkzHo8i5LVBqLNBSWARCQsPOSgDjFmAHM3tG',
        username: 'test',
        password: 'Aa123456',
        timezone: 'Asia/Tehran',
        callIdField: 'originated_call_id',
        ...timeouts,
      },
      opts,
    ),
  request: {
    attemptId: 'c1.000042.1',
    number: '552',
    action: 'originate',
    params: { caller: '557', context: 'main_routing', caller_id: '557', trunk_name: 'cisco', timeout: '30' },
  },
  replies: {
    accepted: { status: 200, body: seedText('pbx-originate-response.json') },
    rejected: { status: 200, body: JSON.stringify({ success: 0, message: 'callee is not reachable on trunk cisco', data: null }) },
    rejectedMessage: 'callee is not reachable on trunk cisco',
    badCredentials: { status: 200, body: JSON.stringify({ success: 0, message: 'Invalid API key', data: null }) },
    tooFast: { status: 200, body: JSON.stringify({ success: 0, message: 'rate limit exceeded, try later', data: null }) },
  },
  acceptedCallId: 'orig.call.1703145054.787335',
});
