// gen-vectors prints go-vectors.json: fixed answers of golang.org/x/mod/sumdb
// (Debian's v0.7.0) for the unit tests of src/sumdb: the keys and signed notes
// of x/mod's own tests and examples, the go command's sum.golang.org key, and
// hashes, proofs and tiles of a small log built the way a server appends.
//
// Regenerate (Debian packages golang-go and golang-golang-x-mod-dev):
//
//	cd src/sumdb/testdata && GO111MODULE=off GOPATH=/usr/share/gocode \
//	  GOCACHE=/tmp/gocache go run gen-vectors.go > go-vectors.json
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type key struct {
	Key  string `json:"key"`
	Name string `json:"name,omitempty"`
	Hash uint32 `json:"hash,omitempty"`
	Err  string `json:"err,omitempty"`
}

type tileJSON struct {
	H int   `json:"h"`
	L int   `json:"l"`
	N int64 `json:"n"`
	W int   `json:"w"`
}

type hashes []tlog.Hash

func (h hashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		out[i] = h[x]
	}
	return out, nil
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}

func strs(list []tlog.Hash) []string {
	out := []string{}
	for _, h := range list {
		out = append(out, h.String())
	}
	return out
}

func main() {
	out := map[string]interface{}{}

	// Keys: x/mod's note example, client_test.go and the go command's known key.
	vkeys := []string{
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"localhost.localdev/sumdb+00000c67+AcTrnkbUA+TU4heY3hkjiSES/DSQniBqIeQ/YppAUtK6",
		"sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8",
		"PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
		"PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
		"Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
	}
	var vs []key
	for _, k := range vkeys {
		v, err := note.NewVerifier(k)
		if err != nil {
			vs = append(vs, key{Key: k, Err: err.Error()})
			continue
		}
		vs = append(vs, key{k, v.Name(), v.KeyHash(), ""})
	}
	out["verifierKeys"] = vs
	skeys := []string{
		"PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
		"PRIVATE+KEY+localhost.localdev/sumdb+00000c67+AXu6+oaVaOYuQOFrf1V59JK1owcFlJcHwwXHDfDGxSPk",
		"PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
		"PRIVATE+KEYS+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
	}
	var ss []key
	for _, k := range skeys {
		s, err := note.NewSigner(k)
		if err != nil {
			ss = append(ss, key{Key: k, Err: err.Error()})
			continue
		}
		ss = append(ss, key{k, s.Name(), s.KeyHash(), ""})
	}
	out["signerKeys"] = ss

	// GenerateKey with an all-zero seed (as x/mod's example does).
	skey, vkey, err := note.GenerateKey(bytes.NewReader(make([]byte, 32)), "EnochRoot")
	check(err)
	out["generated"] = map[string]string{"name": "EnochRoot", "signerKey": skey, "verifierKey": vkey}

	// Signed notes.
	peter, err := note.NewSigner(skeys[0])
	check(err)
	local, err := note.NewSigner(skeys[1])
	check(err)
	text := "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
	msg, err := note.Sign(&note.Note{Text: text}, peter)
	check(err)
	both, err := note.Sign(&note.Note{Text: text}, peter, local)
	check(err)
	out["signed"] = map[string]string{"text": text, "peter": string(msg), "peterAndLocal": string(both)}

	// A log of 13 records, built with StoredHashes.
	var records []string
	var hs hashes
	for i := 0; i < 13; i++ {
		r := fmt.Sprintf("example.com/m%d v1.0.%d h1:%s\n", i, i, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{byte(i)}, 32)))
		records = append(records, r)
		add, err := tlog.StoredHashes(int64(i), []byte(r), hs)
		check(err)
		hs = append(hs, add...)
	}
	var roots []string
	for i := 0; i <= len(records); i++ {
		h, err := tlog.TreeHash(int64(i), hs)
		check(err)
		roots = append(roots, h.String())
	}
	var recordProofs, treeProofs [][]string
	for n := int64(0); n < 13; n++ {
		p, err := tlog.ProveRecord(13, n, hs)
		check(err)
		recordProofs = append(recordProofs, strs(p))
	}
	for n := int64(1); n <= 13; n++ {
		p, err := tlog.ProveTree(13, n, hs)
		check(err)
		treeProofs = append(treeProofs, strs(p))
	}
	tiles := map[string]string{}
	for _, t := range tlog.NewTiles(2, 0, 13) {
		d, err := tlog.ReadTileData(t, hs)
		check(err)
		tiles[t.Path()] = base64.StdEncoding.EncodeToString(d)
	}
	out["log"] = map[string]interface{}{
		"records": records, "hashes": strs(hs), "roots": roots,
		"recordProofs": recordProofs, "treeProofs": treeProofs, "tiles2": tiles,
	}

	// The signed tree head of that log, by the localhost test key.
	th, err := tlog.TreeHash(13, hs)
	check(err)
	head, err := note.Sign(&note.Note{Text: string(tlog.FormatTree(tlog.Tree{N: 13, Hash: th}))}, local)
	check(err)
	out["treeNote"] = string(head)

	// Stored hash indexes.
	var idx [][3]int64
	for level := 0; level < 4; level++ {
		for n := int64(0); n < 10; n++ {
			idx = append(idx, [3]int64{int64(level), n, tlog.StoredHashIndex(level, n)})
		}
	}
	out["storedHashIndex"] = idx
	var counts []int64
	for n := int64(0); n < 40; n++ {
		counts = append(counts, tlog.StoredHashCount(n))
	}
	out["storedHashCount"] = counts

	// Current x/mod (>= v0.19.0) and RFC 6962 define the empty tree's hash as
	// SHA-256 of nothing; v0.7.0's TreeHash(0) (roots[0] above) is all zeros.
	empty := sha256.Sum256(nil)
	out["sha256Empty"] = base64.StdEncoding.EncodeToString(empty[:])

	out["recordHash"] = map[string]string{
		"":            tlog.RecordHash(nil).String(),
		"hello world": tlog.RecordHash([]byte("hello world")).String(),
	}

	// Tile paths from x/mod's tlog_test.go.
	var paths []map[string]interface{}
	for _, p := range []string{
		"tile/4/0/001", "tile/4/0/001.p/5", "tile/3/5/x123/x456/078", "tile/3/5/x123/x456/078.p/2",
		"tile/1/0/x003/x057/500", "tile/3/5/123/456/078", "tile/3/-1/123/456/078", "tile/1/data/x003/x057/500",
		"tile/8/0/000", "tile/8/0/x001/234.p/17", "tile/8/data/005", "tile/8/2/x001/x234/067.p/1",
	} {
		t, err := tlog.ParseTilePath(p)
		if err != nil {
			paths = append(paths, map[string]interface{}{"path": p, "err": err.Error()})
			continue
		}
		paths = append(paths, map[string]interface{}{"path": p, "tile": tileJSON{t.H, t.L, t.N, t.W}})
	}
	out["tilePaths"] = paths

	var nt []tileJSON
	for _, t := range tlog.NewTiles(2, 5, 23) {
		nt = append(nt, tileJSON{t.H, t.L, t.N, t.W})
	}
	out["newTiles_2_5_23"] = nt

	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	check(enc.Encode(out))
}
