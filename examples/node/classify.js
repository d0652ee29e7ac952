// node classify.js BUNDLE_DIR < snippets.txt  ->  one JSON line per snippet: its ids and class probabilities.
const fs = require("fs");
const path = require("path");
const ort = require("onnxruntime-node");
const { makeTokenizer, toBatch } = require("./tokenizer");

async function main() {
  const bundle = process.argv[2];
  const manifest = JSON.parse(fs.readFileSync(path.join(bundle, "manifest.json"), "utf8"));
  const vocab = JSON.parse(fs.readFileSync(path.join(bundle, manifest.tokenizer.vocab), "utf8"));
  const encode = makeTokenizer(manifest.tokenizer, vocab);
  const session = await ort.InferenceSession.create(path.join(bundle, "model.onnx"));
  const snippets = fs.readFileSync(0, "utf8").split("\n").filter((line) => line.trim());
  const idLists = snippets.map(encode);
  const { data, dims } = toBatch(idLists, manifest.tokenizer.pad_id);
  const feeds = { [manifest.input.name]: new ort.Tensor("int64", data, dims) };
  const logits = (await session.run(feeds))[manifest.output.name];
  const classes = manifest.labels.length;
  snippets.forEach((text, row) => {
    const z = Array.from(logits.data.slice(row * classes, (row + 1) * classes));
    const top = Math.max(...z);
    const exp = z.map((v) => Math.exp(v - top));
    const sum = exp.reduce((a, b) => a + b, 0);
    console.log(JSON.stringify({ text, ids: idLists[row], probabilities: exp.map((e) => e / sum) }));
  });
}

main().catch((error) => {
  console.error(`classify.js: ${error.message}`);
  process.exit(1);
});
