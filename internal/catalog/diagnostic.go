package catalog

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
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
	KindFile           = "file"           // a file pier will not read: a link out of the catalog, not a regular file
	KindLimit          = "limit"          // a file or revision over a size or evaluation limit
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
// A long element is cut to an excerpt: paths are for people to read.
func PathElem(e string) string {
	if isIdent(e) && len(e) <= excerptLen {
		return e
	}
	return strconv.Quote(Excerpt(e))
}

// excerptLen is the most bytes of a file's content a message quotes.
const excerptLen = 60

// Excerpt cuts s, a value taken from a catalog file, to a short excerpt
// for an error message. Messages travel to the status page, logs and
// commit statuses, which anyone with read access sees: a file that is
// not what it claims to be (a link to /etc/passwd, a 50 MB line) must not
// be echoed through them, and a long value helps no one find the error
// anyway. Cuts fall on a rune boundary.
func Excerpt(s string) string {
	if len(s) <= excerptLen {
		return s
	}
	return s[:runeStart(s, excerptLen-3)] + "..."
}

// ExcerptArgs wraps the arguments of a message format so that each is
// printed, with its verb, cut to an Excerpt: for messages whose
// arguments are values from a file (CUE's errors).
func ExcerptArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = excerptArg{a}
	}
	return out
}

type excerptArg struct{ v any }

func (a excerptArg) Format(f fmt.State, verb rune) {
	if s, ok := a.v.(string); ok && verb == 'q' {
		io.WriteString(f, strconv.Quote(Excerpt(s)))
		return
	}
	io.WriteString(f, Excerpt(fmt.Sprintf(fmt.FormatString(f, verb), a.v)))
}

// maxMessage bounds a whole message, whatever it lists.
const maxMessage = 1000

// Shorten cuts, in place, every quoted string longer than an excerpt in
// the messages (an identifier or name from a file, quoted with %q where
// the diagnostic was made) and every message longer than maxMessage. It
// runs where diagnostics leave the loader and the reconciler, so that no
// message quotes more than an excerpt of a file, whichever check wrote
// it.
func (ds Diagnostics) Shorten() {
	for i := range ds {
		ds[i].Message = shortenQuotes(ds[i].Message)
		if len(ds[i].Message) > maxMessage {
			ds[i].Message = ds[i].Message[:runeStart(ds[i].Message, maxMessage-3)] + "..."
		}
	}
}

// shortenQuotes cuts the double-quoted strings of s to excerpts.
func shortenQuotes(s string) string {
	if len(s) <= excerptLen {
		return s
	}
	var b strings.Builder
	for {
		open := strings.IndexByte(s, '"')
		if open < 0 {
			break
		}
		end := closingQuote(s, open+1)
		if end < 0 {
			break
		}
		b.WriteString(s[:open])
		if inner := s[open+1 : end]; len(inner) > excerptLen {
			b.WriteString(`"` + Excerpt(inner) + `"`)
		} else {
			b.WriteString(s[open : end+1])
		}
		s = s[end+1:]
	}
	if b.Len() == 0 {
		return s
	}
	b.WriteString(s)
	return b.String()
}

// closingQuote returns the index of the unescaped '"' that ends a quoted
// string starting at from, or -1.
func closingQuote(s string, from int) int {
	for i := from; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// runeStart moves i back to the start of the rune it falls in.
func runeStart(s string, i int) int {
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return i
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
