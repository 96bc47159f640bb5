// Runs Node TOP SDKs' own signing code over the cases tools/make_sdk_vectors.py writes on stdin
// (JSON), and prints their signs (JSON). The SDKs' code is never committed here: the generator
// installs the npm package into a temporary folder and points at a checkout of the official
// Node SDK's public sources. Never run by the test suite.
//   node node_vectors.js <node-taobao-topclient folder> <official topSdk folder>
'use strict';
const path = require('path');

function officialClient(sdkDir) {
  // The official client requires its HTTP layer at load time; signing never uses it, so a
  // placeholder module stands in (no network, no extra packages).
  const network = path.join(sdkDir, 'lib', 'api', 'network.js');
  require.cache[network] = { id: network, filename: network, loaded: true, exports: {} };
  return require(path.join(sdkDir, 'lib', 'api', 'topClient.js')).TopClient;
}

function main() {
  const [communityDir, officialDir] = process.argv.slice(2);
  const Community = require(path.join(communityDir, 'lib', 'topClient.js')).default;
  const Official = officialClient(officialDir);
  const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
  const out = {};
  for (const c of input.cases) {
    const community = new Community({ appkey: c.params.app_key || 'k', appsecret: c.secret });
    const official = new Official({ appkey: c.params.app_key || 'k', appsecret: c.secret });
    out[c.id] = {
      'node-taobao-topclient': community.sign({ ...c.params }),
      topSdk: official.sign({ ...c.params }),
    };
  }
  process.stdout.write(JSON.stringify(out));
}

main();
