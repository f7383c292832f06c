// Ops for the checksum database: golang.org/x/mod/sumdb/note and sumdb/tlog
// (Debian's v0.7.0). Hashes and binary data travel as base64 strings; tiles
// as {"h","l","n","w"}. A log is given as its list of record texts and built
// here with StoredHashes, the way a server appends.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type keyJSON struct {
	Name string `json:"name"`
	Hash uint32 `json:"hash"`
}

type sigJSON struct {
	Name   string `json:"name"`
	Hash   uint32 `json:"hash"`
	Base64 string `json:"base64"`
}

type noteJSON struct {
	Text           string    `json:"text"`
	Sigs           []sigJSON `json:"sigs"`
	UnverifiedSigs []sigJSON `json:"unverifiedSigs"`
}

type tileJSON struct {
	H int   `json:"h"`
	L int   `json:"l"`
	N int64 `json:"n"`
	W int   `json:"w"`
}

func sigsToJSON(list []note.Signature) []sigJSON {
	out := []sigJSON{}
	for _, s := range list {
		out = append(out, sigJSON{s.Name, s.Hash, s.Base64})
	}
	return out
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func mustHash(s string) tlog.Hash {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != tlog.HashSize {
		panic(fmt.Sprintf("bad hash argument %q", s))
	}
	var h tlog.Hash
	copy(h[:], b)
	return h
}

func mustBytes(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(fmt.Sprintf("bad base64 argument %q", s))
	}
	return b
}

func hashesJSON(list []tlog.Hash) []string {
	out := []string{}
	for _, h := range list {
		out = append(out, h.String())
	}
	return out
}

func (a args) hashes(i int) []tlog.Hash {
	var out []tlog.Hash
	for _, s := range a.strs(i) {
		out = append(out, mustHash(s))
	}
	return out
}

func (a args) tile(i int) tlog.Tile {
	return tlog.Tile{H: int(a.num(i)), L: int(a.num(i + 1)), N: a.num(i + 2), W: int(a.num(i + 3))}
}

func tileToJSON(t tlog.Tile) tileJSON { return tileJSON{t.H, t.L, t.N, t.W} }

// hashStore is a log's stored hashes, as a server keeps them.
type hashStore []tlog.Hash

func (h hashStore) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(h)) {
			return nil, fmt.Errorf("stored hash %d does not exist", x)
		}
		out[i] = h[x]
	}
	return out, nil
}

// buildLog appends every record and returns the stored hashes.
func buildLog(records []string) hashStore {
	var hs hashStore
	for i, r := range records {
		add, err := tlog.StoredHashes(int64(i), []byte(r), hs)
		if err != nil {
			panic(err)
		}
		hs = append(hs, add...)
	}
	return hs
}

// tileServer serves tiles computed from a log, with some replaced (tampering).
type tileServer struct {
	h      int
	hashes hashStore
	tamper map[string][]byte
}

func (s *tileServer) Height() int { return s.h }

func (s *tileServer) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		if d, ok := s.tamper[t.Path()]; ok {
			out[i] = d
			continue
		}
		d, err := tlog.ReadTileData(t, s.hashes)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

func (s *tileServer) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

func init() {
	ops := map[string]func(args) answer{
		// note
		"note.NewVerifier": func(a args) answer {
			v, err := note.NewVerifier(a.str(0))
			if err != nil {
				return answer{Err: errText(err)}
			}
			return answer{V: keyJSON{v.Name(), v.KeyHash()}}
		},
		"note.NewSigner": func(a args) answer {
			s, err := note.NewSigner(a.str(0))
			if err != nil {
				return answer{Err: errText(err)}
			}
			return answer{V: keyJSON{s.Name(), s.KeyHash()}}
		},
		// args: name, 32-byte seed (the "random" bytes GenerateKey reads)
		"note.GenerateKey": func(a args) answer {
			skey, vkey, err := note.GenerateKey(bytes.NewReader([]byte(a.str(1))), a.str(0))
			if err != nil {
				return answer{Err: errText(err)}
			}
			return answer{V: map[string]string{"signerKey": skey, "verifierKey": vkey}}
		},
		"note.NewEd25519VerifierKey": func(a args) answer {
			return result(note.NewEd25519VerifierKey(a.str(0), []byte(a.str(1))))
		},
		// args: text, signer keys, existing sigs [[name, hash, base64]], existing unverified sigs
		"note.Sign": func(a args) answer {
			n := &note.Note{Text: a.str(0)}
			var signers []note.Signer
			for _, k := range a.strs(1) {
				s, err := note.NewSigner(k)
				if err != nil {
					panic(fmt.Sprintf("bad signer key %q: %v", k, err))
				}
				signers = append(signers, s)
			}
			for j, dst := range []*[]note.Signature{&n.Sigs, &n.UnverifiedSigs} {
				if len(a) <= 2+j {
					break
				}
				var list [][]json.RawMessage
				if err := json.Unmarshal(a[2+j], &list); err != nil {
					panic(err)
				}
				for _, raw := range list {
					s := args(raw)
					*dst = append(*dst, note.Signature{Name: s.str(0), Hash: uint32(s.num(1)), Base64: s.str(2)})
				}
			}
			msg, err := note.Sign(n, signers...)
			if err != nil {
				return answer{Err: errText(err)}
			}
			return answer{V: string(msg)}
		},
		// args: message, verifier keys (a duplicate key makes the list ambiguous)
		"note.Open": func(a args) answer {
			var vs []note.Verifier
			for _, k := range a.strs(1) {
				v, err := note.NewVerifier(k)
				if err != nil {
					panic(fmt.Sprintf("bad verifier key %q: %v", k, err))
				}
				vs = append(vs, v)
			}
			n, err := note.Open([]byte(a.str(0)), note.VerifierList(vs...))
			if err != nil {
				return answer{Err: errText(err)}
			}
			return answer{V: noteJSON{n.Text, sigsToJSON(n.Sigs), sigsToJSON(n.UnverifiedSigs)}}
		},

		// tlog: hashes and indexes
		"tlog.RecordHash": func(a args) answer { return answer{V: tlog.RecordHash([]byte(a.str(0))).String()} },
		"tlog.NodeHash": func(a args) answer {
			return answer{V: tlog.NodeHash(mustHash(a.str(0)), mustHash(a.str(1))).String()}
		},
		"tlog.ParseHash": func(a args) answer {
			h, err := tlog.ParseHash(a.str(0))
			if err != nil {
				return answer{Err: errText(err)}
			}
			return answer{V: h.String()}
		},
		"tlog.StoredHashIndex": func(a args) answer {
			return answer{V: tlog.StoredHashIndex(int(a.num(0)), a.num(1))}
		},
		"tlog.SplitStoredHashIndex": func(a args) answer {
			l, n := tlog.SplitStoredHashIndex(a.num(0))
			return answer{V: map[string]int64{"level": int64(l), "n": n}}
		},
		"tlog.StoredHashCount": func(a args) answer { return answer{V: tlog.StoredHashCount(a.num(0))} },
		// args: records → the stored hashes and TreeHash(i) for i = 0..len(records)
		"tlog.Build": func(a args) answer {
			records := a.strs(0)
			hs := buildLog(records)
			roots := []string{}
			for i := 0; i <= len(records); i++ {
				h, err := tlog.TreeHash(int64(i), hs)
				if err != nil {
					panic(err)
				}
				roots = append(roots, h.String())
			}
			return answer{V: map[string]interface{}{"hashes": hashesJSON(hs), "roots": roots}}
		},
		// args: records, t, n
		"tlog.ProveRecord": func(a args) answer {
			p, err := tlog.ProveRecord(a.num(1), a.num(2), buildLog(a.strs(0)))
			if err != nil {
				return answer{Err: errText(err)}
			}
			return answer{V: hashesJSON(p)}
		},
		// args: proof, t, tree hash, n, record hash
		"tlog.CheckRecord": func(a args) answer {
			return okOrErr(tlog.CheckRecord(a.hashes(0), a.num(1), mustHash(a.str(2)), a.num(3), mustHash(a.str(4))))
		},
		"tlog.ProveTree": func(a args) answer {
			p, err := tlog.ProveTree(a.num(1), a.num(2), buildLog(a.strs(0)))
			if err != nil {
				return answer{Err: errText(err)}
			}
			return answer{V: hashesJSON(p)}
		},
		"tlog.CheckTree": func(a args) answer {
			return okOrErr(tlog.CheckTree(a.hashes(0), a.num(1), mustHash(a.str(2)), a.num(3), mustHash(a.str(4))))
		},

		// tlog: notes and records
		"tlog.FormatTree": func(a args) answer {
			return answer{V: string(tlog.FormatTree(tlog.Tree{N: a.num(0), Hash: mustHash(a.str(1))}))}
		},
		"tlog.ParseTree": func(a args) answer {
			t, err := tlog.ParseTree([]byte(a.str(0)))
			if err != nil {
				return answer{Err: errText(err)}
			}
			return answer{V: map[string]interface{}{"n": t.N, "hash": t.Hash.String()}}
		},
		"tlog.FormatRecord": func(a args) answer {
			msg, err := tlog.FormatRecord(a.num(0), []byte(a.str(1)))
			if err != nil {
				return answer{Err: errText(err)}
			}
			return answer{V: b64(msg)}
		},
		"tlog.ParseRecord": func(a args) answer {
			id, text, rest, err := tlog.ParseRecord([]byte(a.str(0)))
			if err != nil {
				return answer{Err: errText(err)}
			}
			return answer{V: map[string]interface{}{"id": id, "text": b64(text), "rest": b64(rest)}}
		},

		// tlog: tiles
		"tlog.TilePath": func(a args) answer { return answer{V: a.tile(0).Path()} },
		"tlog.ParseTilePath": func(a args) answer {
			t, err := tlog.ParseTilePath(a.str(0))
			if err != nil {
				return answer{Err: errText(err)}
			}
			return answer{V: tileToJSON(t)}
		},
		"tlog.TileForIndex": func(a args) answer {
			return answer{V: tileToJSON(tlog.TileForIndex(int(a.num(0)), a.num(1)))}
		},
		"tlog.NewTiles": func(a args) answer {
			out := []tileJSON{}
			for _, t := range tlog.NewTiles(int(a.num(0)), a.num(1), a.num(2)) {
				out = append(out, tileToJSON(t))
			}
			return answer{V: out}
		},
		// args: records, h, l, n, w
		"tlog.ReadTileData": func(a args) answer {
			d, err := tlog.ReadTileData(a.tile(1), buildLog(a.strs(0)))
			if err != nil {
				return answer{Err: errText(err)}
			}
			return answer{V: b64(d)}
		},
		// args: h, l, n, w, data (base64), index
		"tlog.HashFromTile": func(a args) answer {
			h, err := tlog.HashFromTile(a.tile(0), mustBytes(a.str(4)), a.num(5))
			if err != nil {
				return answer{Err: errText(err)}
			}
			return answer{V: h.String()}
		},
		// args: records, tile height, tree size, indexes, tampered tiles
		// [[path, base64 data]], tree hash override ("" = the true one)
		"tlog.TileHashReader": func(a args) answer {
			hs := buildLog(a.strs(0))
			size := a.num(2)
			th, err := tlog.TreeHash(size, hs)
			if err != nil {
				panic(err)
			}
			if o := a.str(5); o != "" {
				th = mustHash(o)
			}
			srv := &tileServer{h: int(a.num(1)), hashes: hs, tamper: map[string][]byte{}}
			var tamper [][]string
			if err := json.Unmarshal(a[4], &tamper); err != nil {
				panic(err)
			}
			for _, t := range tamper {
				srv.tamper[t[0]] = mustBytes(t[1])
			}
			var indexes []int64
			if err := json.Unmarshal(a[3], &indexes); err != nil {
				panic(err)
			}
			r := tlog.TileHashReader(tlog.Tree{N: size, Hash: th}, srv)
			got, err := r.ReadHashes(indexes)
			if err != nil {
				return answer{Err: errText(err)}
			}
			return answer{V: hashesJSON(got)}
		},
	}
	for name, f := range ops {
		extraOps[name] = f
	}
}
