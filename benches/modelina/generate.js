// Runs AsyncAPI Modelina's RustFileGenerator on one document: `node generate.js SPEC OUT_DIR`.
// The codegen bench installs @asyncapi/modelina under target/ and points NODE_PATH at it.
const fs = require('fs');
const { RustFileGenerator } = require('@asyncapi/modelina');

async function main() {
  const [spec, outDir] = process.argv.slice(2);
  const document = JSON.parse(fs.readFileSync(spec, 'utf8'));
  fs.mkdirSync(outDir, { recursive: true });
  const generator = new RustFileGenerator();
  const models = await generator.generateToFiles(document, outDir, {});
  process.stdout.write(`${models.length} models\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
