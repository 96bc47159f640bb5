// Calls the fake TOP gateway with a real Node TOP SDK client (npm node-taobao-topclient, the
// package the issue names), for tests/integration/test_node_sdk_client.py. Every call is signed
// by the SDK's own TopClient.sign; the answers go to stdout as JSON.
//   node node_sdk_call.js <node_modules folder> <gateway url> <app key> <app secret>
// 1. "form": the SDK's own execute(), a form body, the SDK's own "yyyy-MM-dd HH:mm:ss" time
//    (its host's local time: the test runs node with TZ=Asia/Shanghai, as TOP wants GMT+8).
// 2. "form-epoch-ms": the same with an epoch-millisecond timestamp passed as a parameter.
// 3. "multipart": every parameter a multipart/form-data field and a file part, as the official
//    Node SDK sends a call: the SDK's sign(), the SDK's HTTP library (request) sending it.
// 4. "multipart-epoch-ms": the same with an epoch-millisecond timestamp.
// 5. "multipart-tampered": a field changed after signing (the gateway must refuse it).
'use strict';
const path = require('path');

const [modules, url, appkey, appsecret] = process.argv.slice(2);
const TopClient = require(path.join(modules, 'node-taobao-topclient', 'lib', 'topClient.js')).default;
const request = require(path.join(modules, 'request'));
const client = new TopClient({ appkey, appsecret, REST_URL: url });
const METHOD = 'tmall.purchase.card.bind';

function dto(outBizId) {
  return {
    top_app_key: '-103',
    out_biz_id: outBizId,
    card_no_s: '3101790202036006151',
    card_bind_user_nick: 'tracey_05',
  };
}

function outcome(promise) {
  return promise.then(
    (answer) => ({ ok: true, answer }),
    (error) => ({ ok: false, code: error && error.code, message: String(error && error.message) }),
  );
}

function multipart(timestamp, outBizId, tamper) {
  const args = {
    method: METHOD,
    timestamp,
    format: 'json',
    app_key: appkey,
    v: '2.0',
    sign_method: 'md5',
    card_bind_req_dto: JSON.stringify(dto(outBizId)),
  };
  args.sign = client.sign(args);
  if (tamper) args.card_bind_req_dto = JSON.stringify(dto(outBizId + 'X'));
  const formData = { ...args, img_bytes: { value: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0x3d, 0x26]), options: { filename: 'card.png', contentType: 'image/png' } } };
  return new Promise((resolve) => {
    request.post({ url, formData, json: true }, (error, response, body) => {
      if (error) resolve({ ok: false, message: String(error) });
      else if (body && body.error_response) resolve({ ok: false, code: body.error_response.code });
      else resolve({ ok: true, answer: body });
    });
  });
}

async function main() {
  const now = client.timestamp();
  const results = {
    form: await outcome(client.execute(METHOD, { card_bind_req_dto: dto('NODE-FORM') })),
    'form-epoch-ms': await outcome(
      client.execute(METHOD, { card_bind_req_dto: dto('NODE-FORM-MS'), timestamp: String(Date.now()) }),
    ),
    multipart: await multipart(now, 'NODE-MULTIPART', false),
    'multipart-epoch-ms': await multipart(String(Date.now()), 'NODE-MULTIPART-MS', false),
    'multipart-tampered': await multipart(String(Date.now()), 'NODE-TAMPERED', true),
  };
  process.stdout.write(JSON.stringify(results));
}

main();
