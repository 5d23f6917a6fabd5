package entityedit

import (
	"bytes"
	"encoding/json"
	"errors"
)

// JSON files are edited through CUE's parser (see cue.go), which also
// accepts what JSON does not — comments, trailing commas, unquoted keys.
// checkJSON holds a .json file to JSON first, so that pier never edits
// (nor writes) a file its loader would reject, and reports where
// encoding/json stopped.
func checkJSON(file string, src []byte) error {
	var x any
	err := json.Unmarshal(src, &x)
	if err == nil {
		return nil
	}
	off := len(src)
	if se := (*json.SyntaxError)(nil); errors.As(err, &se) {
		off = int(se.Offset) - 1
	}
	line, col := text(src).lineCol(off)
	return errorf(file, line, col, "invalid JSON: %v", err)
}

// jsonString quotes s as encoding/json does, but leaves <, > and & alone
// as a person would.
func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}
