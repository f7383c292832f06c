// The go.mod inputs of ../modfile-xmod.json. Regenerate that file with:
//   node cases.mjs > /tmp/modfile-cases.json
//   GO111MODULE=off GOPATH=/usr/share/gocode go run gen.go /tmp/modfile-cases.json > ../modfile-xmod.json
// An input starting with "b64:" is base64 bytes (JSON cannot carry invalid UTF-8).
import { readdirSync, readFileSync } from "node:fs";

const cases = {};
const td = "/usr/share/gocode/src/golang.org/x/mod/modfile/testdata/";
for (const f of readdirSync(td))
  if (f.endsWith(".in") || f.endsWith(".golden")) cases["xmod-testdata/" + f] = readFileSync(td + f, "utf8");
const b64 = (bytes) => "b64:" + Buffer.from(bytes).toString("base64");
Object.assign(cases, {
  typical: `module github.com/example/app

go 1.19

require (
	github.com/pkg/errors v0.9.1
	golang.org/x/text v0.3.7 // indirect
	gopkg.in/yaml.v3 v3.0.1
	rsc.io/quote/v3 v3.1.0
)

require github.com/davecgh/go-spew v1.1.1 // indirect

exclude golang.org/x/net v0.0.0-20190620200207-3b0461eec859

replace golang.org/x/text => golang.org/x/text v0.3.8

replace (
	github.com/pkg/errors v0.9.1 => ../errors
	example.com/old v1.0.0 => example.com/new v1.1.0
)

// The v1.0.0 tag was pushed by accident.
retract v1.0.0

retract [v1.1.0, v1.1.5] // Contains a data race.
`,
  empty: "",
  "only-comments": "// just a comment\n\n// another\n",
  "module-only": "module example.com/m\n",
  "module-no-newline": "module example.com/m",
  "module-quoted": 'module "example.com/m"\n',
  "module-quoted-space": 'module "example.com/a b"\n',
  "module-quoted-escapes": 'module "ex\\x61mple.com/\\u00e9\\101\\t"\n',
  "module-raw": "module `example.com/m`\n",
  "module-bad-escape": 'module "example.com/\\q"\n',
  "module-single-quote-escape": 'module "a\\\'b"\n',
  "module-unquoted-quote": "module exa'mple.com\n",
  "module-quote-in-middle": 'module exa"mple.com"\n',
  "module-string-then-ident": 'module "a"b\n',
  "module-missing-path": "module\n",
  "module-two-args": "module a b\n",
  "module-repeated": "module a\nmodule b\n",
  "module-block": "module (\n\texample.com/m\n)\n",
  "module-block-two": "module (\n\ta\n\tb\n)\n",
  "module-comment-glued": "module example.com/m// comment\n",
  "module-double-slash-path": "module example.com//m\n",
  "module-prefix-word": "modulex example.com/m\nmodule example.com/real\n",
  "modulepath-tab": "module\texample.com/tab\n",
  "modulepath-nbsp": "module\u00a0example.com/nbsp\n",
  "modulepath-after-comment": "// module fake\nmodule example.com/real\n",
  "modulepath-quoted-trailing": 'module "a" // c\n',
  "modulepath-raw-trailing": "module `a` x\n",
  "modulepath-empty-quoted": 'module ""\n',
  "modulepath-raw-cr": "module `a\rb`\n",
  "modulepath-indented": "   module   example.com/ind   \n",
  crlf: "module example.com/m\r\n\r\ngo 1.18\r\n\r\nrequire (\r\n\texample.com/a v1.0.0 // indirect\r\n)\r\n\r\n// why\r\nretract v0.1.0\r\n",
  bom: "\ufeffmodule example.com/m\n",
  "go-ok": "module m\ngo 1.19\n",
  "go-one-digit": "module m\ngo 1\n",
  "go-two-args": "module m\ngo 1.19 1.20\n",
  "go-no-args": "module m\ngo\n",
  "go-v-prefix": "module m\ngo v1.19\n",
  "go-beta": "module m\ngo 1.19beta\n",
  "go-dash-suffix": "module m\ngo 1.19-foo\n",
  "go-v-dash": "module m\ngo v1.19-x\n",
  "go-leading-zero": "module m\ngo 1.05\n",
  "go-repeated": "module m\ngo 1.18\ngo 1.19\n",
  "go-quoted": 'module m\ngo "1.19"\n',
  "require-single": "module m\nrequire example.com/a v1.2.3\n",
  "require-short-version": "module m\nrequire example.com/a v1.2\n",
  "require-build-meta": "module m\nrequire example.com/a v1.2.3+meta\n",
  "require-incompatible": "module m\nrequire example.com/a v2.0.0+incompatible\n",
  "require-v2-no-suffix": "module m\nrequire example.com/a v2.0.0\n",
  "require-v2-suffix": "module m\nrequire example.com/a/v2 v2.1.0\n",
  "require-v2-suffix-v1": "module m\nrequire example.com/a/v2 v1.0.0\n",
  "require-v1-suffix": "module m\nrequire example.com/a/v1 v1.0.0\n",
  "require-v02-suffix": "module m\nrequire example.com/a/v02 v2.0.0\n",
  "require-gopkgin": "module m\nrequire gopkg.in/yaml.v2 v2.4.0\n",
  "require-gopkgin-wrong": "module m\nrequire gopkg.in/yaml.v2 v3.0.0\n",
  "require-gopkgin-nosuffix": "module m\nrequire gopkg.in/yaml v1.0.0\n",
  "require-gopkgin-v1-pseudo": "module m\nrequire gopkg.in/check.v1 v0.0.0-20161208181325-20d25e280405\n",
  "require-gopkgin-unstable": "module m\nrequire gopkg.in/foo.v2-unstable v2.0.0\n",
  "require-pseudo": "module m\nrequire example.com/a v0.0.0-20191109021931-daa7c04131f5\n",
  "require-bad-version": "module m\nrequire example.com/a 1.2.3\n",
  "require-latest": "module m\nrequire example.com/a latest\n",
  "require-quoted": 'module m\nrequire "example.com/a" "v1.0.0"\n',
  "require-quoted-bad": 'module m\nrequire "example.com/a" "v1.0.0\\z"\n',
  "require-unquoted-quote-version": "module m\nrequire example.com/a v1'0\n",
  "require-three-args": "module m\nrequire example.com/a v1.0.0 extra\n",
  "require-one-arg": "module m\nrequire example.com/a\n",
  "require-empty-path": 'module m\nrequire "" v1.0.0\n',
  "require-indirect-variants": `module m
require (
	a.com/a v1.0.0 // indirect
	a.com/b v1.0.0 //indirect
	a.com/c v1.0.0 // indirect; for tests
	a.com/d v1.0.0 // indirect extra
	a.com/e v1.0.0 // indirect;
	a.com/f v1.0.0 // not indirect
	a.com/g v1.0.0 //	indirect	
	a.com/h v1.0.0
	// indirect
	a.com/i v1.0.0
)
require a.com/j v1.0.0 // indirect
`,
  "require-block-one-line": "module m\nrequire ( example.com/a v1.0.0 )\n",
  "require-empty-block": "module m\nrequire ()\n",
  "require-empty-block-spaced": "module m\nrequire (  ) // c\n",
  "require-empty-block-junk": "module m\nrequire ()x\n",
  "require-block-junk-after-close": "module m\nrequire (\n\texample.com/a v1.0.0\n) junk\n",
  "require-block-close-comment": "module m\nrequire (\n\texample.com/a v1.0.0\n) // done\n",
  "require-block-unterminated": "module m\n\nrequire (\n\texample.com/a v1.0.0\n",
  "require-nested-block": "module m\nrequire (\n\trequire (\n\texample.com/a v1.0.0\n)\n",
  "require-block-paren-in-line": "module m\nrequire (\n\texample.com/a ( v1.0.0\n)\n",
  "block-two-tokens": "module m\nrequire foo (\n\texample.com/a v1.0.0\n)\n",
  "block-unknown": "module m\nfoo (\n\tbar\n)\n",
  "block-go": "module m\ngo (\n\t1.19\n)\n",
  "top-rparen": "module m\n)\n",
  "top-lparen": "module m\n(\n",
  "top-brackets": "module m\n[x] {y} ,\n",
  "unknown-directive": "module m\nhello world\n",
  "unknown-directive-quoted-raw": 'module m\nfuture `raw // string` "x y"\n',
  "multiple-errors": "module m\nrequire a.com/x 1.0\nrequire a.com/y v2.0.0\nexclude a.com/z\nfoo bar\n",
  "exclude-ok": "module m\nexclude example.com/a v1.0.0\nexclude (\n\texample.com/b v1.1\n)\n",
  "exclude-bad": "module m\nexclude example.com/a v1.0.0 v2\n",
  "replace-forms": `module m
replace a.com/a => b.com/b v1.0.0
replace a.com/a v1.0.0 => b.com/b v1.2
replace a.com/c => ./local
replace a.com/d => ../up
replace a.com/e => /abs/path
replace a.com/f => C:\\win
replace a.com/g => .\\winrel
replace a.com/h => "./quoted dir"
replace a.com/i/v2 v2.0.0 => a.com/i/v3 v3.0.0
`,
  "replace-not-dir": "module m\nreplace a.com/a => b.com/b\n",
  "replace-at-version": "module m\nreplace a.com/a => b.com/b@v1.0.0\n",
  "replace-dir-version": "module m\nreplace a.com/a => ./dir v1.0.0\n",
  "replace-windows-path": "module m\nreplace a.com/a => ./dir\\sub\n",
  "replace-missing-arrow": "module m\nreplace a.com/a b.com/b v1.0.0\n",
  "replace-too-many": "module m\nreplace a.com/a v1 => b.com/b v1.0.0 extra\n",
  "replace-bad-old-version": "module m\nreplace a.com/a vX => b.com/b v1.0.0\n",
  "replace-bad-new-version": "module m\nreplace a.com/a => b.com/b vX\n",
  "replace-major-mismatch": "module m\nreplace a.com/a/v2 v1.0.0 => b.com/b v1.0.0\n",
  "replace-invalid-path": "module m\nreplace a.com/a/v1 => ./x\n",
  "replace-new-major-mismatch-allowed": "module m\nreplace a.com/a => b.com/b/v2 v1.0.0\n",
  "retract-forms": `module m
retract v1.0.0
retract "v1.0.1"
retract [v1.1.0, v1.2.0]
retract [ "v1.3.0" , "v1.4.0" ]
retract [v1.5.0,v1.6.0]
retract v1.7
retract latest
`,
  "retract-rationale": `module m

// Block comment applies
// to lines without their own.
retract (
	v1.0.0 // own suffix
	// own before
	v1.1.0

	v1.2.0
	v1.3.0
	[v2.0.0, v2.1.0] // range reason
)

// Single line
// with two comment lines.
retract v3.0.0 // and a suffix

// Detached comment.

retract v4.0.0
retract ( // on the paren
	v5.0.0
)
`,
  "retract-bad-interval": "module m\nretract [v1.0.0 v1.1.0]\nretract v2.0.0\n",
  "retract-missing-close": "module m\nretract [v1.0.0, v1.1.0\n",
  "retract-missing-high": "module m\nretract [v1.0.0,]\n",
  "retract-open": "module m\nretract [v1.0.0\n",
  "retract-empty-bracket": "module m\nretract [\n",
  "retract-no-args": "module m\nretract\nretract v1.0.0\n",
  "retract-extra": "module m\nretract v1.0.0 extra\n",
  "retract-interval-extra": "module m\nretract [v1.0.0, v1.1.0] junk\n",
  "retract-paren-mid": "module m\nretract ( v1.0.0\n",
  "retract-quoted-bad": 'module m\nretract "v1.0.0\n',
  "retract-quoted-bad2": 'module m\nretract "v1\\q"\n',
  "retract-unquoted-quote": "module m\nretract v1'0\n",
  "retract-no-module": "retract v1.0.0\n",
  "deprecated-simple": "// Deprecated: use example.com/new instead.\nmodule example.com/old\n",
  "deprecated-paragraph":
    "// Package old does things.\n//\n// Deprecated: use new.\n// It is better.\n//\n// More text.\nmodule example.com/old\n",
  "deprecated-second": "// Deprecated: first\n//\n// Deprecated: second\nmodule m\n",
  "deprecated-not-paragraph-start": "// Some text Deprecated: no\nmodule m\n",
  "deprecated-mid-line": "// See below\n// Deprecated: not a paragraph start\nmodule m\n",
  "deprecated-suffix": "module m // Deprecated: in suffix\n",
  "deprecated-before-and-suffix": "// Deprecated: before\nmodule m // suffix\n",
  "deprecated-empty": "// Deprecated:\nmodule m\n",
  "deprecated-spaces": "// Deprecated:     lots of spaces   \nmodule m\n",
  "deprecated-nospace": "//Deprecated:x\nmodule m\n",
  "deprecated-lowercase": "// deprecated: x\nmodule m\n",
  "deprecated-detached": "// Deprecated: detached\n\nmodule m\n",
  "deprecated-block-line": "module (\n\t// Deprecated: inside\n\tm\n)\n",
  "deprecated-block": "// Deprecated: on block\nmodule (\n\tm\n)\n",
  "deprecated-tab": "// Deprecated:\tTab\nmodule m\n",
  "slash-star": "module m\n/* no */\n",
  "slash-star-in-ident": "module m\nrequire a.com/x/*y v1.0.0\n",
  "string-newline": 'module m\nrequire "a.com/x\n',
  "string-eof": 'module m\nrequire "a.com/x',
  "string-escape-eof": 'module m\nrequire "a.com/x\\',
  "raw-string-eof": "module m\nrequire `a.com/x",
  "raw-string-newline": "module m\nfoo `a\nb`\n",
  "control-nul": "module m\nrequire a\u0000b v1.0.0\n",
  "control-vt": "module m\n\u000b\n",
  "control-ff-col": "module m\nrequire x\u000c v1.0.0\n",
  "nbsp-token": "module m\nrequire\u00a0x v1.0.0\n",
  "zero-width-space": "module m\u200b\n",
  "line-separator": "module m\u2028\n",
  "del-char": "module m\u007f\n",
  "unicode-ident": "module example.com/héllo/世界\nrequire example.com/ü v1.0.0\n",
  "emoji-col": "module m\nfoo 🎉 \u0001\n",
  "invalid-utf8-ident": b64([
    ...Buffer.from("module example.com/"),
    0xff,
    0xfe,
    ...Buffer.from("x\nrequire a.com/"),
    0xc3,
    ...Buffer.from(" v1.0.0\n"),
  ]),
  "invalid-utf8-version": b64([...Buffer.from("module m\nrequire a.com/b v1."), 0xff, ...Buffer.from("\n")]),
  "invalid-utf8-comment": b64([
    ...Buffer.from("// Deprecated: "),
    0xe2,
    0x82,
    ...Buffer.from("\nmodule m\n"),
  ]),
  "invalid-utf8-quoted": b64([...Buffer.from('module "a'), 0xff, ...Buffer.from('b"\n')]),
  "invalid-utf8-col": b64([...Buffer.from("module m\nfoo "), 0xed, 0xa0, 0x80, ...Buffer.from(" \u0001\n")]),
  "quoted-hex-bytes": 'module "a\\xffb"\n',
  "quoted-hex-valid": 'module "\\xc3\\xa9"\n',
  "quoted-unicode-surrogate": 'module "\\ud800"\n',
  "quoted-big-U": 'module "\\U0001F600"\n',
  "quoted-big-U-invalid": 'module "\\U00110000"\n',
  "quoted-octal-overflow": 'module "\\400"\n',
  "suffix-comment-assignment":
    "module m\nrequire (\n\ta.com/a v1.0.0\n\ta.com/b v1.0.0 // indirect\n) // after block\n// trailing\n",
  "comment-only-line-in-block": "module m\nrequire (\n\t// indirect\n\ta.com/a v1.0.0\n)\n",
  "whitespace-only": "  \t\r\n\n",
  "tab-indented-error": "module m\nrequire (\n\ta.com/a bad\n)\n",
  "space-indented-error": "module m\n    require a.com/a bad\n",
  "lax-ignores-exclude-errors": "module m\nexclude a.com/a bad\nreplace garbage\nfoo\n",
  "many-verbs":
    "module m\ngo 1.17\nrequire a.com/a v1.0.0\nexclude a.com/a v1.1.0\nreplace a.com/a => ./a\nretract v0.1.0\n",
});
process.stdout.write(JSON.stringify(cases));
