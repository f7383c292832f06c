// Command sumdb-server runs golang.org/x/mod's own checksum-database server
// (sumdb.NewServer over sumdb.NewTestServer, Debian's v0.7.0) on 127.0.0.1,
// so goark's client is tested against a database no code of ours implements.
//
// Build and run (test/helpers/sumdb-server.ts does this):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o BIN ./test/sumdb-server
//	BIN -gosum http://127.0.0.1:PORT/
//
// It prints one JSON line {"url": ..., "verifierKey": ...} and serves, all
// signed with that one key:
//
//	/honest/…     a log whose records come from GET <gosum>?db=honest&path=P&version=V
//	/fork/…       a second log with the same key, records from ?db=fork&… (a fork when they differ)
//	/badtile/…    /honest/ with one bit flipped in every hash tile
//	/badrecord/…  /honest/ with lookup record text changed (the signed note intact)
//
// A gosum answer of 404 means "no such module" (the server answers 404).
// The program exits when its stdin closes.
package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"

	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/note"
)

func main() {
	gosumURL := flag.String("gosum", "", "base URL answering ?db=&path=&version= with go.sum lines")
	flag.Parse()
	skey, vkey, err := note.GenerateKey(rand.Reader, "localhost.goark.test/sumdb")
	if err != nil {
		panic(err)
	}
	gosum := func(db string) func(path, vers string) ([]byte, error) {
		return func(path, vers string) ([]byte, error) {
			q := url.Values{"db": {db}, "path": {path}, "version": {vers}}
			resp, err := http.Get(*gosumURL + "?" + q.Encode())
			if err != nil {
				return nil, err
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				return nil, err
			}
			if resp.StatusCode == http.StatusNotFound {
				return nil, os.ErrNotExist
			}
			if resp.StatusCode != http.StatusOK {
				return nil, fmt.Errorf("gosum callback: %s", resp.Status)
			}
			return body, nil
		}
	}
	honest := sumdb.NewServer(sumdb.NewTestServer(skey, gosum("honest")))
	fork := sumdb.NewServer(sumdb.NewTestServer(skey, gosum("fork")))

	mux := http.NewServeMux()
	mux.Handle("/honest/", http.StripPrefix("/honest", honest))
	mux.Handle("/fork/", http.StripPrefix("/fork", fork))
	mux.Handle("/badtile/", http.StripPrefix("/badtile", rewrite(honest, func(path string, body []byte) []byte {
		if strings.HasPrefix(path, "/tile/") && !strings.Contains(path, "/data/") && len(body) > 0 {
			body[len(body)/2] ^= 1
		}
		return body
	})))
	mux.Handle("/badrecord/", http.StripPrefix("/badrecord", rewrite(honest, func(path string, body []byte) []byte {
		if strings.HasPrefix(path, "/lookup/") {
			// Change the first hash character of the record text (line 2).
			i := bytes.Index(body, []byte(" h1:"))
			if i >= 0 && i+4 < len(body) {
				if body[i+4] == 'A' {
					body[i+4] = 'B'
				} else {
					body[i+4] = 'A'
				}
			}
		}
		return body
	})))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	line, _ := json.Marshal(map[string]string{"url": "http://" + ln.Addr().String(), "verifierKey": vkey})
	fmt.Println(string(line))
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	panic(http.Serve(ln, mux))
}

// rewrite serves h's answer with its body passed through f.
func rewrite(h http.Handler, f func(path string, body []byte) []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		body := rec.Body.Bytes()
		if rec.Code == http.StatusOK {
			body = f(r.URL.Path, body)
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		w.Write(body)
	})
}
