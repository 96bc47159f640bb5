// Where the console's API is and how its requests are signed.
//
// Locally (`make serve`, the page at /console/): the page's own origin, unsigned (the local
// HTTP API plays the IAM principal itself). A deployed console replaces this file with its
// own: apiBase the stack's ApiUrl, and sign a SigV4 signer with Cognito credentials, e.g.
//
//   window.CARDMAKER_CONSOLE = {
//     apiBase: "https://abc123.execute-api.eu-west-1.amazonaws.com",
//     sign: CardmakerSigning.cognitoSigner({
//       region: "eu-west-1",
//       identityPoolId: "eu-west-1:1111-2222",
//       logins: () => ({"cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC": idToken()}),
//     }),
//   };
//
// (docs/operator-manual.md, "The console").
window.CARDMAKER_CONSOLE = {
  apiBase: "",
  sign: null,
  refreshSeconds: 3,
};
