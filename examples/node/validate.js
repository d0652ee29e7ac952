// Checks bundles' manifest.json files against tk's JSON Schema (schema/manifest.schema.json) with ajv:
//   node validate.js ../../exported/fashion-mlp/manifest.json ...
// Prints "<file>: valid" for each, or the first problems and exits 1.
"use strict";
const fs = require("fs");
const path = require("path");
const Ajv2020 = require("ajv/dist/2020");

const schemaFile = path.join(__dirname, "..", "..", "schema", "manifest.schema.json");
// Strict, but for two of ajv's style rules the schema breaks on purpose: a shape is ["batch", then sizes]
// (a tuple with a tail), and a user's model's source requires "file" only when its kind is "file" (if/then).
const ajv = new Ajv2020({ allErrors: true, strict: true, strictTuples: false, strictRequired: false });
const validate = ajv.compile(JSON.parse(fs.readFileSync(schemaFile, "utf8")));

let failed = false;
for (const file of process.argv.slice(2)) {
  const manifest = JSON.parse(fs.readFileSync(file, "utf8"));
  if (validate(manifest)) {
    console.log(`${file}: valid`);
  } else {
    failed = true;
    const problems = validate.errors.slice(0, 3).map((e) => `${e.instancePath || "/"} ${e.message}`);
    console.log(`${file}: invalid: ${problems.join("; ")}`);
  }
}
process.exit(failed ? 1 : 0);
