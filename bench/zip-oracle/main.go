// Command zip-oracle is the Go side of `npm run bench:zip`: it builds the
// module zip of a directory with golang.org/x/mod/zip.CreateFromDir, then
// takes its h1 with dirhash.HashZip, as the go command does, and prints the
// time taken, the hash and its peak RSS as one JSON line.
//
// Built in GOPATH mode against Debian's golang-golang-x-mod-dev.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: zip-oracle DIR MODULE VERSION OUT.zip")
		os.Exit(2)
	}
	dir, path, version, out := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	start := time.Now()
	f, err := os.Create(out)
	if err != nil {
		fail(err)
	}
	if err := modzip.CreateFromDir(f, module.Version{Path: path, Version: version}, dir); err != nil {
		fail(err)
	}
	if err := f.Close(); err != nil {
		fail(err)
	}
	h1, err := dirhash.HashZip(out, dirhash.Hash1)
	if err != nil {
		fail(err)
	}
	elapsed := time.Since(start)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	json.NewEncoder(os.Stdout).Encode(map[string]interface{}{
		"ms":        float64(elapsed.Microseconds()) / 1000,
		"h1":        h1,
		"maxRssKiB": ru.Maxrss,
	})
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "zip-oracle:", err)
	os.Exit(1)
}
