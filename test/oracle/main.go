// Command oracle answers questions with golang.org/x/mod, so that goark's
// TypeScript port can be compared with the real thing (test/differential/).
//
// Build (GOPATH mode, Debian's Go and x/mod; test/helpers/oracle.ts does this):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o test/oracle/bin/oracle ./test/oracle
//
// Protocol: one JSON request per line on stdin, one JSON answer per line on
// stdout, in the same order.
//
//	request: {"op": "module.CheckPath", "args": [ARG, ...]}
//	answer:  {"v": RESULT} | {"err": "error text"} | {"panic": "text"}
//
// An ARG is a JSON number, boolean, array, or a string given either as a plain
// JSON string or as {"b": "<base64>"}. The base64 form carries arbitrary bytes:
// JSON cannot carry invalid UTF-8, and a JSON "\ud800" escape decodes to U+FFFD
// in Go, so the TypeScript side sends every string as the WTF-8 bytes of its
// UTF-16 code units (a lone surrogate becomes the 3-byte sequence ED xx xx,
// which Go sees as invalid UTF-8). Result strings come back as plain JSON
// strings (Go's encoder turns invalid UTF-8 into U+FFFD there).
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

type request struct {
	Op   string            `json:"op"`
	Args []json.RawMessage `json:"args"`
}

type answer struct {
	V     interface{} `json:"v,omitempty"`
	Err   *string     `json:"err,omitempty"`
	Panic string      `json:"panic,omitempty"`
}

// args decodes the positional arguments of one request.
type args []json.RawMessage

func (a args) str(i int) string {
	if i >= len(a) {
		panic(fmt.Sprintf("missing argument %d", i))
	}
	raw := a[i]
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	var b struct {
		B *string `json:"b"`
	}
	if err := json.Unmarshal(raw, &b); err != nil || b.B == nil {
		panic(fmt.Sprintf("argument %d is not a string: %s", i, raw))
	}
	data, err := base64.StdEncoding.DecodeString(*b.B)
	if err != nil {
		panic(fmt.Sprintf("argument %d: bad base64: %v", i, err))
	}
	return string(data)
}

func (a args) strs(i int) []string {
	if i >= len(a) {
		panic(fmt.Sprintf("missing argument %d", i))
	}
	var list []json.RawMessage
	if err := json.Unmarshal(a[i], &list); err != nil {
		panic(fmt.Sprintf("argument %d is not a list: %v", i, err))
	}
	out := make([]string, len(list))
	for j := range list {
		out[j] = args(list).str(j)
	}
	return out
}

func (a args) num(i int) int64 {
	if i >= len(a) {
		panic(fmt.Sprintf("missing argument %d", i))
	}
	var n int64
	if err := json.Unmarshal(a[i], &n); err != nil {
		panic(fmt.Sprintf("argument %d is not an integer: %v", i, err))
	}
	return n
}

func errText(err error) *string {
	s := err.Error()
	return &s
}

// result packs (value, error) into an answer.
func result(v interface{}, err error) answer {
	if err != nil {
		return answer{Err: errText(err)}
	}
	return answer{V: v}
}

// okOrErr is the answer of a check function: {"v": true} or {"err": ...}.
func okOrErr(err error) answer { return result(true, err) }

type fileErrorJSON struct {
	Path string `json:"path"`
	Err  string `json:"err"`
}

type checkedJSON struct {
	Valid     []string        `json:"valid"`
	Omitted   []fileErrorJSON `json:"omitted"`
	Invalid   []fileErrorJSON `json:"invalid"`
	SizeError *string         `json:"sizeError,omitempty"`
	Err       *string         `json:"err,omitempty"`
}

// checkedToJSON converts CheckedFiles; rel, when set, turns the OS paths that
// CheckDir reports back into slash paths relative to the directory.
func checkedToJSON(cf modzip.CheckedFiles, rel func(string) string) checkedJSON {
	if rel == nil {
		rel = func(s string) string { return s }
	}
	out := checkedJSON{Valid: []string{}, Omitted: []fileErrorJSON{}, Invalid: []fileErrorJSON{}}
	for _, p := range cf.Valid {
		out.Valid = append(out.Valid, rel(p))
	}
	for _, fe := range cf.Omitted {
		out.Omitted = append(out.Omitted, fileErrorJSON{rel(fe.Path), fe.Err.Error()})
	}
	for _, fe := range cf.Invalid {
		out.Invalid = append(out.Invalid, fileErrorJSON{rel(fe.Path), fe.Err.Error()})
	}
	if cf.SizeError != nil {
		out.SizeError = errText(cf.SizeError)
	}
	if err := cf.Err(); err != nil {
		out.Err = errText(err)
	}
	return out
}

func relTo(dir string) func(string) string {
	return func(p string) string {
		r, err := filepath.Rel(dir, p)
		if err != nil {
			return p
		}
		return filepath.ToSlash(r)
	}
}

type modVersionJSON struct {
	Path    string `json:"path"`
	Version string `json:"version,omitempty"`
}

type modFileJSON struct {
	Module     *modVersionJSON  `json:"module,omitempty"`
	Deprecated *string          `json:"deprecated,omitempty"`
	Go         *string          `json:"go,omitempty"`
	Require    []requireJSON    `json:"require"`
	Exclude    []modVersionJSON `json:"exclude"`
	Replace    []replaceJSON    `json:"replace"`
	Retract    []retractJSON    `json:"retract"`
}

type requireJSON struct {
	Path     string `json:"path"`
	Version  string `json:"version"`
	Indirect bool   `json:"indirect"`
}

type replaceJSON struct {
	Old modVersionJSON `json:"old"`
	New modVersionJSON `json:"new"`
}

type retractJSON struct {
	Low       string `json:"low"`
	High      string `json:"high"`
	Rationale string `json:"rationale"`
}

func modFileToJSON(f *modfile.File) modFileJSON {
	out := modFileJSON{Require: []requireJSON{}, Exclude: []modVersionJSON{}, Replace: []replaceJSON{}, Retract: []retractJSON{}}
	if f.Module != nil {
		out.Module = &modVersionJSON{Path: f.Module.Mod.Path}
		if f.Module.Deprecated != "" {
			d := f.Module.Deprecated
			out.Deprecated = &d
		}
	}
	if f.Go != nil {
		g := f.Go.Version
		out.Go = &g
	}
	for _, r := range f.Require {
		out.Require = append(out.Require, requireJSON{r.Mod.Path, r.Mod.Version, r.Indirect})
	}
	for _, x := range f.Exclude {
		out.Exclude = append(out.Exclude, modVersionJSON{x.Mod.Path, x.Mod.Version})
	}
	for _, r := range f.Replace {
		out.Replace = append(out.Replace, replaceJSON{
			modVersionJSON{r.Old.Path, r.Old.Version},
			modVersionJSON{r.New.Path, r.New.Version},
		})
	}
	for _, r := range f.Retract {
		out.Retract = append(out.Retract, retractJSON{r.Low, r.High, r.Rationale})
	}
	return out
}

func hashBytes(names []string, contents []string) (string, error) {
	if len(names) != len(contents) {
		return "", errors.New("names and contents differ in length")
	}
	byName := make(map[string]string, len(names))
	for i, n := range names {
		byName[n] = contents[i]
	}
	return dirhash.Hash1(names, func(name string) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(byName[name])), nil
	})
}

// zipFromDir runs CreateFromDir into zipPath and reports what CheckDir says
// about the same directory, plus the h1 of the zip it wrote.
func zipFromDir(dir, path, version, zipPath string) answer {
	type out struct {
		Checked checkedJSON `json:"checked"`
		Err     *string     `json:"createErr,omitempty"`
		H1      string      `json:"h1,omitempty"`
		Names   []string    `json:"names,omitempty"`
	}
	var o out
	cf, err := modzip.CheckDir(dir)
	if err != nil && len(cf.Valid) == 0 && len(cf.Omitted) == 0 && len(cf.Invalid) == 0 && cf.SizeError == nil {
		// An I/O error from listing: report it as the whole answer.
		return answer{Err: errText(err)}
	}
	o.Checked = checkedToJSON(cf, relTo(dir))
	f, err := os.Create(zipPath)
	if err != nil {
		return answer{Err: errText(err)}
	}
	cerr := modzip.CreateFromDir(f, module.Version{Path: path, Version: version}, dir)
	if err := f.Close(); err != nil && cerr == nil {
		cerr = err
	}
	if cerr != nil {
		o.Err = errText(cerr)
		os.Remove(zipPath)
		return answer{V: o}
	}
	h1, err := dirhash.HashZip(zipPath, dirhash.Hash1)
	if err != nil {
		return answer{Err: errText(err)}
	}
	o.H1 = h1
	return answer{V: o}
}

func handle(op string, a args) (ans answer) {
	defer func() {
		if r := recover(); r != nil {
			ans = answer{Panic: fmt.Sprint(r)}
		}
	}()
	switch op {
	case "ping":
		return answer{V: "pong"}

	// module: paths
	case "module.CheckPath":
		return okOrErr(module.CheckPath(a.str(0)))
	case "module.CheckImportPath":
		return okOrErr(module.CheckImportPath(a.str(0)))
	case "module.CheckFilePath":
		return okOrErr(module.CheckFilePath(a.str(0)))
	case "module.EscapePath":
		return result(module.EscapePath(a.str(0)))
	case "module.UnescapePath":
		return result(module.UnescapePath(a.str(0)))
	case "module.EscapeVersion":
		return result(module.EscapeVersion(a.str(0)))
	case "module.UnescapeVersion":
		return result(module.UnescapeVersion(a.str(0)))
	case "module.SplitPathVersion":
		prefix, pathMajor, ok := module.SplitPathVersion(a.str(0))
		return answer{V: map[string]interface{}{"prefix": prefix, "pathMajor": pathMajor, "ok": ok}}
	case "module.Check":
		return okOrErr(module.Check(a.str(0), a.str(1)))
	case "module.CheckPathMajor":
		return okOrErr(module.CheckPathMajor(a.str(0), a.str(1)))
	case "module.CanonicalVersion":
		return answer{V: module.CanonicalVersion(a.str(0))}
	case "module.MatchPrefixPatterns":
		return answer{V: module.MatchPrefixPatterns(a.str(0), a.str(1))}
	case "module.Sort":
		paths, versions := a.strs(0), a.strs(1)
		list := make([]module.Version, len(paths))
		for i := range paths {
			list[i] = module.Version{Path: paths[i], Version: versions[i]}
		}
		module.Sort(list)
		out := make([][2]string, len(list))
		for i, m := range list {
			out[i] = [2]string{m.Path, m.Version}
		}
		return answer{V: out}

	// module: pseudo-versions
	case "module.IsPseudoVersion":
		return answer{V: module.IsPseudoVersion(a.str(0))}
	case "module.IsZeroPseudoVersion":
		return answer{V: module.IsZeroPseudoVersion(a.str(0))}
	case "module.PseudoVersion":
		// args: major, older, unix seconds, rev
		return answer{V: module.PseudoVersion(a.str(0), a.str(1), time.Unix(a.num(2), 0), a.str(3))}
	case "module.ZeroPseudoVersion":
		return answer{V: module.ZeroPseudoVersion(a.str(0))}
	case "module.PseudoVersionBase":
		return result(module.PseudoVersionBase(a.str(0)))
	case "module.PseudoVersionTime":
		t, err := module.PseudoVersionTime(a.str(0))
		if err != nil {
			return answer{Err: errText(err)}
		}
		return answer{V: t.UTC().Format(time.RFC3339)}
	case "module.PseudoVersionRev":
		return result(module.PseudoVersionRev(a.str(0)))

	// semver
	case "semver.IsValid":
		return answer{V: semver.IsValid(a.str(0))}
	case "semver.Canonical":
		return answer{V: semver.Canonical(a.str(0))}
	case "semver.Major":
		return answer{V: semver.Major(a.str(0))}
	case "semver.MajorMinor":
		return answer{V: semver.MajorMinor(a.str(0))}
	case "semver.Prerelease":
		return answer{V: semver.Prerelease(a.str(0))}
	case "semver.Build":
		return answer{V: semver.Build(a.str(0))}
	case "semver.Compare":
		return answer{V: semver.Compare(a.str(0), a.str(1))}
	case "semver.Max":
		return answer{V: semver.Max(a.str(0), a.str(1))}
	case "semver.Sort":
		list := a.strs(0)
		semver.Sort(list)
		return answer{V: list}

	// modfile: args file name, content
	case "modfile.Parse", "modfile.ParseLax":
		parse := modfile.Parse
		if op == "modfile.ParseLax" {
			parse = modfile.ParseLax
		}
		f, err := parse(a.str(0), []byte(a.str(1)), nil)
		if err != nil {
			return answer{Err: errText(err)}
		}
		return answer{V: modFileToJSON(f)}
	case "modfile.ModulePath":
		return answer{V: modfile.ModulePath([]byte(a.str(0)))}
	case "modfile.MustQuote":
		return answer{V: modfile.MustQuote(a.str(0))}
	case "modfile.AutoQuote":
		return answer{V: modfile.AutoQuote(a.str(0))}

	// dirhash
	case "dirhash.HashGoMod":
		return result(hashBytes([]string{"go.mod"}, []string{a.str(0)}))
	case "dirhash.Hash1":
		// args: names, contents (parallel lists)
		return result(hashBytes(a.strs(0), a.strs(1)))
	case "dirhash.HashDir":
		return result(dirhash.HashDir(a.str(0), a.str(1), dirhash.Hash1))
	case "dirhash.HashZip":
		return result(dirhash.HashZip(a.str(0), dirhash.Hash1))
	case "dirhash.DirFiles":
		return result(dirhash.DirFiles(a.str(0), a.str(1)))
	case "dirhash.HashFiles":
		// args: dir, prefix, relative slash paths: Hash1 over exactly those files
		// of dir, named prefix/rel (what a zip holding only them hashes to).
		dir, prefix, rels := a.str(0), a.str(1), a.strs(2)
		names := make([]string, len(rels))
		for i, r := range rels {
			names[i] = prefix + "/" + r
		}
		return result(dirhash.Hash1(names, func(name string) (io.ReadCloser, error) {
			return os.Open(filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(name, prefix+"/"))))
		}))

	// zip
	case "zip.CheckDir":
		dir := a.str(0)
		cf, err := modzip.CheckDir(dir)
		if err != nil && len(cf.Valid) == 0 && len(cf.Omitted) == 0 && len(cf.Invalid) == 0 && cf.SizeError == nil {
			return answer{Err: errText(err)}
		}
		return answer{V: checkedToJSON(cf, relTo(dir))}
	case "zip.CreateFromDir":
		// args: dir, module path, version, output zip path
		return zipFromDir(a.str(0), a.str(1), a.str(2), a.str(3))
	case "zip.CheckZip":
		// args: module path, version, zip path
		cf, err := modzip.CheckZip(module.Version{Path: a.str(0), Version: a.str(1)}, a.str(2))
		if err != nil && len(cf.Valid) == 0 && len(cf.Invalid) == 0 && cf.SizeError == nil {
			return answer{Err: errText(err)}
		}
		return answer{V: checkedToJSON(cf, nil)}
	case "zip.Unzip":
		// args: dir, module path, version, zip path
		return okOrErr(modzip.Unzip(a.str(0), module.Version{Path: a.str(1), Version: a.str(2)}, a.str(3)))
	}
	if h, ok := extraOps[op]; ok {
		return h(a)
	}
	return answer{Panic: "unknown op " + op}
}

// extraOps holds ops registered by the other files of this package (their
// init functions), so each area adds its ops without editing this switch.
var extraOps = map[string]func(args) answer{}

func main() {
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for {
		line, err := in.ReadBytes('\n')
		line = bytes.TrimSpace(line)
		if len(line) > 0 {
			var req request
			var ans answer
			if jerr := json.Unmarshal(line, &req); jerr != nil {
				ans = answer{Panic: "bad request: " + jerr.Error()}
			} else {
				ans = handle(req.Op, args(req.Args))
			}
			if eerr := enc.Encode(ans); eerr != nil {
				fmt.Fprintln(os.Stderr, "oracle: encode:", eerr)
				os.Exit(1)
			}
			// Flush when no more input is already buffered, so a batch is
			// answered in one write but a lone request is never held back.
			if in.Buffered() == 0 {
				if ferr := out.Flush(); ferr != nil {
					os.Exit(1)
				}
			}
		}
		if err != nil {
			if err != io.EOF {
				fmt.Fprintln(os.Stderr, "oracle: read:", err)
				os.Exit(1)
			}
			return
		}
	}
}
