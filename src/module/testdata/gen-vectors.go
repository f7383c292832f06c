// gen-vectors prints go-vectors.json: what golang.org/x/mod (v0.7.0) and Go's
// path.Match answer for a corpus of inputs, so the TypeScript unit tests can
// compare against Go itself. The corpus is every string literal in x/mod's own
// module and semver tests plus the edge cases listed below.
//
// Regenerate (Debian packages golang-go and golang-golang-x-mod-dev):
//
//	cd src/module/testdata && GO111MODULE=off GOPATH=/usr/share/gocode \
//	  GOCACHE=/tmp/gocache go run gen-vectors.go > go-vectors.json
package main

import (
	"encoding/hex"
	"encoding/json"
	"go/scanner"
	"go/token"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

const xmod = "/usr/share/gocode/src/golang.org/x/mod/"

var extra = []string{
	"", "v", "v1", "v1.2", "v1.2.3", "v01.2.3", "v1.02.3", "v1.2.03", "v1.2-pre", "v1.2.3-01", "v1.2.3-0a",
	"v1.2.3-", "v1.2.3-a..b", "v1.2.3+", "v1.2.3+a..b", "v1.2.3+meta", "v1.2.3-pre+meta", "v1.2.3+incompatible",
	"v2.0.0+incompatible", "v1.0.0-RC1", "V1.2.3", "1.2.3", "v1.2.3.4", "v18446744073709551616.0.0",
	"v1.0.0-alpha", "v1.0.0-alpha.1", "v1.0.0-alpha.beta", "v1.0.0-beta", "v1.0.0-beta.2", "v1.0.0-beta.11",
	"v1.0.0-rc.1", "v1.0.0-0", "v1.0.0-9", "v1.0.0-10", "v1.0.0-a-b", "v1.0.0--", "v1.0.0-1.2.3.4",
	"v0.0.0-20191109021931-daa7c04131f5", "v2.0.0-20191109021931-daa7c04131f5", "v1.2.4-0.20191109021931-daa7c04131f5",
	"v1.2.3-pre.0.20191109021931-daa7c04131f5", "v2.0.1-0.20191109021931-daa7c04131f5+incompatible",
	"v2.0.1-20200722182040-012345abcdef+incompatible", "v0.0.0-20191109021931-daa7c04131f5+incompatible",
	"v1.0.0-0.20191109021931-daa7c04131f5", "v0.0.0-00010101000000-000000000000", "v3.0.0-00010101000000-000000000000",
	"v0.0.0-20191332021931-daa7c04131f5", "v0.0.0-20190229000000-daa7c04131f5", "v0.0.0-20200229000000-daa7c04131f5",
	"v0.0.0-21000229000000-daa7c04131f5", "v0.0.0-20191109240000-daa7c04131f5", "v0.0.0-20191109235959-daa7c04131f5",
	"v0.0.0-20191109236000-daa7c04131f5", "v0.0.0-20191109235960-daa7c04131f5", "v0.0.0-20190431000000-daa7c04131f5",
	"v0.0.0-00000101000000-000000000000", "v0.0.0-20190100000000-abc", "v0.0.0-2019110902193-daa7c04131f5",
	"v0.0.0-201911090219310-daa7c04131f5", "v1.2.3-pre.1.0.20191109021931-daa7c04131f5", "v1.2.3-a.b.0.20191109021931-x",
	"v1.10.0-0.20191109021931-daa7c04131f5", "v1.0.0-0.20191109021931-DAA7", "v1.2.3-0.20191109021931-daa7+meta.1",
	"v0.0.0-20191109021931-daa7c04131f5-x", "v0.0.0-20191109021931-", "v0.0.0-x.20191109021931-abc",
	"example.com", "example.com/m", "example.com/m/v2", "example.com/m/v1", "example.com/m/v0", "example.com/m/v02",
	"example.com/m/v1.2", "example.com/m/vx", "example.com/m/v", "example.com/m/v2/sub", "example.com/v2",
	"gopkg.in/yaml.v2", "gopkg.in/yaml.v0", "gopkg.in/yaml.v1", "gopkg.in/yaml.v01", "gopkg.in/yaml", "gopkg.in/yaml.v2-unstable",
	"gopkg.in/user/yaml.v3", "gopkg.in/v2", "gopkg.in/.v2", "gopkg.in/yaml.v", "gopkg.in/check.v1",
	"github.com/Azure/azure-sdk-for-go", "github.com/GoogleCloudPlatform/cloudsql-proxy", "github.com/Sirupsen/logrus",
	"github.com/!azure/azure-sdk-for-go", "github.com/!!azure", "github.com/!Azure", "github.com/azure!", "github.com/!1",
	"localhost/x", "Example.com/x", "example.com/foo/v1", "example.com/.foo", "example.com/a+b", "example.com/a..b",
	"-example.com/x", "example.com/-x", "example-.com", ".example.com/x", "example.com./x", "example.com/x.",
	"example.com//x", "example.com/x/", "/example.com", "example.com/aux.c", "example.com/AUX", "example.com/com1.txt",
	"example.com/com0", "example.com/lpt9x", "example.com/conx", "example.com/con", "example.com/PrN.a.b",
	"example.com/EXAMPL~1", "example.com/EXAMPL~1.txt", "example.com/EXAMPL~", "example.com/a~1b", "example.com/~1",
	"example.com/x_y~z", "exa_mple.com/x", "exa~mple.com/x", "example.com/é", "example.com/a b", "example.com/a\x00b",
	"example.com/\xff", "a/b\xc3", "example.com/a:b", "example.com/a\\b", "example.com/...", "example.com/..",
	"example.com/.", "a.b/c/d/e/f/g", "x.y", "x.y/v2", "x.y/v2/v3", "x.y/v9999999999999999999999",
	"dir/file.go", ".gitignore", "a/.b/c", "-dash", "a/-b", "file name with spaces", "a/b c/d e.go", "héllo/wörld.go",
	"日本語/ファイル.go", "a/\u00a0", "a/\u0301", "a/\u212a", "a/ǅ", "a/!#$%&()+,-.=@[]^_{}~", "a/\"", "a/'", "a/*", "a/<",
	"a/>", "a/?", "a/`", "a/|", "a/\t", "a/\x7f", "a/\u2028", "a/\U0001F600", "a/\U00020000", "a/\U000E0100",
	"a/\U0010FFFF", "LICENSE", "go.mod", "GO.MOD", "vendor/modules.txt", "master", "feature/x", "v1.0.0!", "HEAD",
	"!v", "v1.0.0-!r!c1", "v1.0.0-!R", "!", "!!", "a!", "aB", "v1.é", "v1.E", "con", "CON.v1", "a~1", "..", ".", "...", "a..",
	"x.y/a\u0130b", "x.y/ıb", "x.y/ſ", "a/ℌ", "a/ǈ",
}

var globCases = [][2]string{
	{"", "rsc.io/quote"}, {"/", "rsc.io/quote"}, {"*/quote", "rsc.io/quote"}, {"*/quo", "rsc.io/quote"},
	{"*/quo??", "rsc.io/quote"}, {"*/quo*", "rsc.io/quote"}, {"*quo*", "rsc.io/quote"}, {"rsc.io", "rsc.io/quote"},
	{"*.io", "rsc.io/quote"}, {"rsc.io/", "rsc.io/quote"}, {"rsc", "rsc.io/quote"}, {"rsc*", "rsc.io/quote"},
	{"rsc.io", "rsc.io/quote/v3"}, {"*/quote", "rsc.io/quote/v3"}, {"*/quote/", "rsc.io/quote/v3"},
	{"*/quote/*", "rsc.io/quote/v3"}, {"*/quote/*/", "rsc.io/quote/v3"}, {"*/v3", "rsc.io/quote/v3"},
	{"*/*/v3", "rsc.io/quote/v3"}, {"*/*/*", "rsc.io/quote/v3"}, {"*/*/*/", "rsc.io/quote/v3"},
	{"*/*/*", "rsc.io/quote"}, {"*/*/*/", "rsc.io/quote"}, {"*/*/*,,", "rsc.io/quote"},
	{"*/*/*,,*/quote", "rsc.io/quote"}, {",,*/quote", "rsc.io/quote"},
	{"*.corp.example.com", "git.corp.example.com/xyzzy"}, {"rsc.io/private", "rsc.io/private/quux"},
	{"rsc.io/priv", "rsc.io/private"}, {"github.com/*/x", "github.com/a/x/y"}, {"github.com/*/x", "github.com/a/y/x"},
	{"git.corp.example.com,*.internal", "foo.internal/bar"}, {"git.corp.example.com,*.internal", "internal/bar"},
	{"[a-c]*.io", "b.io/x"}, {"[a-c]*.io", "d.io/x"}, {"[^a-c]*.io", "d.io/x"}, {"[!a]*", "b"}, {"[", "a"}, {"[a", "a"},
	{"[]a]", "a"}, {"[a-]", "a"}, {"[-a]", "a"}, {"[\\]]", "]"}, {"\\", "a"}, {"a\\", "a"}, {"\\*", "*"}, {"\\*", "a"},
	{"a*[", "abc"}, {"a*[", "a"}, {"*[", "x"}, {"x,[", "x"}, {"[,x", "x"}, {"*x", "ax"}, {"*x", "a/x"}, {"a*b*c", "abbbc"},
	{"a*b*c", "abbbcx"}, {"?", "é"}, {"??", "é"}, {"*???", "\U0001F600"}, {"*??", "é"}, {"*[\ufffd]", "é"},
	{"[é]", "é"}, {"[à-ê]", "é"}, {"[^é]", "é"}, {"é*", "éa"}, {"*é", "aé"}, {"\xff", "\xff"}, {"[\xff]", "\xff"},
	{"*/", "a"}, {"a/", "a/b"}, {"a//", "a/b"}, {"a//b", "a/x/b"}, {"*", ""}, {"", ""}, {"?", ""}, {"*,a", "b"},
	{"example.com/*", "example.com"}, {"example.com/*", "example.com/"}, {"*", "example.com/x"}, {"**", "a"},
	{"a[b-", "ab"}, {"a[b-]", "ab"}, {"a[\\", "a"}, {"[^]a]", "b"}, {"[]", "a"}, {"a?b", "a/b"}, {"a[/]b", "a/b"},
	{"A.com", "a.com"}, {"a.com", "A.com"}, {"a*", "a/b/c"}, {"a/*/c", "a/b/c/d"}, {"*/*", "a"},
}

type result struct {
	Err string `json:"err,omitempty"`
	Val string `json:"val,omitempty"`
}

func res(val string, err error) result {
	if err != nil {
		return result{Err: err.Error()}
	}
	return result{Val: val}
}

func literals(file string) []string {
	src, err := os.ReadFile(file)
	if err != nil {
		panic(err)
	}
	fset := token.NewFileSet()
	f := fset.AddFile(file, -1, len(src))
	var s scanner.Scanner
	s.Init(f, src, nil, 0)
	var out []string
	for {
		_, tok, lit := s.Scan()
		if tok == token.EOF {
			return out
		}
		if tok == token.STRING {
			if u, err := strconv.Unquote(lit); err == nil {
				out = append(out, u)
			}
		}
	}
}

func main() {
	seen := map[string]bool{}
	var corpus []string
	add := func(list []string) {
		for _, s := range list {
			if !seen[s] && len(s) < 200 {
				seen[s] = true
				corpus = append(corpus, s)
			}
		}
	}
	add(extra)
	for _, f := range []string{"module/module_test.go", "module/pseudo_test.go", "semver/semver_test.go"} {
		add(literals(xmod + f))
	}

	type strOut struct {
		In              string `json:"in"`
		Raw             string `json:"raw,omitempty"` // hex bytes, when In is not valid UTF-8
		Module          string `json:"module,omitempty"`
		Import          string `json:"import,omitempty"`
		File            string `json:"file,omitempty"`
		Split           []any  `json:"split"`
		EscapePath      result `json:"escapePath"`
		UnescapePath    result `json:"unescapePath"`
		EscapeVersion   result `json:"escapeVersion"`
		UnescapeVersion result `json:"unescapeVersion"`
		Valid           bool   `json:"valid"`
		Canonical       string `json:"canonical,omitempty"`
		CanonicalVer    string `json:"canonicalVersion,omitempty"`
		Major           string `json:"major,omitempty"`
		MajorMinor      string `json:"majorMinor,omitempty"`
		Prerelease      string `json:"prerelease,omitempty"`
		Build           string `json:"build,omitempty"`
		IsPseudo        bool   `json:"isPseudo"`
		IsZeroPseudo    bool   `json:"isZeroPseudo"`
		PseudoBase      result `json:"pseudoBase"`
		PseudoTime      result `json:"pseudoTime"`
		PseudoRev       result `json:"pseudoRev"`
	}
	errStr := func(err error) string {
		if err != nil {
			return err.Error()
		}
		return ""
	}
	var strs []strOut
	var versions, modPaths []string
	for _, s := range corpus {
		o := strOut{In: s}
		if !utf8.ValidString(s) {
			o.Raw = hex.EncodeToString([]byte(s))
		}
		o.Module = errStr(module.CheckPath(s))
		o.Import = errStr(module.CheckImportPath(s))
		o.File = errStr(module.CheckFilePath(s))
		p, m, ok := module.SplitPathVersion(s)
		o.Split = []any{p, m, ok}
		o.EscapePath = res(module.EscapePath(s))
		o.UnescapePath = res(module.UnescapePath(s))
		o.EscapeVersion = res(module.EscapeVersion(s))
		o.UnescapeVersion = res(module.UnescapeVersion(s))
		o.Valid = semver.IsValid(s)
		o.Canonical = semver.Canonical(s)
		o.CanonicalVer = module.CanonicalVersion(s)
		o.Major = semver.Major(s)
		o.MajorMinor = semver.MajorMinor(s)
		o.Prerelease = semver.Prerelease(s)
		o.Build = semver.Build(s)
		o.IsPseudo = module.IsPseudoVersion(s)
		o.IsZeroPseudo = module.IsZeroPseudoVersion(s)
		o.PseudoBase = res(module.PseudoVersionBase(s))
		t, err := module.PseudoVersionTime(s)
		o.PseudoTime = res(t.Format(time.RFC3339), err)
		o.PseudoRev = res(module.PseudoVersionRev(s))
		strs = append(strs, o)
		if strings.HasPrefix(s, "v") && len(s) < 60 {
			versions = append(versions, s)
		}
		if o.Module == "" {
			modPaths = append(modPaths, s)
		}
	}

	// Pairwise semver comparison over the version-looking strings.
	compare := make([][]int, len(versions))
	for i, a := range versions {
		compare[i] = make([]int, len(versions))
		for j, b := range versions {
			compare[i][j] = semver.Compare(a, b)
		}
	}
	sorted := append([]string(nil), versions...)
	semver.Sort(sorted)
	maxes := [][3]string{}
	for i := 0; i+1 < len(versions); i += 3 {
		maxes = append(maxes, [3]string{versions[i], versions[i+1], semver.Max(versions[i], versions[i+1])})
	}

	// module.Check and CheckPathMajor over paths × versions.
	// Each entry is [path, version, error text or ""].
	var checks [][3]string
	checkVersions := []string{"v0.1.0", "v1.0.0", "v1.2", "v2.0.0", "v2.0.0+incompatible", "v3.1.0-pre",
		"v0.0.0-20191109021931-daa7c04131f5", "v1.0.0-20191109021931-daa7c04131f5", "v4.0.0+meta", "bad", "", "v2"}
	for _, p := range append(modPaths, "Example.com/x", "example.com/m/v1", "") {
		for _, v := range checkVersions {
			checks = append(checks, [3]string{p, v, errStr(module.Check(p, v))})
		}
	}
	// Each entry is [pathMajor, version, error text or ""].
	var majors [][3]string
	for _, pm := range []string{"", "/v2", "/v3", ".v0", ".v1", ".v2", ".v1-unstable", ".v2-unstable", "/v1", "v2", "x"} {
		for _, v := range versions {
			majors = append(majors, [3]string{pm, v, errStr(module.CheckPathMajor(v, pm))})
		}
	}

	type globOut struct {
		Globs  string `json:"globs"`
		Target string `json:"target"`
		Match  bool   `json:"match"`
	}
	var globs []globOut
	// JSON (and JavaScript strings) cannot carry invalid UTF-8, so such cases are Go-only.
	validCases := globCases[:0:0]
	for _, g := range globCases {
		if utf8.ValidString(g[0]) && utf8.ValidString(g[1]) {
			validCases = append(validCases, g)
		}
	}
	globCases = validCases
	for _, g := range globCases {
		globs = append(globs, globOut{g[0], g[1], module.MatchPrefixPatterns(g[0], g[1])})
	}
	// path.Match itself, as a cross-check of the glob engine.
	type matchOut struct {
		Pattern string `json:"pattern"`
		Name    string `json:"name"`
		Match   bool   `json:"match"`
		Err     bool   `json:"err"`
	}
	var matches []matchOut
	for _, g := range globCases {
		ok, err := path.Match(g[0], g[1])
		matches = append(matches, matchOut{g[0], g[1], ok, err != nil})
	}

	type pseudoOut struct {
		Major  string `json:"major,omitempty"`
		Older  string `json:"older"`
		TimeMs int64  `json:"timeMs"`
		Rev    string `json:"rev"`
		Out    string `json:"out"`
	}
	times := []time.Time{
		time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC),
		time.Date(2019, 11, 9, 2, 19, 31, 999_000_000, time.UTC),
		time.Date(2019, 11, 9, 2, 19, 31, 0, time.FixedZone("x", -7*3600)),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 500_000_000, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(50, 6, 1, 0, 0, 0, 0, time.UTC),
	}
	var pseudos []pseudoOut
	olders := []string{"", "v0.0.0", "v1.2.3", "v1.2.9", "v1.2.99999999999999999", "v1.2.3-pre", "v1.3.0-pre",
		"v0.0.0--", "v1.0.0+metadata", "v2.0.0+incompatible", "v2.3.0-pre+incompatible", "v1.2", "v1", "bad", "v1.2.3-pre.0"}
	for _, major := range []string{"", "v0", "v1", "v2", "unused"} {
		for _, older := range olders {
			for _, t := range times {
				rev := "daa7c04131f5"
				pseudos = append(pseudos, pseudoOut{major, older, t.UnixMilli(), rev,
					module.PseudoVersion(major, older, t, rev)})
			}
		}
	}

	// module.Sort of a go.sum-like list.
	list := []module.Version{}
	for _, p := range []string{"b.com/x", "a.com/x", "a.com/x/v2", "é.com", "z.com"} {
		for _, v := range []string{"v1.0.0", "v1.0.0/go.mod", "v0.9.0", "v1.0.0-pre", "v1.10.0", "v1.2.0/go.mod", "bad", "v2.0.0+incompatible"} {
			list = append(list, module.Version{Path: p, Version: v})
		}
	}
	sort.Slice(list, func(i, j int) bool { return (i*7919)%len(list) < (j*7919)%len(list) })
	in := append([]module.Version(nil), list...)
	module.Sort(list)

	out := map[string]any{
		"strings": strs, "versions": versions, "compare": compare, "sorted": sorted, "max": maxes,
		"check": checks, "checkPathMajor": majors, "globs": globs, "pathMatch": matches, "pseudo": pseudos,
		"sortIn": in, "sortOut": list,
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		panic(err)
	}
}
