// Package yamlcue reads YAML into CUE syntax through CUE's decoder
// (cuelang.org/go/encoding/yaml), for the loader and the config file,
// guarding against two faults of that decoder. It counts only \n as a
// line break, where the YAML parser under it also counts a lone \r: a
// file with one panicked (index out of range on "\r\r0") or got
// positions past the end of its lines. And a panic in a decoder must be
// a parse error of the file, not the end of the daemon.
package yamlcue

import (
	"bytes"
	"fmt"

	"cuelang.org/go/cue/ast"
	cueyaml "cuelang.org/go/encoding/yaml"
)

// Extract parses a YAML file, as cueyaml.Extract does, with each lone \r
// read as the line break YAML takes it for (see NormalizeCR).
func Extract(name string, src []byte) (f *ast.File, err error) {
	defer func() {
		if p := recover(); p != nil {
			f, err = nil, fmt.Errorf("%s: the YAML decoder failed on this file: %v", name, p)
		}
	}()
	return cueyaml.Extract(name, NormalizeCR(src))
}

// NormalizeCR replaces each \r that is not followed by \n with \n. Both
// are a line break to YAML, so the document means the same, and every
// byte keeps its offset: the positions of the result are the file's,
// with lines counted as YAML counts them.
func NormalizeCR(src []byte) []byte {
	i := bytes.IndexByte(src, '\r')
	if i < 0 {
		return src
	}
	out := bytes.Clone(src)
	for ; i < len(out); i++ {
		if out[i] == '\r' && (i+1 == len(out) || out[i+1] != '\n') {
			out[i] = '\n'
		}
	}
	return out
}
