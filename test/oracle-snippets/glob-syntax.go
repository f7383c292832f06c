// Command glob-syntax reports, for each pattern given as an argument, whether
// Go's path.Match accepts its syntax: one line per pattern, "ok" or "bad".
// goark's config refuses the patterns Go calls malformed (test/config.test.ts).
//
//	GO111MODULE=off go run test/oracle-snippets/glob-syntax.go 'a[b' '*.corp'
package main

import (
	"fmt"
	"os"
	"path"
)

func main() {
	for _, p := range os.Args[1:] {
		// Match validates the whole pattern even when the name does not match.
		if _, err := path.Match(p, ""); err != nil {
			fmt.Println("bad")
		} else {
			fmt.Println("ok")
		}
	}
}
