// AWS Signature Version 4 for the console's GET requests, with WebCrypto (no AWS SDK), and
// credentials from a Cognito identity pool: what a console deployed as a static site uses to
// call the IAM-authorized HTTP API (docs/operator-manual.md, "The console"). Unused locally.
//
// A signer is `async ({method, url, headers, body}) => headersToAdd`.
(function () {
  "use strict";
  const encoder = new TextEncoder();

  function hex(buffer) {
    return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function sha256Hex(text) {
    return hex(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
  }

  async function hmac(key, text) {
    const raw = typeof key === "string" ? encoder.encode(key) : key;
    const imported = await crypto.subtle.importKey(
      "raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return crypto.subtle.sign("HMAC", imported, encoder.encode(text));
  }

  // RFC 3986 percent-encoding, as SigV4 wants it (encodeURIComponent leaves !'()* alone).
  function uriEncode(text) {
    return encodeURIComponent(text).replace(
      /[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
  }

  // The SigV4 headers (authorization, x-amz-date, x-amz-security-token) for one request.
  // `now` is a Date; `credentials` {accessKeyId, secretAccessKey, sessionToken?}.
  async function signRequest({ method, url, headers = {}, body = "", credentials, region,
    service = "execute-api", now = new Date() }) {
    const target = new URL(url);
    const amzDate = now.toISOString().replace(/[-:]|\.\d{3}/g, ""); // 20261130T120000Z
    const day = amzDate.slice(0, 8);
    const signed = { host: target.host, "x-amz-date": amzDate };
    for (const [name, value] of Object.entries(headers)) signed[name.toLowerCase()] = value;
    if (credentials.sessionToken) signed["x-amz-security-token"] = credentials.sessionToken;
    const names = Object.keys(signed).sort();
    // Like every AWS SDK for services other than S3: the URL's (already encoded) path
    // segments are encoded once more.
    const path = target.pathname.split("/").map(uriEncode).join("/") || "/";
    const query = [...target.searchParams.entries()]
      .map(([name, value]) => [uriEncode(name), uriEncode(value)])
      .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1))
      .map(([name, value]) => `${name}=${value}`)
      .join("&");
    const canonical = [
      method.toUpperCase(),
      path,
      query,
      names.map((n) => `${n}:${String(signed[n]).trim().replace(/\s+/g, " ")}\n`).join(""),
      names.join(";"),
      await sha256Hex(body),
    ].join("\n");
    const scope = `${day}/${region}/${service}/aws4_request`;
    const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, await sha256Hex(canonical)].join("\n");
    let key = await hmac("AWS4" + credentials.secretAccessKey, day);
    for (const part of [region, service, "aws4_request"]) key = await hmac(key, part);
    const signature = hex(await hmac(key, toSign));
    const added = {
      authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, ` +
        `SignedHeaders=${names.join(";")}, Signature=${signature}`,
      "x-amz-date": amzDate,
    };
    if (credentials.sessionToken) added["x-amz-security-token"] = credentials.sessionToken;
    return added;
  }

  // A signer whose credentials come from a Cognito identity pool (GetId, then
  // GetCredentialsForIdentity: two unsigned calls), for the identity `logins()` names (e.g. a
  // user pool's ID token); renewed a minute before they expire.
  function cognitoSigner({ region, identityPoolId, logins }) {
    let cached = null;
    async function cognito(action, payload) {
      const answer = await fetch(`https://cognito-identity.${region}.amazonaws.com/`, {
        method: "POST",
        headers: {
          "content-type": "application/x-amz-json-1.1",
          "x-amz-target": `AWSCognitoIdentityService.${action}`,
        },
        body: JSON.stringify(payload),
      });
      if (!answer.ok) throw new Error(`Cognito ${action} answered HTTP ${answer.status}`);
      return answer.json();
    }
    async function credentials() {
      if (cached && cached.expires - Date.now() > 60000) return cached;
      const Logins = await logins();
      const { IdentityId } = await cognito("GetId", { IdentityPoolId: identityPoolId, Logins });
      const { Credentials: c } = await cognito("GetCredentialsForIdentity", { IdentityId, Logins });
      cached = {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretKey,
        sessionToken: c.SessionToken,
        expires: c.Expiration * 1000,
      };
      return cached;
    }
    return async (request) =>
      signRequest({ ...request, credentials: await credentials(), region });
  }

  window.CardmakerSigning = { signRequest, cognitoSigner };
})();
