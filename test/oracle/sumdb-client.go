// Op for checksum-database material laid out as a proxy serves it
// (<dir>/lookup/…, <dir>/tile/…): golang.org/x/mod/sumdb's own Client, the
// code the go command vendors, reads it and verifies every lookup (signed
// notes, inclusion and consistency proofs through the tiles).
package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb"
)

// dirOps serves ReadRemote from a directory; the client's remembered head
// ("<name>/latest" in its config) starts as given; nothing is cached.
type dirOps struct {
	dir    string
	key    string
	mu     sync.Mutex
	latest []byte
	errs   []string
}

func (o *dirOps) ReadRemote(path string) ([]byte, error) {
	if strings.Contains(path, "..") {
		return nil, errors.New("bad path")
	}
	return os.ReadFile(filepath.Join(o.dir, filepath.FromSlash(path)))
}

func (o *dirOps) ReadConfig(file string) ([]byte, error) {
	if file == "key" {
		return []byte(o.key), nil
	}
	if strings.HasSuffix(file, "/latest") {
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.latest, nil
	}
	return nil, os.ErrNotExist
}

func (o *dirOps) WriteConfig(file string, old, new []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if string(o.latest) != string(old) {
		return sumdb.ErrWriteConflict
	}
	o.latest = new
	return nil
}

func (o *dirOps) ReadCache(file string) ([]byte, error) { return nil, os.ErrNotExist }
func (o *dirOps) WriteCache(file string, data []byte)   {}
func (o *dirOps) Log(msg string)                        {}
func (o *dirOps) SecurityError(msg string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.errs = append(o.errs, msg)
}

type lookupJSON struct {
	Lines []string `json:"lines,omitempty"`
	Err   *string  `json:"err,omitempty"`
}

func init() {
	// args: dir (a database's root as a proxy serves it), verifier key,
	// the head the client remembers ("" for none), ["path@version", …].
	// One client looks them all up in order; the answer has each lookup's
	// lines or error, the head the client remembers afterwards, and any
	// security errors it reported.
	extraOps["sumdb.ClientLookups"] = func(a args) answer {
		ops := &dirOps{dir: a.str(0), key: a.str(1), latest: []byte(a.str(2))}
		var ids []string
		if err := json.Unmarshal(a[3], &ids); err != nil {
			panic(err)
		}
		c := sumdb.NewClient(ops)
		out := []lookupJSON{}
		for _, id := range ids {
			at := strings.LastIndex(id, "@")
			lines, err := c.Lookup(id[:at], id[at+1:])
			if err != nil {
				out = append(out, lookupJSON{Err: errText(err)})
			} else {
				out = append(out, lookupJSON{Lines: lines})
			}
		}
		return answer{V: map[string]interface{}{"lookups": out, "latest": string(ops.latest), "securityErrors": ops.errs}}
	}
}
