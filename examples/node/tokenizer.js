// tk's text tokenizer (manifest.json "tokenizer" + vocab.json): the same ids as Python's toolkit.runtime.text.
function makeTokenizer(spec, vocab) {
  const index = new Map(vocab.map((word, id) => [word, id]));
  const apostrophes = new RegExp(`[${spec.apostrophes.join("")}]`, "g");
  const word = /[\p{L}\p{N}]+(?:'[\p{L}\p{N}]+)*/gu;
  return function encode(text) {
    let clean = text.replace(apostrophes, "'");
    if (spec.lowercase) clean = clean.toLowerCase();
    const words = (clean.match(word) || []).slice(0, spec.max_words);
    const ids = words.map((w) => index.get(w) ?? spec.unk_id);
    if (spec.bigrams) {
      for (let i = 0; i + 1 < words.length; i++) {
        const id = index.get(`${words[i]} ${words[i + 1]}`);
        if (id !== undefined) ids.push(id);
      }
    }
    return ids; // no words at all: nothing to classify
  };
}

// Snippets -> the model's input: int64 [batch, tokens], padded with pad_id after each snippet's ids.
function toBatch(idLists, padId) {
  const width = Math.max(1, ...idLists.map((ids) => ids.length));
  const data = new BigInt64Array(idLists.length * width).fill(BigInt(padId));
  idLists.forEach((ids, row) => ids.forEach((id, i) => (data[row * width + i] = BigInt(id))));
  return { data, dims: [idLists.length, width] };
}

module.exports = { makeTokenizer, toBatch };
