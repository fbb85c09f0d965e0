// The Covenant extension: the grammar and language configuration come from package.json;
// this starts `covenant lsp` for diagnostics, hover, definitions, completion and outline.
const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration('covenant').get('server.path', 'covenant');
  const server = { command, args: ['lsp'], transport: TransportKind.stdio };
  client = new LanguageClient('covenant', 'Covenant', { run: server, debug: server }, {
    documentSelector: [{ language: 'covenant' }],
  });
  // The standard library is compiled into the binary; when its sources are not on disk, the
  // server names them `covenant-std:///NAME.cov` and serves their text on request.
  context.subscriptions.push(vscode.workspace.registerTextDocumentContentProvider('covenant-std', {
    provideTextDocumentContent: (uri) => client.sendRequest('covenant/source', { uri: uri.toString() }),
  }));
  client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
