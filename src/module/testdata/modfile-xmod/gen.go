// Command gen writes ../modfile-xmod.json: for each go.mod input of cases.mjs,
// what golang.org/x/mod/modfile says (Parse and ParseLax with a nil
// VersionFixer, and ModulePath). See cases.mjs for how to run it.
package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"

	"golang.org/x/mod/modfile"
)

type modVersion struct {
	Path    string `json:"path"`
	Version string `json:"version,omitempty"`
}

type module struct {
	Path       string `json:"path"`
	Deprecated string `json:"deprecated,omitempty"`
}

type require struct {
	Path     string `json:"path"`
	Version  string `json:"version"`
	Indirect bool   `json:"indirect"`
}

type replace struct {
	Old modVersion `json:"old"`
	New modVersion `json:"new"`
}

type retract struct {
	Low       string `json:"low"`
	High      string `json:"high"`
	Rationale string `json:"rationale"`
}

type file struct {
	Module  *module      `json:"module,omitempty"`
	Go      *string      `json:"go,omitempty"`
	Require []require    `json:"require"`
	Exclude []modVersion `json:"exclude"`
	Replace []replace    `json:"replace"`
	Retract []retract    `json:"retract"`
}

type failure struct {
	Err string `json:"err"`
}

type result struct {
	Input      string      `json:"input"`
	Strict     interface{} `json:"strict"`
	Lax        interface{} `json:"lax"`
	ModulePath string      `json:"modulePath"`
}

func convert(f *modfile.File, err error) interface{} {
	if err != nil {
		return failure{err.Error()}
	}
	o := file{Require: []require{}, Exclude: []modVersion{}, Replace: []replace{}, Retract: []retract{}}
	if f.Module != nil {
		o.Module = &module{f.Module.Mod.Path, f.Module.Deprecated}
	}
	if f.Go != nil {
		g := f.Go.Version
		o.Go = &g
	}
	for _, r := range f.Require {
		o.Require = append(o.Require, require{r.Mod.Path, r.Mod.Version, r.Indirect})
	}
	for _, x := range f.Exclude {
		o.Exclude = append(o.Exclude, modVersion{x.Mod.Path, x.Mod.Version})
	}
	for _, r := range f.Replace {
		o.Replace = append(o.Replace, replace{modVersion{r.Old.Path, r.Old.Version}, modVersion{r.New.Path, r.New.Version}})
	}
	for _, r := range f.Retract {
		o.Retract = append(o.Retract, retract{r.Low, r.High, r.Rationale})
	}
	return o
}

func main() {
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	var cases map[string]string
	if err := json.Unmarshal(data, &cases); err != nil {
		panic(err)
	}
	results := map[string]result{}
	for name, text := range cases {
		b := []byte(text)
		if strings.HasPrefix(text, "b64:") {
			if b, err = base64.StdEncoding.DecodeString(text[4:]); err != nil {
				panic(err)
			}
		}
		results[name] = result{
			Input:      text,
			Strict:     convert(modfile.Parse("go.mod", b, nil)),
			Lax:        convert(modfile.ParseLax("go.mod", b, nil)),
			ModulePath: modfile.ModulePath(b),
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]interface{}{
		"about": "go.mod inputs (testdata/modfile-xmod/cases.mjs) and what golang.org/x/mod v0.7.0 said about them: modfile.Parse and ParseLax with a nil VersionFixer (err is the ErrorList text) and modfile.ModulePath. Written by testdata/modfile-xmod/gen.go. An input starting with b64: is base64 bytes.",
		"cases": results,
	}); err != nil {
		panic(err)
	}
}
