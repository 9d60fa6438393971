import { createSipcallAdapter } from '../../src/providers/sipcall/adapter.js';
import { registerAdapterContract } from './contract.js';
import { seedText, TOKEN } from './support/fixtures.js';

const refusal = (ret: number, status: number, msg: string, desc = '') =>
  JSON.stringify({ ret, data: { status, desc, reqtime: 1581307099, rsptime: 1581307099 }, msg });

for (const bodyEncoding of ['multipart', 'urlencoded'] as const) {
  registerAdapterContract({
    name: `sipcall (${bodyEncoding})`,
    makeAdapter: (apiUrl, timeouts, opts) =>
      createSipcallAdapter({ apiUrl: `${apiUrl}/openapi/V2.0.6/`, token: TOKEN, timezone: 'Asia/Shanghai', bodyEncoding, ...timeouts }, opts),
    request: {
      attemptId: 'c1.000042.1',
      number: '13333333333',
      action: 'playvoice',
      params: { voicetype: '2', voicefile: 'wwww.baidu.com/test.mp3', chengshudu: '1', userid: '1@extGroup-1' },
    },
    replies: {
      accepted: { status: 200, body: seedText('sipcall-response-playvoice.json') },
      rejected: { status: 200, body: refusal(200, 3, '', 'destnumber is on the blacklist') },
      rejectedMessage: 'destnumber is on the blacklist',
      badCredentials: { status: 200, body: refusal(400, 1, 'token 无效') },
      tooFast: { status: 200, body: refusal(200, 5, '', '呼叫过于频繁') },
    },
    acceptedCallId: null,
  });
}
