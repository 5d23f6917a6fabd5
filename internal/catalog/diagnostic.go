package catalog

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Pos is a place in a catalog file. Line and Col are 1-based; a zero Line
// means the file as a whole.
type Pos struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

func (p Pos) String() string {
	switch {
	case p.File == "":
		return "-"
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// IsValid reports whether p names a file.
func (p Pos) IsValid() bool { return p.File != "" }

// Diagnostic kinds. They are stable strings: CI annotations, the API and
// metrics label errors with them.
const (
	KindParse          = "parse"          // the file is not valid CUE, JSON or YAML
	KindEval           = "eval"           // CUE evaluation failed (conflict, incomplete value)
	KindShape          = "shape"          // an object does not match pier's schema for its kind
	KindUnknownKey     = "unknown-key"    // a top-level field pier does not know
	KindIdentifier     = "identifier"     // a malformed identifier, or one that disagrees with its key
	KindDuplicate      = "duplicate"      // the same object declared in two places
	KindBlueprint      = "blueprint"      // an entity of a blueprint that does not exist
	KindProperty       = "property"       // an entity property that breaks its blueprint's schema
	KindRelation       = "relation"       // a relation to a missing blueprint or entity
	KindReference      = "reference"      // an action, scorecard or automation naming something missing
	KindDeletionGuard  = "deletion-guard" // the revision deletes too much at once
	KindRuntimeOwned   = "runtime-owned"  // git sets a property that only the API may write
	KindCalculated     = "calculated"     // git sets a property that pier computes
	KindIgnoreFile     = "ignore-file"    // a bad .pierignore line
	KindCatalogSetting = "settings"       // a bad settings block
)

// Diagnostic is one error a catalog author can act on: where it is, which
// object it concerns, and what was expected.
type Diagnostic struct {
	Pos     Pos    `json:"pos"`
	Path    string `json:"path,omitempty"` // object path, e.g. entities.service."user-service".properties.lifecycle
	Kind    string `json:"kind"`
	Message string `json:"message"`
	// Related lists the other places involved, such as the first
	// declaration of a duplicate.
	Related []Pos `json:"related,omitempty"`
}

func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.Pos.String())
	b.WriteString(": ")
	if d.Path != "" {
		b.WriteString(d.Path)
		b.WriteString(": ")
	}
	b.WriteString(d.Message)
	for _, r := range d.Related {
		b.WriteString(" (see ")
		b.WriteString(r.String())
		b.WriteString(")")
	}
	return b.String()
}

// Diagnostics is every problem found in one revision. It implements error
// so a failed load can travel as one value; it is never empty when used as
// an error.
type Diagnostics []Diagnostic

func (ds Diagnostics) Error() string {
	switch len(ds) {
	case 0:
		return "no errors"
	case 1:
		return ds[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d errors:", len(ds))
	for _, d := range ds {
		b.WriteString("\n  ")
		b.WriteString(d.String())
	}
	return b.String()
}

// Sort orders diagnostics by file, line, column and message so reports are
// stable from run to run whatever order the work finished in.
func (ds Diagnostics) Sort() {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.Pos.File != b.Pos.File {
			return a.Pos.File < b.Pos.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Col != b.Pos.Col {
			return a.Pos.Col < b.Pos.Col
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Message < b.Message
	})
}

// Path builds an object path in the form authors see in their files:
// plain identifiers bare, anything else quoted as a CUE string.
func Path(elems ...string) string {
	var b strings.Builder
	for i, e := range elems {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(PathElem(e))
	}
	return b.String()
}

// PathElem quotes one path element when it is not a plain CUE identifier.
func PathElem(e string) string {
	if isIdent(e) {
		return e
	}
	return strconv.Quote(e)
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r == '$' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		case i > 0 && r >= '0' && r <= '9':
		default:
			return false
		}
	}
	// A leading '#' or '_' would make it a definition or hidden field in
	// CUE; those need quotes too, and '#' is already excluded above.
	return !strings.HasPrefix(s, "_")
}
