// Reads a RIS or BibTeX file with citation-js and prints its CSL-JSON items:
// node tests/citationjs/read.js FILE ris|bib (NODE_PATH: .node/node_modules).
const { plugins } = require('@citation-js/core');
require('@citation-js/plugin-ris');
require('@citation-js/plugin-bibtex');
const fs = require('fs');

const [file, format] = process.argv.slice(2);
const text = fs.readFileSync(file, 'utf8');
const type = format === 'ris' ? '@ris/file' : '@biblatex/text';
process.stdout.write(JSON.stringify(plugins.input.chain(text, { forceType: type, generateGraph: false })));
